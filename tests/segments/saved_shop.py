"""A hand-built warehouse of five profiles for saved segments, refreshes and uploads.

Profiles (country):  1 ada US, 2 bo US, 3 cy GB, 4 di FR, 5 (nothing known).
Record keys: u1 -> 1 (user id), c2 -> 2, c3 -> 3, 4000 -> 4 (CRM ids), device a1 -> 1.
Orders: o1 by c2 with SPRING (skincare, BrandA), o2 by u1 (makeup, BrandB), o3 by c3 with
SPRING (skincare, BrandB). Track events: u1 viewed p1 twice, c3 added p2 to the cart; an
e-mail opened in campaign spring-launch by u1.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lifetide.segments.tables import ensure_segment_tables

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

BOUGHT_SKINCARE = {
    "root": {
        "type": "group",
        "children": [{"type": "purchase", "filters": {"categories": ["skincare"]}}],
    }
}

PROFILES = """
INSERT INTO profiles (profile_id, email, first_name, country, city) VALUES
 (1, 'ada@example.com', 'Ada', 'US', 'Austin'),
 (2, 'Bo@Example.com', 'Bo', 'US', 'Boston'),
 (3, 'cy@example.com', 'Cy', 'GB', 'London'),
 (4, 'di@example.com', 'Di', 'FR', 'Paris'),
 (5, NULL, NULL, NULL, NULL)
"""
KEYS = """
INSERT INTO profile_keys VALUES
 ('user_id', 'u1', 1), ('crm_id', 'c2', 2), ('crm_id', 'c3', 3), ('crm_id', '4000', 4),
 ('anonymous_id', 'a1', 1)
"""
ORDERS = """
INSERT INTO orders (order_id, customer_id, ordered_at, channel, status, promo_code, currency,
                    subtotal, discount, shipping, tax, total) VALUES
 ('o1', 'c2', '2026-05-01 10:00', 'online', 'completed', 'SPRING', 'USD', 60, 6, 0, 0, 54),
 ('o2', 'u1', '2026-05-02 10:00', 'store', 'completed', NULL, 'USD', 40, 0, 0, 0, 40),
 ('o3', 'c3', '2026-05-03 10:00', 'online', 'completed', 'SPRING', 'USD', 25, 0, 0, 0, 25)
"""
ITEMS = """
INSERT INTO order_items (order_id, line_number, product_id, category, brand, unit_price,
                         quantity, discount, clearance, returned) VALUES
 ('o1', 1, 'p1', 'skincare', 'BrandA', 30, 2, 6, false, false),
 ('o2', 1, 'p2', 'makeup', 'BrandB', 40, 1, 0, false, false),
 ('o3', 1, 'p3', 'skincare', 'BrandB', 25, 1, 0, false, false)
"""
PRODUCTS = """
INSERT INTO products (product_id, name, category, brand, price, price_tier, replenishable) VALUES
 ('p1', 'Rose Cleanser', 'skincare', 'BrandA', 30, 'mid', true),
 ('p2', 'Night Lipstick', 'makeup', 'BrandB', 40, 'prestige', false),
 ('p3', 'Daily Serum', 'skincare', 'BrandB', 25, 'budget', true),
 ('p4', 'Silk Shampoo', 'haircare', 'BrandC', 80, 'prestige', true)
"""
EVENTS = """
INSERT INTO events (message_id, type, event, timestamp, user_id, anonymous_id, product_id,
                    campaign_id) VALUES
 ('m1', 'track', 'Product Viewed', '2026-05-20 10:00', 'u1', NULL, 'p1', NULL),
 ('m2', 'track', 'Product Viewed', '2026-05-21 10:00', 'u1', NULL, 'p1', NULL),
 ('m3', 'track', 'Product Added', '2026-05-22 10:00', 'c3', NULL, 'p2', NULL),
 ('m4', 'track', 'Email Opened', '2026-05-23 10:00', 'u1', NULL, NULL, 'spring-launch'),
 ('m5', 'page', 'Home', '2026-05-23 11:00', NULL, 'a1', NULL, NULL)
"""


def country(code: str) -> dict[str, Any]:
    """A definition: profiles in this country."""
    return {
        "root": {
            "type": "group",
            "op": "and",
            "children": [{"type": "trait", "field": "country", "op": "eq", "value": code}],
        }
    }


def in_segment(segment_id: int, op: str = "in") -> dict[str, Any]:
    """A definition: members (or not) of another saved segment."""
    return {
        "root": {
            "type": "group",
            "children": [{"type": "segment", "segment_id": segment_id, "op": op}],
        }
    }


def build(backend: Any) -> None:
    """Fill an empty warehouse (every Lifetide table present) with this shop."""
    ensure_segment_tables(backend)
    for statement in (PROFILES, KEYS, ORDERS, ITEMS, PRODUCTS, EVENTS):
        backend.con.execute(statement)


def members_of(backend: Any, segment_id: int) -> set[int]:
    """The stored members of a segment."""
    rows = backend.con.execute(
        "SELECT profile_id FROM segment_members WHERE segment_id = ?", [segment_id]
    ).fetchall()
    return {int(r[0]) for r in rows}


def changes_of(backend: Any, segment_id: int, refresh_id: int) -> dict[str, set[int]]:
    """Who entered and who exited a segment at one refresh."""
    rows = backend.con.execute(
        "SELECT change, profile_id FROM segment_changes WHERE segment_id = ? AND refresh_id = ?",
        [segment_id, refresh_id],
    ).fetchall()
    out: dict[str, set[int]] = {"entered": set(), "exited": set()}
    for change, pid in rows:
        out[str(change)].add(int(pid))
    return out
