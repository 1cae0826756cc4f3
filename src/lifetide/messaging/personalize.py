"""The context each message is rendered with, built for a whole batch of sends at once.

One batch costs a fixed number of reads, never one per message: on the operational database,
two or three for the customers (following merges to the survivor) and their identifiers, and
two for their recent cart and view events (by user id, and by device; see
lifetide.collect.activity); on the warehouse at most three (predictions, recommendations,
products). A warehouse table that does not exist yet (no scoring run) gives empty values, not
errors.
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

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ibis
import pyarrow as pa
from sqlalchemy import Row, select

from lifetide.clock import naive_utc
from lifetide.context import Lifetide
from lifetide.messaging.activity import cart_and_views
from lifetide.messaging.context_reads import (
    PRODUCTS,
    RECOMMENDATIONS,
    Reader,
    column,
    predictions_query,
    products_query,
    recommendations_query,
)
from lifetide.messaging.promos import IssuedCode
from lifetide.ops.models import Customer, Identity
from lifetide.warehouse.connection import Warehouse
from lifetide.warehouse.schema import DEVICE_KIND, RECORD_KINDS

_MERGE_HOPS = 8
# The columns a context and the merge chain need, as plain rows: loading whole ORM objects
# cost more than the rest of the customers' part of a context.
_CUSTOMER = (
    Customer.id,
    Customer.merged_into_id,
    Customer.first_name,
    Customer.last_name,
    Customer.email,
    Customer.phone,
    Customer.time_zone,
    Customer.country,
    Customer.traits,
)
_ZERO = Decimal("0.00")


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

    customers: dict[int, Row[Any]]
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
        settings = lifetide.settings
        self._shop_name = shop_name or settings.shop_display_name or "our shop"
        url = shop_url or settings.shop_url
        self._shop_url = url.rstrip("/") if url else None
        self._recommendations = recommendations
        self._viewed = viewed
        self._reader = Reader()
        self._activity = lifetide.activity
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
        wanted = column("profile_id", profiles, pa.int64())
        if "predictions" in present:
            reads.predictions = {
                int(row.pop("profile_id")): row
                for row in self._reader.read(
                    warehouse,
                    predictions_query,
                    {"predictions": _schema_of(warehouse, "predictions")},
                    {"profiles": wanted},
                )
            }
        if "recommendations" in present:
            for row in self._reader.read(
                warehouse,
                recommendations_query,
                {"recommendations": RECOMMENDATIONS},
                {
                    "profiles": wanted,
                    "depth": column("depth", [self._recommendations * 3], pa.int32()),
                },
            ):
                reads.recommended.setdefault(int(row["profile_id"]), []).append(
                    str(row["product_id"])
                )
        keys = self._keys(profiles)
        if keys and (carts or self._viewed > 0):
            rows = self._activity.read(
                [v for k, v, _ in keys if k in RECORD_KINDS],
                [v for k, v, _ in keys if k not in RECORD_KINDS],
                sorted({cart for _, cart in carts}),
                until,
            )
            reads.carts, reads.viewed = cart_and_views(rows, keys, carts, self._viewed)
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
                    products_query,
                    {"products": PRODUCTS},
                    {"wanted": column("product_id", sorted(ids), pa.string())},
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
        # No shop_url setting: the site the catalog's product pages are on, else Lifetide's.
        for product in reads.products.values():
            if product.get("url"):
                parts = urlsplit(str(product["url"]))
                if parts.scheme in ("http", "https") and parts.netloc:
                    return f"{parts.scheme}://{parts.netloc}"
        return self._app.settings.base_url.rstrip("/")

    def _customers(self, ids: set[int]) -> tuple[dict[int, int], dict[int, Row[Any]]]:
        """Each requested id's survivor (following merges), and the survivors' rows."""
        rows: dict[int, Row[Any]] = {}
        todo = set(ids)
        with self._app.sessions() as session:
            for _ in range(_MERGE_HOPS):
                if not todo:
                    break
                found = session.execute(select(*_CUSTOMER).where(Customer.id.in_(sorted(todo))))
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


def _customer(profile: int, row: Row[Any] | None) -> dict[str, Any]:
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


def _schema_of(warehouse: Warehouse, name: str) -> ibis.Schema:
    # Scoring may add prediction columns from one run to the next: ask every batch.
    return warehouse.thread_backend().table(name).schema()
