"""A retailer at a glance: the figures `lifetide summary` and the demo print (Ibis)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis

from lifetide.warehouse.connection import Warehouse


@dataclass(frozen=True)
class ChannelFigures:
    """Orders and revenue through one channel."""

    channel: str
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class Summary:
    """The headline figures of the warehouse."""

    customer_records: int
    buying_customers: int
    repeat_rate: float
    products: int
    events: int
    first_order: dt.datetime | None
    last_order: dt.datetime | None
    channels: list[ChannelFigures]
    revenue_by_month: list[tuple[str, Decimal]]
    revenue_by_category: list[tuple[str, Decimal]]
    top_products: list[tuple[str, str, int, Decimal]]
    top_events: list[tuple[str, int]]


def summarize(warehouse: Warehouse, months: int = 12, top: int = 10) -> Summary:
    """Compute the summary; revenue counts completed and returned orders alike (gross)."""
    orders = warehouse.table("orders").filter(lambda t: t.status != "cancelled")
    items = warehouse.table("order_items")
    products = warehouse.table("products")
    events = warehouse.table("events")

    per_customer = (
        orders.filter(orders.customer_id.notnull())
        .group_by("customer_id")
        .agg(n=lambda t: t.count())
    )
    buyers = _rows(per_customer.agg(buyers=lambda t: t.count(), repeat=lambda t: (t.n >= 2).sum()))[
        0
    ]
    span = _rows(orders.agg(first=orders.ordered_at.min(), last=orders.ordered_at.max()))[0]

    channels = [
        ChannelFigures(r["channel"], r["orders"], _money(r["revenue"]))
        for r in _rows(
            orders.group_by("channel")
            .agg(orders=lambda t: t.count(), revenue=lambda t: t.total.sum())
            .order_by("channel")
        )
    ]

    month = orders.ordered_at.truncate("M")
    by_month = (
        orders.mutate(month=month)
        .group_by("month")
        .agg(revenue=lambda t: t.total.sum())
        .order_by(ibis.desc("month"))
        .limit(months)
    )
    revenue_by_month = sorted(
        (r["month"].strftime("%Y-%m"), _money(r["revenue"])) for r in _rows(by_month)
    )

    kept = items.join(orders.select("order_id"), "order_id")
    line_revenue = kept.unit_price * kept.quantity - kept.discount
    by_category = (
        kept.mutate(revenue=line_revenue)
        .group_by("category")
        .agg(revenue=lambda t: t.revenue.sum())
        .order_by(ibis.desc("revenue"))
    )
    top_products = (
        kept.mutate(revenue=line_revenue)
        .group_by("product_id")
        .agg(units=lambda t: t.quantity.sum(), revenue=lambda t: t.revenue.sum())
        .order_by([ibis.desc("revenue"), "product_id"])
        .limit(top)
        .join(products.select("product_id", "name"), "product_id", how="left")
        .order_by([ibis.desc("revenue"), "product_id"])
    )
    top_events = (
        events.filter(events.event.notnull())
        .group_by("event")
        .agg(n=lambda t: t.count())
        .order_by([ibis.desc("n"), "event"])
        .limit(top)
    )
    n_buyers = int(buyers["buyers"] or 0)
    return Summary(
        customer_records=warehouse.count("customers"),
        buying_customers=n_buyers,
        repeat_rate=(int(buyers["repeat"] or 0) / n_buyers) if n_buyers else 0.0,
        products=warehouse.count("products"),
        events=warehouse.count("events"),
        first_order=span["first"],
        last_order=span["last"],
        channels=channels,
        revenue_by_month=revenue_by_month,
        revenue_by_category=[(r["category"], _money(r["revenue"])) for r in _rows(by_category)],
        top_products=[
            (r["product_id"], r["name"] or "", int(r["units"]), _money(r["revenue"]))
            for r in _rows(top_products)
        ],
        top_events=[(r["event"], int(r["n"])) for r in _rows(top_events)],
    )


def _rows(expr: Any) -> list[dict[str, Any]]:
    return list(expr.to_pyarrow().to_pylist())


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))
