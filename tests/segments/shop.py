"""A tiny hand-made retailer whose segment answers are known by reading it.

Built through Ibis `create_table` so the same rows load into every backend the golden-answers
test compares (DuckDB, PostgreSQL). NOW is the clock of every case.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa

from lifetide.segments.tables import (
    CHANGES_SCHEMA,
    MEMBERS_SCHEMA,
    PROFILE_KEYS_SCHEMA,
    PROFILES_SCHEMA,
    Tables,
)
from lifetide.warehouse.connection import ibis_schema
from lifetide.warehouse.schema import EVENTS, ORDER_ITEMS, ORDERS

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
ALL = frozenset(range(1, 9))


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# profile_id, email, country, region, city, created_at, email_consent, birth_date
_PEOPLE = [
    (1, "ann@gmail.com", "US", "NY", "New York", "2025-01-01", True, "1990-05-01"),
    (2, "bob@yahoo.com", "US", "CA", "Los Angeles", "2026-10-20", False, None),
    (3, "cat@gmail.com", "GB", None, "London", "2024-06-01", None, "1985-01-15"),
    (4, "dan@corp.com", "US", "NY", "Albany", "2026-01-01", True, None),
    (5, "eve@GMAIL.com", None, None, None, "2026-03-01", True, None),
    (6, None, "CA", "ON", "Toronto", "2026-10-30", None, None),
    (7, None, None, None, None, "2023-01-01", None, None),
    (8, "x'; drop table orders; --@evil.com", "DE", None, None, "2026-02-01", False, None),
]

_KEYS = [
    *(("user_id", f"u{i}", i) for i in range(1, 9)),
    ("crm_id", "c5", 5),
    ("anonymous_id", "a1", 1),
    ("anonymous_id", "a6", 6),
]

# order_id, customer_id, ordered_at, channel, status, promo_code, subtotal, discount
_ORDERS = [
    ("o1", "u1", "2026-10-20 10:00", "online", "completed", "SPRING", 100, 10),
    ("o2", "u1", "2026-05-01 10:00", "store", "completed", None, 50, 0),
    ("o3", "u2", "2026-10-25 10:00", "online", "cancelled", None, 80, 0),
    ("o4", "u2", "2025-01-01 10:00", "store", "completed", None, 30, 0),
    ("o5", "c5", "2026-10-30 10:00", "online", "completed", "spring", 200, 0),
    ("o6", "u3", "2026-09-01 10:00", "online", "partially_returned", "WELCOME", 40, 5),
    ("o7", None, "2026-10-01 10:00", "store", "completed", None, 20, 0),
    ("o8", "u4", "2026-11-02 10:00", "online", "completed", None, 60, 0),
    ("o9", "u1", "2026-10-25 10:00", "online", "completed", None, 25, 0),
]

# order_id, line, product_id, category, brand, unit_price, quantity, discount, clearance, returned
_ITEMS = [
    ("o1", 1, "p1", "skincare", "Glow", 40, 2, 10, False, False),
    ("o1", 2, "p2", "makeup", "Hue", 20, 1, 0, False, False),
    ("o2", 1, "p3", "hair", "Mane", 50, 1, 0, True, False),
    ("o3", 1, "p1", "skincare", "Glow", 80, 1, 0, False, False),
    ("o4", 1, "p2", "makeup", "Hue", 30, 1, 0, False, False),
    ("o5", 1, "p1", "skincare", "Glow", 100, 2, 0, False, False),
    ("o6", 1, "p4", "skincare", "Pure", 40, 1, 5, False, True),
    ("o7", 1, "p2", "makeup", "Hue", 20, 1, 0, False, False),
    ("o8", 1, "p3", "hair", "Mane", 60, 1, 0, False, False),
    ("o9", 1, "p2", "makeup", "Hue", 25, 1, 0, False, False),
]

# user_id, anonymous_id, event, timestamp, category, campaign_id, properties
_EVENTS: list[tuple[Any, ...]] = [
    ("u1", "a1", "Product Added", "2026-10-28 09:00", "skincare", None, {"price": 40}),
    ("u1", "a1", "Order Completed", "2026-10-29 09:00", None, None, {}),
    ("u2", None, "Product Added", "2026-10-30 09:00", "makeup", None, {"price": 20}),
    ("u2", None, "Order Completed", "2026-10-01 09:00", None, None, {}),
    (None, "a6", "Product Added", "2026-10-31 09:00", "hair", None, {"price": 60}),
    ("u3", None, "Product Viewed", "2026-10-10 09:00", "skincare", None, {"color": "red"}),
    ("u3", None, "Product Viewed", "2026-10-20 09:00", "skincare", None, {"color": "blue"}),
    ("u3", None, "Product Viewed", "2026-10-30 09:00", "skincare", None, {"color": "red"}),
    ("u4", None, "Product Viewed", "2026-10-30 09:00", "makeup", None, {"color": "red"}),
    ("u4", None, "Products Searched", "2026-10-30 10:00", None, None, {"query": "serum"}),
    ("u1", None, "Email Opened", "2026-10-15 09:00", None, "c1", {}),
    ("u1", None, "Email Opened", "2025-01-01 09:00", None, "c0", {}),
    ("u1", None, "Email Delivered", "2026-10-15 08:00", None, "c1", {}),
    ("u2", None, "Email Delivered", "2026-10-15 08:00", None, "c1", {}),
    ("u3", None, "Email Bounced", "2026-10-15 08:00", None, "c1", {}),
    ("u5", None, "Unsubscribed", "2026-10-20 08:00", None, "c1", {}),
    (None, "a9", "Product Added", "2026-10-31 09:00", "hair", None, {}),
    ("u7", None, "Product Added", "2026-11-05 09:00", "hair", None, {}),
]

# profile_id, lifecycle_stage, clv_12m, future_top20, top_categories, p_alive
_PREDICTIONS = [
    (1, "loyal", 320.5, True, ["skincare", "makeup"], 0.9),
    (2, "lapsed", 12.0, False, ["makeup"], 0.2),
    (3, "active", 80.0, False, ["skincare"], 0.7),
    (4, "new", None, False, [], 0.5),
    (5, "new", 150.0, True, ["skincare"], 0.95),
]


def _profiles() -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {name: [] for name in PROFILES_SCHEMA.names}
    for pid, email, country, region, city, created, consent, birth in _PEOPLE:
        row = {
            "profile_id": pid,
            "email": email,
            "email_domain": email.rsplit("@", 1)[1].lower() if email else None,
            "phone": None,
            "first_name": None,
            "last_name": None,
            "country": country,
            "region": region,
            "city": city,
            "postal_code": None,
            "time_zone": None,
            "birth_date": dt.date.fromisoformat(birth) if birth else None,
            "created_at": _t(created),
            "email_consent": consent,
            "sms_consent": None,
        }
        for name in cols:
            cols[name].append(row[name])
    return cols


def load_shop(backend: Any, database: str | None = None) -> Tables:
    """Create the tiny retailer's tables in `backend` and return them for the compiler."""

    def make(name: str, schema: ibis.Schema, rows: dict[str, list[Any]]) -> Any:
        # JSON travels as text and is cast in the backend (PostgreSQL will not take text
        # into a json column).
        as_text = ibis.schema({n: ("string" if t.is_json() else t) for n, t in schema.items()})
        table = ibis.memtable(pa.table(rows, schema=as_text.to_pyarrow()))
        backend.create_table(name, table, database=database, overwrite=True)
        qualified = f'"{database}"."{name}"' if database else name
        for column, dtype in schema.items():
            if dtype.is_json():
                backend.raw_sql(
                    f"ALTER TABLE {qualified} ALTER COLUMN {column} TYPE JSON "
                    f"USING CAST({column} AS JSON)"
                )
        return backend.table(name, database=database)

    orders_schema = ibis_schema(ORDERS)
    orders = {name: [] for name in orders_schema.names}  # type: dict[str, list[Any]]
    for oid, cid, at, channel, status, promo, subtotal, discount in _ORDERS:
        row = {
            "order_id": oid,
            "customer_id": cid,
            "ordered_at": _t(at),
            "channel": channel,
            "store_id": None,
            "status": status,
            "promo_code": promo,
            "currency": "USD",
            "subtotal": Decimal(subtotal),
            "discount": Decimal(discount),
            "shipping": Decimal(0),
            "tax": Decimal(0),
            "total": Decimal(subtotal - discount),
            "cart_id": None,
        }
        for name in orders:
            orders[name].append(row[name])
    items_schema = ibis_schema(ORDER_ITEMS)
    items = {name: [] for name in items_schema.names}  # type: dict[str, list[Any]]
    for oid, line, pid, cat, brand, price, qty, disc, clearance, returned in _ITEMS:
        row = {
            "order_id": oid,
            "line_number": line,
            "product_id": pid,
            "category": cat,
            "brand": brand,
            "unit_price": Decimal(price),
            "quantity": qty,
            "discount": Decimal(disc),
            "clearance": clearance,
            "returned": returned,
            "returned_at": _t("2026-09-10 10:00") if returned else None,
        }
        for name in items:
            items[name].append(row[name])
    events_schema = ibis_schema(EVENTS)
    events = {name: [] for name in events_schema.names}  # type: dict[str, list[Any]]
    for i, (uid, aid, name, at, category, campaign, props) in enumerate(_EVENTS):
        row = {
            "message_id": f"m{i}",
            "type": "track",
            "event": name,
            "timestamp": _t(at),
            "received_at": _t(at),
            "user_id": uid,
            "anonymous_id": aid,
            "product_id": None,
            "category": category,
            "brand": None,
            "price": Decimal(props["price"]) if "price" in props else None,
            "quantity": None,
            "cart_id": None,
            "order_id": None,
            "revenue": None,
            "campaign_id": campaign,
            "properties": json.dumps(props),
            "traits": None,
            "context": None,
        }
        for col in events:
            events[col].append(row[col])
    predictions_schema = ibis.schema(
        {
            "profile_id": "!int64",
            "lifecycle_stage": "string",
            "clv_12m": "float64",
            "future_top20": "boolean",
            "top_categories": "array<string>",
            "p_alive": "float64",
        }
    )
    predictions = {name: [] for name in predictions_schema.names}  # type: dict[str, list[Any]]
    for row_values in _PREDICTIONS:
        for name, value in zip(predictions_schema.names, row_values, strict=True):
            predictions[name].append(value)
    keys = {
        "kind": [k for k, _, _ in _KEYS],
        "value": [v for _, v, _ in _KEYS],
        "profile_id": [p for _, _, p in _KEYS],
    }
    members = {"segment_id": [7, 7], "profile_id": [1, 2]}
    changes: dict[str, list[Any]] = {name: [] for name in CHANGES_SCHEMA.names}
    make("segment_changes", CHANGES_SCHEMA, changes)
    return Tables(
        profiles=make("profiles", PROFILES_SCHEMA, _profiles()),
        profile_keys=make("profile_keys", PROFILE_KEYS_SCHEMA, keys),
        orders=make("orders", orders_schema, orders),
        order_items=make("order_items", items_schema, items),
        events=make("events", events_schema, events),
        members=make("segment_members", MEMBERS_SCHEMA, members),
        predictions=make("predictions", predictions_schema, predictions),
    )
