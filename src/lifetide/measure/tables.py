"""The warehouse tables measurement reads besides orders and events.

Sends and exposures are copies of operational rows that never change once copied (a settled
send, a first exposure; see measure.sync). Touches are the opens, clicks and bounces of those
sends, written by the journal loader beside the events they come from (see measure.touches).
The warehouse only ever appends to these three. Placed orders are the orders with their
customer profiles, kept in step with orders and profile keys (see measure.placed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import pyarrow as pa

SENDS = "message_sends"
TOUCHES = "message_touches"
EXPOSURES = "exposures"
PLACED = "placed_orders"

SENDS_SCHEMA = ibis.schema(
    {
        "send_key": "!string",
        "profile_id": "int64",
        "journey_id": "int64",
        "step": "string",
        "channel": "string",
        "template": "string",
        "marketing": "boolean",
        # sent | bounced (refused by the receiving server) | skipped | failed
        "status": "string",
        "reason": "string",
        "promo_code": "string",
        "created_at": "timestamp",
        # When the provider accepted it; null unless sent.
        "sent_at": "timestamp",
    }
)
TOUCHES_SCHEMA = ibis.schema(
    {
        # The event's message_id: a touch is written once, like its event.
        "message_id": "!string",
        "send_key": "!string",
        "profile_id": "!int64",
        "journey_id": "int64",
        "step": "string",
        "channel": "string",
        # open | click | bounce
        "kind": "!string",
        # The send's first touch of this kind (Lifetide journals a click's implied open too).
        "first": "!boolean",
        "touched_at": "!timestamp",
        # The send's sent_at (its created_at if it never went out): the funnel's cohort.
        "sent_at": "timestamp",
    }
)
EXPOSURES_SCHEMA = ibis.schema(
    {
        "experiment": "!string",
        "profile_id": "!int64",
        "arm": "!string",
        "journey_id": "int64",
        "send_key": "string",
        "first_at": "!timestamp",
    }
)
PLACED_SCHEMA = ibis.schema(
    {
        "order_id": "!string",
        "profile_id": "!int64",
        "ordered_at": "!timestamp",
        "revenue": "float64",
    }
)
SCHEMAS = {
    SENDS: SENDS_SCHEMA,
    TOUCHES: TOUCHES_SCHEMA,
    EXPOSURES: EXPOSURES_SCHEMA,
    PLACED: PLACED_SCHEMA,
}


def ensure_measure_tables(backend: Any) -> list[str]:
    """Create the measurement tables where they are missing; the names of those created."""
    existing = set(backend.list_tables())
    created = [name for name in SCHEMAS if name not in existing]
    for name in created:
        backend.create_table(name, schema=SCHEMAS[name])
    return created


def append_new(con: Any, table: str, data: pa.Table, key: Sequence[str]) -> None:
    """Append the rows of `data` whose `key` `table` lacks (the caller holds the transaction)."""
    staged = f"__lifetide_new_{table}"
    match = " AND ".join(f"t.{k} = s.{k}" for k in key)
    con.register(staged, data)
    try:
        con.execute(
            f"INSERT INTO {table} SELECT * FROM {staged} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})"
        )
    finally:
        con.unregister(staged)
