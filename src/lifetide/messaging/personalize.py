"""The context each message is rendered with, built for a whole batch of sends at once.

One batch costs a fixed number of reads, never one per message: two or three on the
operational database (customers, following merges to the survivor; their identifiers) and at
most five on the warehouse (predictions, recommendations, cart events, viewed products,
products). A table that does not exist yet (no scoring run) gives empty values, not errors.
Events after the clock's now are ignored, so a simulation never shows what comes later.

The context of one message (documented for marketers in docs/templates.md):
  customer{id, first_name, last_name, email, phone, time_zone, country, traits}
  predictions{...}  cart{id, items[...], total, quantity, url}  viewed[products]
  recommendations[products]  replenishment{product, due}|None  offer{...}|None
  shop{name, url}  message{key, journey_id, step}
A product is {product_id, name, price, image_url, url, category, brand}; a cart item adds
quantity and line_total.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from sqlalchemy import select

from lifetide.clock import naive_utc
from lifetide.context import Lifetide
from lifetide.messaging.promos import IssuedCode
from lifetide.ops.models import Customer, Identity
from lifetide.warehouse.connection import Warehouse, ibis_schema
from lifetide.warehouse.schema import DEVICE_KIND, RECORD_KINDS, TABLES

PRODUCT_ADDED = "Product Added"
PRODUCT_REMOVED = "Product Removed"
PRODUCT_VIEWED = "Product Viewed"
_MERGE_HOPS = 8
_ZERO = Decimal("0.00")
EVENTS = ibis_schema(TABLES["events"])
PRODUCTS = ibis_schema(TABLES["products"])
# The columns read of scoring's recommendations table (scoring/recommend.py).
RECOMMENDATIONS = ibis.schema({"profile_id": "int64", "rank": "int32", "product_id": "string"})


@dataclass(frozen=True)
class ContextRequest:
    """One message to build a context for."""

    profile_id: int
    journey_id: int | None
    step: str
    instance_key: str | None
    send_key: str
    offer: IssuedCode | None = None


@dataclass
class _Reads:
    """What one batch read, by survivor profile id (or cart id)."""

    customers: dict[int, Customer]
    predictions: dict[int, dict[str, Any]]
    recommended: dict[int, list[str]]
    # By (survivor profile, cart id): a cart's lines are only its owner's own events.
    carts: dict[tuple[int, str], list[dict[str, Any]]]
    viewed: dict[int, list[dict[str, Any]]]
    products: dict[str, dict[str, Any]]


class MessageContexts:
    """Builds template contexts for batches of sends from the ops database and warehouse."""

    def __init__(
        self,
        lifetide: Lifetide,
        *,
        shop_name: str | None = None,
        shop_url: str | None = None,
        recommendations: int = 4,
        viewed: int = 4,
    ) -> None:
        self._app = lifetide
        self._shop_name = shop_name or parseaddr(lifetide.settings.email_from)[0] or "our shop"
        self._shop_url = shop_url.rstrip("/") if shop_url else None
        self._recommendations = recommendations
        self._viewed = viewed
        self._reader = _Reader()
        # DuckDB gives each thread a cursor of its own; other engines' Ibis backends share
        # one connection, so this object's reads on them take turns.
        self._shared = threading.Lock()

    def build(self, requests: Sequence[ContextRequest]) -> list[dict[str, Any]]:
        """One context per request, in order."""
        if not requests:
            return []
        if self._app.warehouse.is_duckdb:
            return self._build(requests)
        with self._shared:
            return self._build(requests)

    def _build(self, requests: Sequence[ContextRequest]) -> list[dict[str, Any]]:
        survivors, customers = self._customers({r.profile_id for r in requests})
        profiles = sorted(set(survivors.values()))
        carts = sorted(
            {(survivors[r.profile_id], r.instance_key) for r in requests if r.instance_key}
        )
        reads = _Reads(customers, {}, {}, {}, {}, {})
        warehouse = self._app.warehouse
        present = set(warehouse.thread_backend().list_tables())
        until = naive_utc(self._app.clock.now())
        wanted = _column("profile_id", profiles, pa.int64())
        if "predictions" in present:
            reads.predictions = {
                int(row.pop("profile_id")): row
                for row in self._reader.read(
                    warehouse,
                    _predictions_query,
                    {"predictions": _schema_of(warehouse, "predictions")},
                    {"profiles": wanted},
                )
            }
        if "recommendations" in present:
            for row in self._reader.read(
                warehouse,
                _recommendations_query,
                {"recommendations": RECOMMENDATIONS},
                {
                    "profiles": wanted,
                    "depth": _column("depth", [self._recommendations * 3], pa.int32()),
                },
            ):
                reads.recommended.setdefault(int(row["profile_id"]), []).append(
                    str(row["product_id"])
                )
        keys = self._keys(profiles)
        if "events" in present and carts and keys:
            cart_table = pa.table(
                {
                    "cart": pa.array([c for _, c in carts], pa.string()),
                    "cart_profile": pa.array([p for p, _ in carts], pa.int64()),
                }
            )
            for row in self._reader.read(
                warehouse,
                _carts_query,
                {"events": EVENTS},
                {"carts": cart_table, "owners": _owners(keys, until)},
            ):
                cart = (int(row.pop("cart_profile")), str(row["cart_id"]))
                reads.carts.setdefault(cart, []).append(row)
        if "events" in present and keys and self._viewed > 0:
            for row in self._reader.read(
                warehouse,
                _viewed_query,
                {"events": EVENTS},
                {
                    "owners": _owners(keys, until),
                    "depth": _column("depth", [self._viewed], pa.int64()),
                },
            ):
                row.pop("place")
                reads.viewed.setdefault(int(row.pop("profile_id")), []).append(row)
        ids = {i["product_id"] for items in reads.carts.values() for i in items}
        ids |= {v["product_id"] for views in reads.viewed.values() for v in views}
        ids |= {p for found in reads.recommended.values() for p in found}
        ids |= {
            str(p["next_replenishment_product"])
            for p in reads.predictions.values()
            if p.get("next_replenishment_product")
        }
        if "products" in present and ids:
            reads.products = {
                str(row["product_id"]): row
                for row in self._reader.read(
                    warehouse,
                    _products_query,
                    {"products": PRODUCTS},
                    {"wanted": _column("product_id", sorted(ids), pa.string())},
                )
            }
        shop = {"name": self._shop_name, "url": self._shop_url or self._guess_shop_url(reads)}
        return [self._context(r, survivors[r.profile_id], reads, shop) for r in requests]

    def _context(
        self, r: ContextRequest, profile: int, reads: _Reads, shop: dict[str, str]
    ) -> dict[str, Any]:
        customer = reads.customers.get(profile)
        predictions = reads.predictions.get(profile, {})
        lines = reads.carts.get((profile, r.instance_key or ""), [])
        items = [self._item(i, reads.products) for i in lines]
        in_cart = {i["product_id"] for i in items}
        recommended = [
            reads.products[p]
            for p in reads.recommended.get(profile, [])
            if p in reads.products and p not in in_cart
        ][: self._recommendations]
        viewed = [
            {**reads.products.get(v["product_id"], _from_event(v)), "viewed_at": v["viewed_at"]}
            for v in reads.viewed.get(profile, [])
        ]
        due_product = predictions.get("next_replenishment_product")
        replenishment = None
        if due_product and str(due_product) in reads.products:
            replenishment = {
                "product": reads.products[str(due_product)],
                "due": predictions.get("next_replenishment_due"),
            }
        totals = [i["line_total"] for i in items if i["line_total"] is not None]
        return {
            "customer": _customer(profile, customer),
            "predictions": predictions,
            "cart": {
                "id": r.instance_key,
                "items": items,
                "total": sum(totals, _ZERO),
                "quantity": sum(i["quantity"] for i in items),
                "url": f"{shop['url']}/cart",
            },
            "viewed": viewed,
            "recommendations": recommended,
            "replenishment": replenishment,
            "offer": r.offer.context() if r.offer is not None else None,
            "shop": shop,
            "message": {"key": r.send_key, "journey_id": r.journey_id, "step": r.step},
        }

    def _item(self, line: dict[str, Any], products: dict[str, dict[str, Any]]) -> dict[str, Any]:
        product = products.get(line["product_id"]) or _from_event(line)
        price = product["price"] if product["price"] is not None else line["price"]
        quantity = int(line["quantity"])
        return {
            **product,
            "price": price,
            "quantity": quantity,
            "line_total": price * quantity if price is not None else None,
        }

    def _guess_shop_url(self, reads: _Reads) -> str:
        # No shop URL setting: the site the catalog's product pages are on, else Lifetide's.
        for product in reads.products.values():
            if product.get("url"):
                parts = urlsplit(str(product["url"]))
                if parts.scheme in ("http", "https") and parts.netloc:
                    return f"{parts.scheme}://{parts.netloc}"
        return self._app.settings.base_url.rstrip("/")

    def _customers(self, ids: set[int]) -> tuple[dict[int, int], dict[int, Customer]]:
        """Each requested id's survivor (following merges), and the survivors' rows."""
        rows: dict[int, Customer] = {}
        todo = set(ids)
        with self._app.sessions() as session:
            for _ in range(_MERGE_HOPS):
                if not todo:
                    break
                found = session.scalars(select(Customer).where(Customer.id.in_(sorted(todo))))
                rows.update({row.id: row for row in found})
                todo = {
                    row.merged_into_id
                    for row in rows.values()
                    if row.merged_into_id is not None and row.merged_into_id not in rows
                }
        survivors: dict[int, int] = {}
        for start in ids:
            current, hops = start, 0
            while (
                current in rows and rows[current].merged_into_id is not None and hops < _MERGE_HOPS
            ):
                current, hops = int(rows[current].merged_into_id or current), hops + 1
            survivors[start] = current
        return survivors, {i: rows[i] for i in survivors.values() if i in rows}

    def _keys(self, profiles: list[int]) -> list[tuple[str, str, int]]:
        """The record ids and devices of these profiles, from the live identity graph."""
        if not profiles:
            return []
        with self._app.sessions() as session:
            # Only customer_id in SQL: with `kind` too, SQLite (no statistics on the ops
            # database) searches the (kind, value) index, which matches a million user_ids.
            found = session.execute(
                select(Identity.kind, Identity.value, Identity.customer_id).where(
                    Identity.customer_id.in_(profiles)
                )
            )
            wanted = {*RECORD_KINDS, DEVICE_KIND}
            return [(str(k), str(v), int(c)) for k, v, c in found if k in wanted]


def _customer(profile: int, row: Customer | None) -> dict[str, Any]:
    if row is None:
        return {"id": profile, "first_name": None, "last_name": None, "email": None,
                "phone": None, "time_zone": None, "country": None, "traits": {}}  # fmt: skip
    return {
        "id": profile,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "email": row.email,
        "phone": row.phone,
        "time_zone": row.time_zone,
        "country": row.country,
        "traits": dict(row.traits or {}),
    }


def _from_event(line: dict[str, Any]) -> dict[str, Any]:
    """A product known only from the event that named it (not in the catalog).

    Its name and price come from the event; its link and image do not: an address in an
    e-mail the shop signs must come from the shop's catalog, not from a tracking call.
    """
    return {
        "product_id": line["product_id"],
        "name": line.get("name") or line["product_id"],
        "price": line.get("price"),
        "image_url": None,
        "url": None,
        "category": line.get("category"),
        "brand": line.get("brand"),
    }


class _Reader:
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


def _column(name: str, values: Iterable[Any], kind: pa.DataType) -> pa.Table:
    return pa.table({name: pa.array(list(values), kind)})


def _schema_of(warehouse: Warehouse, name: str) -> ibis.Schema:
    # Scoring may add prediction columns from one run to the next: ask every batch.
    return warehouse.thread_backend().table(name).schema()


def _owners(keys: list[tuple[str, str, int]], until: dt.datetime) -> pa.Table:
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


def _predictions_query(predictions: ir.Table, profiles: ir.Table) -> ir.Table:
    return predictions.filter(predictions.profile_id.isin(profiles.profile_id))


def _recommendations_query(
    recommendations: ir.Table, profiles: ir.Table, depth: ir.Table
) -> ir.Table:
    r = recommendations
    kept = r.filter(r.profile_id.isin(profiles.profile_id), r["rank"] <= depth.depth.as_scalar())
    return kept.select("profile_id", "rank", "product_id").order_by(["profile_id", "rank"])


def _event_details(events: ir.Table) -> dict[str, Any]:
    """The product details an event carries (the latest event's, where they differ)."""
    props = events.properties
    at = events.timestamp
    return {
        "name": props["name"].str.argmax(at),
        "image_url": props["image_url"].str.argmax(at),
        "url": props["url"].str.argmax(at),
        "category": events.category.argmax(at),
        "brand": events.brand.argmax(at),
        "price": events.price.argmax(at),
    }


def _carts_query(events: ir.Table, carts: ir.Table, owners: ir.Table) -> ir.Table:
    """What is in each cart: units added minus units removed, per product, oldest first.

    Only the cart owner's own events count (as for viewed products: the signed-in user's, a
    device's only when no one was signed in): a cart id is not a secret, and another visitor
    must not be able to put lines into someone else's reminder.
    """
    e = events.filter(
        events.event.isin([PRODUCT_ADDED, PRODUCT_REMOVED]), events.product_id.notnull()
    )
    signed_in = e.user_id.notnull()
    mine = e.inner_join(
        owners,
        [
            ibis.ifelse(signed_in, e.user_id, e.anonymous_id) == owners.owner_id,
            ibis.ifelse(signed_in, "r", "d") == owners.owner_kind,
        ],
    )
    lines = mine.inner_join(
        carts, [mine.cart_id == carts.cart, mine.owner_profile == carts.cart_profile]
    )
    lines = lines.filter(lines.timestamp <= lines.until)
    units = lines.quantity.fill_null(1).cast("int64")
    lines = lines.mutate(units=ibis.ifelse(lines.event == PRODUCT_REMOVED, -units, units))
    per = lines.group_by(["cart_profile", "cart_id", "product_id"]).agg(
        quantity=lines.units.sum(), first_at=lines.timestamp.min(), **_event_details(lines)
    )
    kept = per.filter(per.quantity > 0)
    return kept.order_by(["cart_profile", "cart_id", "first_at", "product_id"])


def _viewed_query(events: ir.Table, owners: ir.Table, depth: ir.Table) -> ir.Table:
    """Each profile's most recently viewed products, newest first.

    An event is the signed-in user's; a device's only when no one was signed in, so a shared
    device never shows one person what another looked at.
    """
    views = events.filter(events.event == PRODUCT_VIEWED, events.product_id.notnull())
    signed_in = views.user_id.notnull()
    joined = views.inner_join(
        owners,
        [
            ibis.ifelse(signed_in, views.user_id, views.anonymous_id) == owners.owner_id,
            ibis.ifelse(signed_in, "r", "d") == owners.owner_kind,
        ],
    )
    joined = joined.filter(joined.timestamp <= joined.until)
    per = joined.group_by([joined.owner_profile.name("profile_id"), "product_id"]).agg(
        viewed_at=joined.timestamp.max(), **_event_details(joined)
    )
    ranked = per.mutate(
        place=ibis.row_number().over(
            group_by="profile_id", order_by=[ibis.desc("viewed_at"), "product_id"]
        )
    )
    kept = ranked.filter(ranked.place < depth.depth.as_scalar())
    return kept.order_by(["profile_id", "place"])


def _products_query(products: ir.Table, wanted: ir.Table) -> ir.Table:
    p = products.filter(products.product_id.isin(wanted.product_id))
    return p.select("product_id", "name", "price", "image_url", "url", "category", "brand")
