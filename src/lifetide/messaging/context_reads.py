"""The warehouse reads behind a batch of message contexts: Ibis queries and how they are run.

Each query is written once in Ibis and takes the batch as small input tables (profiles,
wanted products). `Reader` runs them: on DuckDB it compiles each query once and runs its SQL
with the inputs registered as Arrow tables; on any other engine it runs the expression with
the inputs as memtables. Cart lines and viewed products are not read here but from the
operational database's recent activity (lifetide.collect.activity).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from lifetide.warehouse.connection import Warehouse, ibis_schema
from lifetide.warehouse.schema import TABLES

PRODUCTS = ibis_schema(TABLES["products"])
# The columns read of scoring's recommendations table (scoring/recommend.py).
RECOMMENDATIONS = ibis.schema({"profile_id": "int64", "rank": "int32", "product_id": "string"})
# What a product row of a context holds, from the catalog.
PRODUCT_COLUMNS = ("product_id", "name", "price", "image_url", "url", "category", "brand")


class Reader:
    """Runs the batch queries: written once in Ibis, compiled once, run with Arrow inputs.

    Compiling an Ibis expression costs 20-60 ms, more than running it; per batch that was
    most of the time. On DuckDB each query is compiled once (over unbound tables) and its
    SQL run with the batch's inputs registered as Arrow tables; other engines run the same
    expressions with the inputs as memtables.
    """

    def __init__(self) -> None:
        self._sql: dict[tuple[Any, ...], str] = {}

    def read(
        self,
        warehouse: Warehouse,
        query: Callable[..., ir.Table],
        tables: Mapping[str, ibis.Schema],
        inputs: Mapping[str, pa.Table],
    ) -> list[dict[str, Any]]:
        """The rows of `query(**tables, **inputs)` as dicts."""
        if not warehouse.is_duckdb:
            backend = warehouse.thread_backend()
            bound = {name: backend.table(name) for name in tables}
            memtables = {name: ibis.memtable(table) for name, table in inputs.items()}
            return list(query(**bound, **memtables).to_pyarrow().to_pylist())
        key = (
            query.__qualname__,
            tuple((name, tuple(schema.items())) for name, schema in tables.items()),
            tuple((name, tuple(str(f) for f in t.schema)) for name, t in inputs.items()),
        )
        sql = self._sql.get(key)
        if sql is None:
            unbound = {name: ibis.table(schema, name=name) for name, schema in tables.items()}
            placeholders = {
                name: ibis.table(ibis.Schema.from_pyarrow(t.schema), name=f"_lifetide_{name}")
                for name, t in inputs.items()
            }
            sql = str(ibis.to_sql(query(**unbound, **placeholders), dialect="duckdb"))
            self._sql[key] = sql
        con = warehouse.duckdb
        for name, table in inputs.items():
            con.register(f"_lifetide_{name}", table)
        try:
            return list(con.execute(sql).to_arrow_table().to_pylist())
        finally:
            for name in inputs:
                con.unregister(f"_lifetide_{name}")


def column(name: str, values: Iterable[Any], kind: pa.DataType) -> pa.Table:
    """A one-column input table."""
    return pa.table({name: pa.array(list(values), kind)})


def predictions_query(predictions: ir.Table, profiles: ir.Table) -> ir.Table:
    """The prediction rows of the batch's profiles."""
    return predictions.filter(predictions.profile_id.isin(profiles.profile_id))


def recommendations_query(
    recommendations: ir.Table, profiles: ir.Table, depth: ir.Table
) -> ir.Table:
    """Each profile's recommended products down to `depth`, by rank."""
    r = recommendations
    kept = r.filter(r.profile_id.isin(profiles.profile_id), r["rank"] <= depth.depth.as_scalar())
    return kept.select("profile_id", "rank", "product_id").order_by(["profile_id", "rank"])


def products_query(products: ir.Table, wanted: ir.Table) -> ir.Table:
    """The catalog's rows for the wanted products."""
    p = products.filter(products.product_id.isin(wanted.product_id))
    return p.select(*PRODUCT_COLUMNS)
