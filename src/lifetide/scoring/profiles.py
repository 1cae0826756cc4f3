"""Which profile each warehouse record and device belongs to, copied into the warehouse.

Identity resolution keeps profiles in the operational database; the models run in the
warehouse. Before scoring, the mapping is copied across as `profile_keys` (record ids and
anonymous ids to profile ids) and `profiles` (every live profile, buyers or not), streamed in
Arrow batches so a million profiles never sit in Python objects at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from lifetide.ops.models import Customer, Identity
from lifetide.warehouse.connection import Warehouse

# Identity kinds that name a warehouse record (orders.customer_id, events.user_id) or a device.
RECORD_KINDS = ("user_id", "crm_id")
DEVICE_KIND = "anonymous_id"
BATCH_ROWS = 200_000

PROFILE_KEYS_SCHEMA = pa.schema(
    [("kind", pa.string()), ("value", pa.string()), ("profile_id", pa.int64())]
)
PROFILES_SCHEMA = pa.schema([("profile_id", pa.int64())])


class NoProfiles(Exception):
    """Scoring needs resolved profiles and there are none."""


def _batches(rows: Iterator[Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    names = schema.names
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == BATCH_ROWS:
            yield _batch(chunk, names, schema)
            chunk = []
    if chunk:
        yield _batch(chunk, names, schema)


def _batch(chunk: list[Any], names: list[str], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*chunk, strict=True))
    return pa.RecordBatch.from_arrays(
        [pa.array(col, type=schema.field(n).type) for n, col in zip(names, columns, strict=True)],
        schema=schema,
    )


def sync_profiles(session: Session, warehouse: Warehouse) -> int:
    """Copy live profiles and their record and device keys into the warehouse; the count."""
    con = warehouse.duckdb
    keys = session.execute(
        select(Identity.kind, Identity.value, Identity.customer_id)
        .join(Customer, Customer.id == Identity.customer_id)
        .where(Identity.kind.in_((*RECORD_KINDS, DEVICE_KIND)))
        .where(Customer.merged_into_id.is_(None))
        .execution_options(yield_per=BATCH_ROWS)
    )
    _replace(
        con,
        "profile_keys",
        pa.RecordBatchReader.from_batches(
            PROFILE_KEYS_SCHEMA, _batches(iter(keys), PROFILE_KEYS_SCHEMA)
        ),
    )
    profiles = session.execute(
        select(Customer.id)
        .where(Customer.merged_into_id.is_(None))
        .execution_options(yield_per=BATCH_ROWS)
    )
    _replace(
        con,
        "profiles",
        pa.RecordBatchReader.from_batches(
            PROFILES_SCHEMA, _batches(iter(profiles), PROFILES_SCHEMA)
        ),
    )
    count = int(con.execute("SELECT count(*) FROM profiles").fetchone()[0])
    if count == 0:
        raise NoProfiles(
            "there are no customer profiles to score: import customers and orders, then run "
            "`lifetide identity resolve`"
        )
    return count


def _replace(con: Any, name: str, reader: pa.RecordBatchReader) -> None:
    # DuckDB scans the reader as it is consumed: the batches stream from SQLAlchemy.
    con.register("__lifetide_incoming", reader)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM __lifetide_incoming")
    finally:
        con.unregister("__lifetide_incoming")
