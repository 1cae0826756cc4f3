"""The tables scoring writes to the warehouse, replaced whole in one transaction each run.

Readers (segments, templates, the API) see the previous run's rows until the new ones are
committed: never a half-written predictions table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifetide.warehouse.connection import Warehouse

EPOCH = dt.date(1970, 1, 1)
# The derived tables and what one row is; docs/data-model.md documents their columns.
SCORING_TABLES = {
    "predictions": "one row per profile: features and every model's prediction",
    "recommendations": "one row per profile and rank: the next products to show",
    "bought_together": "one row per product and rank: products bought with it",
    "replenishment": "one row per profile and replenishable product: when the next is due",
    "product_intervals": "one row per product: its typical repurchase interval",
    "score_runs": "one row per `lifetide score` run: when, as of what date, and its figures",
}


def nullable(values: np.ndarray[Any, Any]) -> pa.Array:
    """Floats as Arrow with NaN as null: a missing prediction must not read as a number."""
    array = np.asarray(values, dtype=np.float64)
    return pa.array(array, mask=np.isnan(array), type=pa.float64())


def replace_table(warehouse: Warehouse, name: str, table: pa.Table) -> None:
    """Replace warehouse table `name` with `table` atomically."""
    _check_no_nan(name, table)
    con = warehouse.duckdb
    con.register("__lifetide_scored", table)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM __lifetide_scored")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("__lifetide_scored")


def append_run(warehouse: Warehouse, row: dict[str, Any]) -> None:
    """Add one row to `score_runs`, creating it on first use."""
    con = warehouse.duckdb
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS score_runs (
            run_id BIGINT, as_of DATE, started_at TIMESTAMP, finished_at TIMESTAMP,
            profiles BIGINT, buyers BIGINT, seconds DOUBLE, notes JSON, metrics JSON
        )
        """
    )
    run_id = int(con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM score_runs").fetchone()[0])
    con.execute(
        "INSERT INTO score_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            row["as_of"],
            row["started_at"],
            row["finished_at"],
            row["profiles"],
            row["buyers"],
            row["seconds"],
            row["notes"],
            row["metrics"],
        ],
    )


def last_run(warehouse: Warehouse) -> dict[str, Any] | None:
    """The newest `score_runs` row, or None before the first run."""
    con = warehouse.duckdb
    if "score_runs" not in warehouse.backend.list_tables():
        return None
    cursor = con.execute("SELECT * FROM score_runs ORDER BY run_id DESC LIMIT 1")
    found = cursor.fetchone()
    if found is None:
        return None
    names = [d[0] for d in cursor.description]
    return dict(zip(names, found, strict=True))


def _check_no_nan(name: str, table: pa.Table) -> None:
    # The promise to users: a prediction is a number or null, never NaN.
    for column_name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():
            raise ValueError(f"{name}.{column_name} has NaN values; refusing to write them")


def as_date(days: np.ndarray[Any, Any]) -> pa.Array:
    """Days since 1970-01-01 as Arrow dates; negative values are null (no date)."""
    array = np.asarray(days, dtype=np.int64)
    return pa.array(array.astype("int32"), mask=array < 0, type=pa.int32()).cast(pa.date32())


def epoch_day(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return (day - EPOCH).days


def floats(table: pa.Table, name: str, fill: float | None = None) -> np.ndarray:
    """A column as float64 numpy; nulls become `fill`, or NaN without one."""
    column = table.column(name).cast(pa.float64())
    if fill is not None:
        column = column.fill_null(fill)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
