"""Moving journaled tracking requests into the warehouse in micro-batches.

The loader reads the journal from its cursor, re-checks each request exactly as the API did,
maps the messages to warehouse rows, writes them in one warehouse transaction, and only then
advances its cursor. A crash between the two replays the batch, which changes nothing:
events are deduplicated on message_id, orders and items are upserted by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lifetide.collect.activity import RecentActivity
from lifetide.collect.ecommerce import Rows, map_messages
from lifetide.collect.intake import inflate
from lifetide.collect.internal import trusted_profile
from lifetide.collect.journal import Entry, Journal
from lifetide.collect.messages import BadRequest, check_batch, check_single, parse_body
from lifetide.identity.live import LiveIdentity
from lifetide.imports.casting import quote
from lifetide.imports.staging import TYPED
from lifetide.imports.writer import write
from lifetide.measure.tables import TOUCHES, TOUCHES_SCHEMA, append_new
from lifetide.measure.touches import touch_row
from lifetide.warehouse.arrow import arrow_schema
from lifetide.warehouse.connection import Warehouse
from lifetide.warehouse.schema import CUSTOMERS, EVENTS, ORDER_ITEMS, ORDERS, Table

CURSOR = "warehouse"
_TOUCHES_ARROW = TOUCHES_SCHEMA.to_pyarrow()
_CUSTOMER_TRAITS = ("email", "phone", "first_name", "last_name")


@dataclass(frozen=True)
class Loaded:
    """What one micro-batch did."""

    requests: int
    messages: int
    events_inserted: int
    orders: int
    last_seq: int


class WarehouseLoader:
    """Follows the journal and writes what it finds into the warehouse."""

    def __init__(
        self,
        journal: Journal,
        warehouse: Warehouse,
        live: LiveIdentity | None = None,
        activity: RecentActivity | None = None,
    ) -> None:
        self._journal = journal
        self._warehouse = warehouse
        self._live = live
        self._activity = activity

    def load_once(self, max_requests: int = 2000) -> Loaded:
        """Load up to `max_requests` journaled requests; nothing to do gives zeros."""
        after = self._journal.cursor(CURSOR)
        entries = self._journal.read(after, max_requests)
        if not entries:
            return Loaded(0, 0, 0, 0, after)
        accepted = [(entry, m) for entry in entries for m in accepted_messages(entry)]
        messages = [m for _, m in accepted]
        rows = map_messages(messages)
        touches = [
            touch
            for entry, m in accepted
            if (touch := touch_row(m, trusted_profile(entry, m))) is not None
        ]
        con = self._warehouse.duckdb
        con.execute("BEGIN TRANSACTION")
        try:
            _upsert_customers(con, rows.customers)
            orders = _write(con, ORDERS, _last_by(rows.orders, ("order_id",)))
            _write(con, ORDER_ITEMS, _last_by(rows.order_items, ("order_id", "line_number")))
            events = _first_by(rows.events, ("message_id",))
            inserted = _write(con, EVENTS, events)
            if touches:
                # A re-sent event is one touch, like its one event.
                unique = _first_by(touches, ("message_id",))
                data = pa.Table.from_pylist(unique, schema=_TOUCHES_ARROW)
                append_new(con, TOUCHES, data, ("message_id",))
            _apply_refunds(con, rows)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if self._live is not None:
            # After the warehouse commit and before the cursor moves: a failure replays the
            # batch, and both steps are idempotent.
            self._live.apply(messages)
        if self._activity is not None:
            # Also idempotent (kept by message id): a replayed batch adds nothing.
            self._activity.record(events)
        last = entries[-1].seq
        self._journal.advance(CURSOR, last)
        return Loaded(len(entries), len(messages), inserted, orders, last)

    def load_all(self, max_requests: int = 2000) -> int:
        """Load until the journal is caught up; how many messages were loaded."""
        total = 0
        while (loaded := self.load_once(max_requests)).requests:
            total += loaded.messages
        return total


def accepted_messages(entry: Entry) -> list[dict[str, Any]]:
    """The messages of a journaled request that the API accepted, normalized."""
    try:
        payload = parse_body(inflate(entry.body, entry.encoding))
        seed = f"{entry.seq}"
        checked = (
            check_batch(payload, entry.received_at, seed)
            if entry.call_type is None
            else check_single(payload, entry.call_type, entry.received_at, seed)
        )
    except BadRequest:
        # The API journals only requests it accepted, so this is a damaged entry.
        return []
    return checked.accepted


def _first_by(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(tuple(row[k] for k in key), row)
    return list(seen.values())


def _last_by(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    return list({tuple(row[k] for k in key): row for row in rows}.values())


def _write(con: Any, table: Table, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    # from_pylist takes the schema's columns by name and fills missing ones with null.
    data = pa.Table.from_pylist(rows, schema=arrow_schema(table))
    con.register(TYPED, data)
    try:
        return write(con, table, data.num_rows).inserted
    finally:
        con.unregister(TYPED)


def _upsert_customers(con: Any, rows: list[dict[str, Any]]) -> None:
    """Customer records from identify calls: later non-empty traits win, empty ones keep."""
    if not rows:
        return
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        current = merged.setdefault(row["customer_id"], dict(row))
        current.update({k: v for k, v in row.items() if v is not None and k != "created_at"})
    schema = arrow_schema(CUSTOMERS)
    defaults = {"accepts_email_marketing": False, "accepts_sms_marketing": False}
    data = pa.Table.from_pylist(
        [{c: row.get(c, defaults.get(c)) for c in schema.names} for row in merged.values()],
        schema=schema,
    )
    con.register("__lifetide_identified", data)
    try:
        sets = ", ".join(
            f"{quote(c)} = coalesce(i.{quote(c)}, c.{quote(c)})" for c in _CUSTOMER_TRAITS
        )
        con.execute(
            f"UPDATE customers c SET {sets}, updated_at = greatest(c.updated_at, i.updated_at) "
            f"FROM __lifetide_identified i WHERE c.customer_id = i.customer_id"
        )
        columns = ", ".join(quote(c) for c in schema.names)
        con.execute(
            f"INSERT INTO customers ({columns}) SELECT {columns} FROM __lifetide_identified i "
            f"WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = i.customer_id)"
        )
    finally:
        con.unregister("__lifetide_identified")


def _apply_refunds(con: Any, rows: Rows) -> None:
    for order_id, products, when in rows.refunds:
        if products:
            marks = ", ".join("?" for _ in products)
            con.execute(
                f"UPDATE order_items SET returned = true, returned_at = ? "
                f"WHERE order_id = ? AND NOT returned AND product_id IN ({marks})",
                [when, order_id, *products],
            )
        else:
            con.execute(
                "UPDATE order_items SET returned = true, returned_at = ? "
                "WHERE order_id = ? AND NOT returned",
                [when, order_id],
            )
        con.execute(
            "UPDATE orders SET status = CASE WHEN (SELECT bool_and(returned) FROM order_items "
            "WHERE order_id = ?) THEN 'returned' ELSE 'partially_returned' END "
            "WHERE order_id = ?",
            [order_id, order_id],
        )
