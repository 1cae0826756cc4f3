"""Writing rows straight into a Lifetide warehouse table, for the measurement tests."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from lifetide.context import Lifetide
from lifetide.measure import placed

PROFILE_KEYS = pa.schema(
    [("kind", pa.string()), ("value", pa.string()), ("profile_id", pa.int64())]
)


def put(app: Lifetide, table: str, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Append `rows` (missing columns null) to the warehouse table `table`.

    Orders and profile keys written so bypass the import writer and the profile copy, which
    keep `placed_orders` in step: it is refilled here as they would.
    """
    con = app.warehouse.duckdb
    data = pa.Table.from_pylist(rows, schema=schema)
    con.register("__staged", data)
    names = ", ".join(schema.names)
    try:
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM __staged")
    finally:
        con.unregister("__staged")
    if table in ("orders", "profile_keys"):
        placed.rebuild(con)
