"""`placed_orders`: every order with the customer profile it belongs to, kept in step.

Attribution and the lift read orders by profile. Joining each order's customer id (a
string) to `profile_keys` was the costliest part of a dashboard: 230 ms of 900 for the
30-day overview at 1,000,000 customers (docs/benchmarks.md, Dashboards). So the warehouse
keeps the join's result as a table: order_id, profile_id, ordered_at, revenue, for orders
that are not cancelled and whose customer has a profile, appended in time order.

It is what `profile_orders` gives over all time, and stays so because both of its inputs
change in only two places:
- orders are only ever written through `imports.writer.write` (file imports and the journal
  loader), which calls `refresh` with the written keys in the same transaction;
- `profile_keys` is only ever replaced whole by the profile copy before scoring
  (`scoring.profiles.sync_profiles`), which calls `rebuild`.
A warehouse from before the table gets it filled when Lifetide opens it.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from lifetide.measure.queries import profile_orders
from lifetide.measure.tables import PLACED
from lifetide.segments.tables import PROFILE_KEYS_SCHEMA
from lifetide.warehouse.connection import Warehouse, ibis_schema
from lifetide.warehouse.schema import ORDERS


def orders_by_profile(warehouse: Warehouse) -> ir.Table:
    """The orders by profile, for the calling thread: `placed_orders`, or the join it keeps."""
    backend = warehouse.thread_backend()
    if warehouse.is_duckdb:
        return backend.table(PLACED)
    # Only a DuckDB warehouse is written through the import writer that keeps the table.
    return profile_orders(backend.table(ORDERS.name), backend.table("profile_keys"))


def _resolved(orders: ir.Table) -> ir.Table:
    keys = ibis.table(PROFILE_KEYS_SCHEMA, name="profile_keys")
    return profile_orders(orders, keys)


def _exists(con: Any) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [PLACED]
    ).fetchone()
    return bool(found and found[0])


def rebuild(con: Any) -> None:
    """Refill `placed_orders` from all orders and the current profile keys, in a transaction."""
    if not _exists(con):
        # A warehouse without the measurement tables: Lifetide fills it when it makes it.
        return
    orders = ibis.table(ibis_schema(ORDERS), name=ORDERS.name)
    sql = ibis.to_sql(_resolved(orders).order_by("ordered_at"), dialect="duckdb")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {PLACED}")
        con.execute(f"INSERT INTO {PLACED} {sql}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def refresh(con: Any, written: str) -> None:
    """Bring the orders in table `written` (orders columns) up to date, in the caller's transaction.

    A changed order may have been cancelled or have a new total: its row goes, and comes back
    as the order now is.
    """
    if not _exists(con):
        return
    con.execute(f"DELETE FROM {PLACED} WHERE order_id IN (SELECT order_id FROM {written})")
    orders = ibis.table(ibis_schema(ORDERS), name=ORDERS.name)
    ids = ibis.table(ibis_schema(ORDERS), name=written)
    sql = ibis.to_sql(
        _resolved(orders.filter(orders.order_id.isin(ids.order_id))).order_by("ordered_at"),
        dialect="duckdb",
    )
    con.execute(f"INSERT INTO {PLACED} {sql}")
