"""The warehouse reads behind a batch of message contexts: Ibis queries and how they are run.

Each query is written once in Ibis and takes the batch as small input tables (profiles,
owners of record ids and devices, carts, wanted products). `Reader` runs them: on DuckDB it
compiles each query once and runs its SQL with the inputs registered as Arrow tables; on any
other engine it runs the expression with the inputs as memtables.

Cart lines and viewed products come from one scan of the events (`activity_query`), which
reads only the narrow columns it groups by: the product details an event carries (its name
from the JSON properties, category, brand, price) are read afterwards, and only for the
products the catalog cannot describe (`details_query`). Reading the JSON for every event of
the scan, before the join to the batch's owners, was most of the cost of a batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from lifetide.warehouse.connection import Warehouse, ibis_schema
from lifetide.warehouse.schema import RECORD_KINDS, TABLES

PRODUCT_ADDED = "Product Added"
PRODUCT_REMOVED = "Product Removed"
PRODUCT_VIEWED = "Product Viewed"
EVENTS = ibis_schema(TABLES["events"])
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


def owners_table(keys: list[tuple[str, str, int]], until: dt.datetime) -> pa.Table:
    """Who each record id ("r") and device ("d") belongs to, and the moment to read up to."""
    rows = [(v, "r" if k in RECORD_KINDS else "d", p) for k, v, p in keys]
    return pa.table(
        {
            "owner_id": pa.array([r[0] for r in rows], pa.string()),
            "owner_kind": pa.array([r[1] for r in rows], pa.string()),
            "owner_profile": pa.array([r[2] for r in rows], pa.int64()),
            "until": pa.array([until] * len(rows), pa.timestamp("us")),
        }
    )


def carts_table(carts: Iterable[tuple[int, str]]) -> pa.Table:
    """The batch's carts: (owner profile, cart id)."""
    pairs = list(carts)
    return pa.table(
        {
            "cart": pa.array([c for _, c in pairs], pa.string()),
            "cart_profile": pa.array([p for p, _ in pairs], pa.int64()),
        }
    )


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


def _owned(
    events: ir.Table, owners: ir.Table, carts: ir.Table, *wanted: ir.BooleanValue
) -> ir.Table:
    """The batch's cart and view events, each with its owner's profile as `profile_id`.

    An event is the signed-in user's; a device's only when no one was signed in, so a shared
    device never shows one person what another looked at, and another visitor cannot put
    lines into someone's cart (a cart id is not a secret). Written as two lookups, by user id
    and by device, each an IN filter on a plain column that DuckDB applies while it scans:
    one join on "user id, else device" read every column of every event first, twice the
    CPU. A table whose user ids are never null skips the device half on its statistics.
    `wanted`: conditions on `events`, in each lookup's own filter (a filter the two shared
    would be a CTE, which DuckDB writes out in full).
    """

    def side(kind: str, key: str, *extra: ir.BooleanValue) -> ir.Table:
        who = owners.filter(owners.owner_kind == kind)
        hits = events.filter(events[key].isin(who.owner_id), *wanted, *extra)
        joined = hits.inner_join(who, hits[key] == who.owner_id)
        return joined.select(
            *(joined[name] for name in events.columns),
            profile_id=joined.owner_profile,
            until=joined.until,
        )

    both = side("r", "user_id").union(side("d", "anonymous_id", events.user_id.isnull()))
    return both.filter(
        both.timestamp <= both.until,
        (both.event == PRODUCT_VIEWED) | both.cart_id.isin(carts.cart),
    )


def _grouped(owned: ir.Table) -> ir.Table:
    # A view has no cart; a cart line's cart is its own.
    cart = ibis.ifelse(owned.event == PRODUCT_VIEWED, ibis.null("string"), owned.cart_id)
    return owned.mutate(cart_id=cart)


def _activity(events: ir.Table, owners: ir.Table, carts: ir.Table, products: ir.Value) -> ir.Table:
    """The owners' cart and view events about `products`, keyed by profile and cart."""
    activity = events.event.isin([PRODUCT_ADDED, PRODUCT_REMOVED, PRODUCT_VIEWED])
    return _grouped(_owned(events, owners, carts, activity, products))


def activity_query(
    events: ir.Table, owners: ir.Table, carts: ir.Table, depth: ir.Table
) -> ir.Table:
    """Cart lines and recent views of the batch's owners, from one narrow scan of the events.

    One row per (profile, cart id, product) for cart lines (units added minus units removed,
    first added) and per (profile, product) for views (`cart_id` null; latest view), the
    views cut to each profile's `depth` newest. A line's cart may be another profile's cart
    id: only the requested (profile, cart) pairs are the caller's.
    """
    rows = _activity(events, owners, carts, events.product_id.notnull())
    units = rows.quantity.fill_null(1).cast("int64")
    rows = rows.mutate(units=ibis.ifelse(rows.event == PRODUCT_REMOVED, -units, units))
    per = rows.group_by(["profile_id", "cart_id", "product_id"]).agg(
        quantity=rows.units.sum(), first_at=rows.timestamp.min(), last_at=rows.timestamp.max()
    )
    ranked = per.mutate(
        place=ibis.row_number().over(
            group_by=["profile_id", "cart_id"], order_by=[ibis.desc("last_at"), "product_id"]
        )
    )
    return ranked.filter(ranked.cart_id.notnull() | (ranked.place < depth.depth.as_scalar()))


def details_query(
    events: ir.Table, owners: ir.Table, carts: ir.Table, wanted: ir.Table
) -> ir.Table:
    """What the latest event of each activity row names about a `wanted` product.

    Its name (from the JSON properties), category, brand and price, keyed as
    `activity_query`'s rows are: for the products the catalog does not describe.
    """
    rows = _activity(events, owners, carts, events.product_id.isin(wanted.product_id))
    at = rows.timestamp
    return rows.group_by(["profile_id", "cart_id", "product_id"]).agg(
        name=rows.properties["name"].str.argmax(at),
        category=rows.category.argmax(at),
        brand=rows.brand.argmax(at),
        price=rows.price.argmax(at),
    )


def products_query(products: ir.Table, wanted: ir.Table) -> ir.Table:
    """The catalog's rows for the wanted products."""
    p = products.filter(products.product_id.isin(wanted.product_id))
    return p.select(*PRODUCT_COLUMNS)
