"""Segment's V2 e-commerce spec mapped onto warehouse rows (pure).

An event keeps all its properties as JSON and also gets the ones segments and models use
(product_id, category, brand, price, quantity, cart_id, order_id, revenue, campaign_id) as
typed columns. `Order Completed` also becomes an order with its items; `identify` traits
become a customer record; `Order Refunded` marks items returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import orjson

from lifetide.clock import naive_utc

ORDER_COMPLETED = "Order Completed"
ORDER_REFUNDED = "Order Refunded"
CENT = Decimal("0.01")
_TRAIT_COLUMNS = {
    "email": "email",
    "phone": "phone",
    "first_name": "first_name",
    "firstName": "first_name",
    "last_name": "last_name",
    "lastName": "last_name",
}


@dataclass
class Rows:
    """Warehouse rows made from a run of messages, keyed by table."""

    events: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    order_items: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[tuple[str, tuple[str, ...], dt.datetime]] = field(default_factory=list)


def money(value: Any) -> Decimal | None:
    """A money amount rounded to cents, or None if it is not a finite number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def whole(value: Any) -> int | None:
    """A whole number, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    return None


def text(value: Any) -> str | None:
    """A non-empty string form of an identifier-like value, or None."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    out = str(value).strip()
    return out or None


def map_messages(messages: list[dict[str, Any]]) -> Rows:
    """Warehouse rows for normalized messages (see collect.messages.normalize)."""
    rows = Rows()
    for m in messages:
        props: Mapping[str, Any] = m["properties"]
        rows.events.append(event_row(m))
        if m["type"] == "identify" and m["userId"]:
            rows.customers.append(customer_row(m))
        elif m["type"] == "track" and m["event"] == ORDER_COMPLETED:
            order = order_rows(m)
            if order is not None:
                rows.orders.append(order[0])
                rows.order_items.extend(order[1])
        elif m["type"] == "track" and m["event"] == ORDER_REFUNDED:
            order_id = text(props.get("order_id"))
            if order_id:
                products = tuple(
                    p for p in (_product_id(item) for item in _products(props)) if p is not None
                )
                rows.refunds.append((order_id, products, naive_utc(m["timestamp"])))
    return rows


def event_row(m: Mapping[str, Any]) -> dict[str, Any]:
    """The events-table row of one message; an alias keeps its previousId in properties."""
    props: Mapping[str, Any] = m["properties"]
    if m["type"] == "alias":
        props = {**props, "previous_id": m["previousId"]}
    first = _products(props)[0] if _products(props) else {}
    source = props if _product_id(props) else first
    revenue = (
        props.get("revenue", props.get("total"))
        if m["event"] == ORDER_COMPLETED
        else props.get("revenue")
    )
    return {
        "message_id": m["messageId"],
        "type": m["type"],
        "event": m.get("event"),
        "timestamp": naive_utc(m["timestamp"]),
        "received_at": naive_utc(m["receivedAt"]),
        "user_id": m["userId"],
        "anonymous_id": m["anonymousId"],
        "product_id": _product_id(source),
        "category": text(source.get("category")),
        "brand": text(source.get("brand")),
        "price": money(source.get("price")),
        "quantity": whole(source.get("quantity")),
        "cart_id": text(props.get("cart_id")),
        "order_id": text(props.get("order_id")),
        "revenue": money(revenue),
        "campaign_id": text(props.get("campaign_id")),
        "properties": orjson.dumps(props).decode() if props else None,
        "traits": orjson.dumps(m["traits"]).decode() if m["traits"] else None,
        "context": orjson.dumps(m["context"]).decode() if m["context"] else None,
    }


def customer_row(m: Mapping[str, Any]) -> dict[str, Any]:
    """A customer record (source `api`) from an identify call's traits."""
    traits: Mapping[str, Any] = m["traits"]
    row: dict[str, Any] = {
        "customer_id": m["userId"],
        "source": "api",
        "created_at": naive_utc(m["timestamp"]),
        "updated_at": naive_utc(m["timestamp"]),
    }
    for trait, column in _TRAIT_COLUMNS.items():
        value = text(traits.get(trait))
        if value is not None:
            row[column] = value
    return row


def order_rows(m: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The order and its items from an `Order Completed` event, or None without an order_id."""
    props: Mapping[str, Any] = m["properties"]
    order_id = text(props.get("order_id"))
    if order_id is None:
        return None
    items: list[dict[str, Any]] = []
    lines = Decimal("0.00")
    for index, product in enumerate(_products(props), start=1):
        product_id = _product_id(product)
        if product_id is None:
            continue
        quantity = max(whole(product.get("quantity")) or 1, 1)
        unit_price = money(product.get("price")) or Decimal("0.00")
        lines += unit_price * quantity
        items.append(
            {
                "order_id": order_id,
                "line_number": index,
                "product_id": product_id,
                "category": text(product.get("category")) or "unknown",
                "brand": text(product.get("brand")) or "unknown",
                "unit_price": unit_price,
                "quantity": quantity,
                "discount": money(product.get("discount")) or Decimal("0.00"),
                "clearance": bool(product.get("clearance", False)),
                "returned": False,
                "returned_at": None,
            }
        )
    subtotal = money(props.get("subtotal")) or lines
    discount = money(props.get("discount")) or Decimal("0.00")
    shipping = money(props.get("shipping")) or Decimal("0.00")
    tax = money(props.get("tax")) or Decimal("0.00")
    total = money(props.get("total")) or money(props.get("revenue"))
    order = {
        "order_id": order_id,
        "customer_id": m["userId"],
        "ordered_at": naive_utc(m["timestamp"]),
        "channel": "online",
        "store_id": None,
        "status": "completed",
        "promo_code": text(props.get("coupon")),
        "currency": (text(props.get("currency")) or "USD").upper(),
        "subtotal": subtotal,
        "discount": discount,
        "shipping": shipping,
        "tax": tax,
        "total": total if total is not None else subtotal - discount + shipping + tax,
        "cart_id": text(props.get("cart_id")),
    }
    return order, items


def _products(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    products = props.get("products")
    if not isinstance(products, list):
        return []
    return [p for p in products if isinstance(p, Mapping)]


def _product_id(product: Mapping[str, Any]) -> str | None:
    return text(product.get("product_id")) or text(product.get("sku"))
