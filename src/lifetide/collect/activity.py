"""Recent shopping activity by owner: the cart and view events messages are personalized with.

A cart-abandonment e-mail needs its cart's lines, a browse-abandonment e-mail the products
just viewed. Found in the warehouse, each batch of 200 messages scanned every event (DuckDB
cannot look a list of owners up by index): 1.1 ms of CPU per e-mail at 2.5 million events,
and growing with every event ever tracked. So the operational database keeps a copy of the
`Product Added`, `Product Removed` and `Product Viewed` events of the last
`activity_retention_days` (`shopper_activity`), looked up by user id or device behind a
B-tree index.

It is filled where events enter the warehouse: the journal loader records each micro-batch
as it loads it, and an events import copies the warehouse's window afterwards
(`copy_from`, also `lifetide refresh-activity` for events loaded any other way). Rows are
keyed by message id, so a replayed batch or a second copy changes nothing. `expire` drops
what has aged out of the window; reads never look past it either, so whether expiry has run
yet does not change what a message shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock, aware_utc, naive_utc
from lifetide.messaging.activity import PRODUCT_ADDED, PRODUCT_REMOVED, PRODUCT_VIEWED
from lifetide.ops.database import among, insert_for, transaction
from lifetide.ops.models import ShopperActivity
from lifetide.warehouse.connection import Warehouse

KINDS = (PRODUCT_ADDED, PRODUCT_REMOVED, PRODUCT_VIEWED)
# Rows a statement inserts: large enough to amortize a round trip, small enough for SQLite's
# limit on bound parameters (insertmanyvalues splits it further where needed).
_CHUNK = 5_000
# A copy that adds this many rows refreshes the planner's statistics.
_ANALYZE_FROM = 10_000
# From this many rows, PostgreSQL is given them by COPY (see _copy_postgres).
_COPY_FROM = 2_000
# The columns a kept event is written with.
_COLUMNS = (
    "message_id",
    "user_id",
    "anonymous_id",
    "event",
    "product_id",
    "cart_id",
    "quantity",
    "name",
    "category",
    "brand",
    "price",
    "at",
)
# What a read gives per event: all but the message id.
READ_COLUMNS = tuple(c for c in _COLUMNS if c != "message_id")
_TABLE = ShopperActivity.__table__


class RecentActivity:
    """The operational database's window of recent cart and view events (see the module)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, days: int) -> None:
        if days < 1:
            raise ValueError(f"activity is kept for at least a day, not {days}")
        self._sessions = sessions
        self._clock = clock
        self._window = dt.timedelta(days=days)

    def since(self, until: dt.datetime) -> dt.datetime:
        """The start of the window that ends at `until` (aware UTC)."""
        return aware_utc(until) - self._window

    def record(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Keep the cart and view events among warehouse `events` rows; how many were new.

        Rows as the loader writes them to the warehouse (`collect.ecommerce.event_row`):
        events of other kinds, without a product, or older than the window are left out.
        """
        start = self.since(self._clock.now())
        rows = [
            row
            for event in events
            if (row := _from_event(event)) is not None and row["at"] >= start
        ]
        return self._insert(rows)

    def copy_from(self, warehouse: Warehouse, since: dt.datetime | None = None) -> int:
        """Copy the warehouse's cart and view events from `since` (default: the window's start).

        For events that reached the warehouse without the journal loader (file imports,
        another pipeline); those already kept are skipped. Returns how many were new.
        """
        start = self.since(self._clock.now())
        if since is not None:
            start = max(start, aware_utc(since))
        backend = warehouse.thread_backend()
        if "events" not in backend.list_tables():
            return 0
        events = backend.table("events")
        query = events.filter(
            events.event.isin(KINDS),
            events.product_id.notnull(),
            events.timestamp >= naive_utc(start),
        ).select(
            *(c for c in _COLUMNS if c not in ("name", "at")),
            name=events.properties["name"].str,
            at=events.timestamp,
        )
        added = 0
        for batch in query.to_pyarrow_batches(chunk_size=_CHUNK):
            rows = batch.to_pylist()
            for row in rows:
                row["at"] = aware_utc(row["at"])
            added += self._insert(rows)
        if added >= _ANALYZE_FROM:
            # Fresh statistics at once, not at autovacuum's leisure: a plan made on the old
            # ones (an empty table) can read every row for each batch of messages.
            with self._sessions() as session:
                session.execute(text("ANALYZE shopper_activity"))
                session.commit()
        return added

    def empty(self) -> bool:
        """Whether nothing is kept (a new or upgraded database, or nothing recent)."""
        with self._sessions() as session:
            return session.execute(select(ShopperActivity.id).limit(1)).first() is None

    def expire(self) -> int:
        """Delete what has aged out of the window; how many rows."""
        start = self.since(self._clock.now())
        with transaction(self._sessions) as session:
            result = session.execute(delete(ShopperActivity).where(ShopperActivity.at < start))
        return int(getattr(result, "rowcount", 0) or 0)

    def read(
        self,
        users: Sequence[str],
        devices: Sequence[str],
        carts: Sequence[str],
        until: dt.datetime,
    ) -> list[dict[str, Any]]:
        """The window's views and `carts`' events up to `until`, as dicts of READ_COLUMNS.

        Those of these user ids, and of these devices for events no one was signed in for.
        """
        if not users and not devices:
            return []
        end = aware_utc(until)
        start = self.since(end)
        # Core columns and plain tuples: the ORM's result handling and a mapping per row
        # were most of the time a batch of messages spent here.
        columns = [_TABLE.c[c] for c in READ_COLUMNS]
        found: list[dict[str, Any]] = []
        with self._sessions() as session:
            connection = session.connection()
            kinds = [_TABLE.c.event == PRODUCT_VIEWED]
            if carts:
                kinds.append(among(connection, _TABLE.c.cart_id, carts))
            for who in _owners(connection, users, devices):
                statement = select(*columns).where(
                    who, _TABLE.c.at > start, _TABLE.c.at <= end, or_(*kinds)
                )
                rows = connection.execute(statement)
                found += [dict(zip(READ_COLUMNS, row, strict=True)) for row in rows]
        for row in found:
            row["at"] = naive_utc(aware_utc(row["at"]))
        return found

    def _insert(self, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        with transaction(self._sessions) as session:
            connection = session.connection()
            postgres = connection.dialect.name == "postgresql"
            if postgres and len(rows) >= _COPY_FROM:
                return _copy_postgres(connection, rows)
            # Core, not the ORM's bulk insert: a third of the time for a large copy.
            table = ShopperActivity.__table__
            statement = insert_for(session)(table).on_conflict_do_nothing(
                index_elements=["message_id"]
            )
            if postgres:
                # psycopg's executemany does not sum rowcount; RETURNING says what was new.
                statement = statement.returning(table.c.id)
            added = 0
            for chunk in _chunks(rows, _CHUNK):
                result = connection.execute(statement, chunk)
                added += len(result.all()) if postgres else max(result.rowcount, 0)
            return added


def _copy_postgres(connection: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert `rows` through COPY into a temporary table, skipping message ids already kept.

    Ten times the rows a second of an INSERT per row for a copy of millions of events.
    """
    columns = ", ".join(_COLUMNS)
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE _lifetide_activity ON COMMIT DROP AS "
            f"SELECT {columns} FROM shopper_activity WITH NO DATA"
        )
        with cursor.copy(f"COPY _lifetide_activity ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in _COLUMNS))
        cursor.execute(
            f"INSERT INTO shopper_activity ({columns}) SELECT {columns} FROM _lifetide_activity "
            "ON CONFLICT (message_id) DO NOTHING"
        )
        added: int = cursor.rowcount
    return max(added, 0)


def _owners(connection: Connection, users: Sequence[str], devices: Sequence[str]) -> Iterator[Any]:
    # Two lookups, each on its own index: an event is its signed-in user's, a device's only
    # when no one was signed in (see messaging.activity.cart_and_views).
    if users:
        yield among(connection, _TABLE.c.user_id, users)
    if devices:
        yield _TABLE.c.user_id.is_(None) & among(connection, _TABLE.c.anonymous_id, devices)


def _from_event(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The `shopper_activity` row of a warehouse event row, or None for other events."""
    if event.get("event") not in KINDS or event.get("product_id") is None:
        return None
    properties = event.get("properties")
    name = None
    if properties:
        found = orjson.loads(properties) if isinstance(properties, str | bytes) else properties
        if isinstance(found, dict) and isinstance(found.get("name"), str):
            name = found["name"]
    return {
        "message_id": event["message_id"],
        "user_id": event.get("user_id"),
        "anonymous_id": event.get("anonymous_id"),
        "event": event["event"],
        "product_id": event["product_id"],
        "cart_id": event.get("cart_id"),
        "quantity": event.get("quantity"),
        "name": name,
        "category": event.get("category"),
        "brand": event.get("brand"),
        "price": event.get("price"),
        "at": aware_utc(event["timestamp"]),
    }


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for at in range(0, len(rows), size):
        yield rows[at : at + size]
