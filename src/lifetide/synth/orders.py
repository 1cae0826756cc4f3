"""The orders and order_items tables, and the identifiers of orders and carts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lifetide.synth import identifiers, money, segments, strings
from lifetide.synth.arraytypes import IntArray
from lifetide.synth.assortment import BRANDS, CATEGORIES
from lifetide.synth.baskets import Baskets
from lifetide.synth.catalog import Catalog
from lifetide.synth.places import stores_per_city
from lifetide.synth.promotions import PROMOS
from lifetide.synth.purchases import Purchases
from lifetide.synth.timeline import Timeline
from lifetide.warehouse import schema
from lifetide.warehouse.arrow import arrow_schema

ORDERS_PER_CHUNK = 10**8  # room per chunk in the order-number space


def order_ids(chunk: int, n: int) -> pa.Array:
    """Order numbers like ORD-104729338175: unique across chunks, not sequential."""
    counter = chunk * ORDERS_PER_CHUNK + np.arange(n, dtype=np.int64)
    return identifiers.numbered("ORD-", identifiers.scramble(counter, 12, salt=982_451_653), 12)


def cart_ids(chunk: int, n: int) -> pa.Array:
    """Cart tokens (16 hex digits), one per session; only carts' sessions use theirs."""
    counter = np.int64(chunk) * identifiers.CHUNK_STRIDE + np.arange(n, dtype=np.int64)
    return identifiers.hex_id("", counter, salt=0xCA57)


def store_ids() -> list[str]:
    """Every store's identifier; a city's stores are consecutive."""
    return [f"ST{i + 101:03d}" for i in range(int(stores_per_city().sum()))]


def home_stores(city: IntArray, rng: np.random.Generator) -> IntArray:
    """The store each person shops at: one of their city's stores."""
    count = stores_per_city()
    first = segments.starts(count)
    return first[city] + np.floor(rng.random(len(city)) * count[city]).astype(np.int64)


def build_orders(
    purchases: Purchases,
    baskets: Baskets,
    order_record: IntArray,
    customer_id: pa.Array,
    ids: pa.Array,
    order_cart: pa.Array,
    home_store: IntArray,
    catalog: Catalog,
    timeline: Timeline,
) -> tuple[pa.Table, pa.Table]:
    """The chunk's orders and order lines, in the warehouse's schema."""
    n = purchases.size
    store = purchases.store
    statuses = list(schema.ORDER_STATUSES)
    orders = pa.Table.from_arrays(
        [
            ids,
            customer_id.take(pa.array(order_record)),
            timeline.timestamps(purchases.day),
            strings.pick(list(schema.CHANNELS), store.astype(np.int64)),
            strings.where(store, strings.pick(store_ids(), home_store[purchases.person])),
            strings.pick(statuses, baskets.status),
            strings.where(
                baskets.promo >= 0,
                strings.pick([p.code for p in PROMOS], np.maximum(baskets.promo, 0)),
            ),
            strings.pick(["USD"], np.zeros(n, dtype=np.int64)),
            money.decimals(baskets.subtotal),
            money.decimals(baskets.discount),
            money.decimals(baskets.shipping),
            money.decimals(baskets.tax),
            money.decimals(baskets.total),
            order_cart,
        ],
        schema=arrow_schema(schema.ORDERS),
    )
    line = baskets.line_order
    product = baskets.product
    take = pa.array(product)
    items = pa.Table.from_arrays(
        [
            ids.take(pa.array(line)),
            pa.array((segments.positions(baskets.line_count) + 1).astype(np.int32)),
            pa.array(catalog.product_id).take(take),
            pa.array(list(CATEGORIES)).take(pa.array(catalog.category[product])),
            pa.array([b[0] for b in BRANDS]).take(pa.array(catalog.brand[product])),
            money.decimals(baskets.unit_cents),
            pa.array(baskets.quantity.astype(np.int32)),
            money.decimals(baskets.line_discount),
            pa.array(baskets.clearance),
            pa.array(baskets.returned),
            timeline.timestamps(baskets.returned_day, valid=baskets.returned),
        ],
        schema=arrow_schema(schema.ORDER_ITEMS),
    )
    return orders, items
