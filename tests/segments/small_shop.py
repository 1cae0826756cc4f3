"""A hand-built warehouse of six profiles whose insight figures are worked out by hand.

Segment 1 holds profiles 1, 2 and 3; segment 2 holds 3 and 4. `NOW` is the insight date, so
the 12-month window is [2025-06-01, 2026-06-01).

Orders of the members in the window (not cancelled):
  o1  profile 1 (crm c1)  online  SPRING   100 - 10 = 90   lines skincare/BrandA 2 x 30 = 60,
                                                           makeup/BrandB 40 - 10 = 30
  o2  profile 1 (user u1) store   -         50 -  0 = 50   skincare/BrandB 2 x 25 = 50
  o3  profile 2           online  SPRING    80 -  5 = 75   haircare/BrandC 80 - 5 = 75
  o9  profile 3           online  WELCOME   20 - 25 -> 0   makeup/BrandA 20 - 20 = 0
Left out: o4 (cancelled), o5 (before the window), o7 (guest), o8 (at NOW, after the window).
Non-member o6: profile 4, store, WELCOME, 300 - 30 = 270.
Predictions: 1 active 100.50, 2 active 49.50, 4 at_risk 10; profile 3 is not scored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lifetide.segments.tables import ensure_segment_tables

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

PROFILES = """
INSERT INTO profiles (profile_id, email, phone, first_name, last_name, country, city) VALUES
 (1, 'ada@example.com', '+14155550101', 'Ada', 'Lovelace', 'GB', 'London'),
 (2, 'bo@example.com', NULL, 'Bo', 'Diddley', 'US', 'Chicago'),
 (3, 'cy@example.com', '+14155550103', 'Cy', 'Twombly', 'US', 'Lexington'),
 (4, 'di@example.com', NULL, 'Di', 'Gregory', 'US', 'Boston'),
 (5, NULL, NULL, NULL, NULL, NULL, NULL),
 (6, 'fi@example.com', NULL, 'Fi', 'Glover', 'IE', 'Dublin')
"""
KEYS = """
INSERT INTO profile_keys VALUES
 ('crm_id', 'c1', 1), ('user_id', 'u1', 1), ('anonymous_id', 'a1', 1),
 ('crm_id', 'c2', 2), ('crm_id', 'c3', 3), ('crm_id', 'c4', 4), ('crm_id', 'c5', 5)
"""
ORDERS = """
INSERT INTO orders (order_id, customer_id, ordered_at, channel, status, promo_code, currency,
                    subtotal, discount, shipping, tax, total) VALUES
 ('o1', 'c1', '2026-05-01 10:00', 'online', 'completed', 'SPRING', 'USD', 100, 10, 5, 8, 103),
 ('o2', 'u1', '2026-01-10 12:00', 'store', 'completed', NULL, 'USD', 50, 0, 0, 4, 54),
 ('o3', 'c2', '2025-12-01 09:00', 'online', 'partially_returned', 'SPRING', 'USD', 80, 5, 0, 0, 75),
 ('o4', 'c2', '2026-02-01 09:00', 'online', 'cancelled', NULL, 'USD', 200, 0, 0, 0, 200),
 ('o5', 'c3', '2025-05-31 23:59', 'online', 'completed', NULL, 'USD', 60, 0, 0, 0, 60),
 ('o6', 'c4', '2026-03-01 15:00', 'store', 'completed', 'WELCOME', 'USD', 300, 30, 0, 0, 270),
 ('o7', NULL, '2026-03-02 15:00', 'online', 'completed', NULL, 'USD', 100, 0, 0, 0, 100),
 ('o8', 'c5', '2026-06-01 00:00', 'online', 'completed', NULL, 'USD', 40, 0, 0, 0, 40),
 ('o9', 'c3', '2026-04-01 08:00', 'online', 'completed', 'WELCOME', 'USD', 20, 25, 0, 0, 0)
"""
ITEMS = """
INSERT INTO order_items (order_id, line_number, product_id, category, brand, unit_price,
                         quantity, discount, clearance, returned) VALUES
 ('o1', 1, 'p1', 'skincare', 'BrandA', 30, 2, 0, false, false),
 ('o1', 2, 'p2', 'makeup', 'BrandB', 40, 1, 10, false, false),
 ('o2', 1, 'p3', 'skincare', 'BrandB', 25, 2, 0, false, false),
 ('o3', 1, 'p4', 'haircare', 'BrandC', 80, 1, 5, false, true),
 ('o4', 1, 'p1', 'skincare', 'BrandA', 200, 1, 0, false, false),
 ('o5', 1, 'p1', 'skincare', 'BrandA', 60, 1, 0, false, false),
 ('o6', 1, 'p4', 'haircare', 'BrandC', 300, 1, 30, false, false),
 ('o9', 1, 'p5', 'makeup', 'BrandA', 20, 1, 20, true, false)
"""
PRODUCTS = """
INSERT INTO products (product_id, name, category, brand, price, price_tier, replenishable) VALUES
 ('p1', 'Rose Cleanser', 'skincare', 'BrandA', 30, 'mid', true),
 ('p2', 'Night Lipstick', 'makeup', 'BrandB', 40, 'prestige', false),
 ('p3', 'Daily Serum', 'skincare', 'BrandB', 25, 'budget', true),
 ('p4', 'Silk Shampoo', 'haircare', 'BrandC', 80, 'prestige', true),
 ('p5', 'Brow Pencil', 'makeup', 'BrandA', 20, 'budget', false)
"""
MEMBERS = "INSERT INTO segment_members VALUES (1, 1), (1, 2), (1, 3), (2, 3), (2, 4)"
PREDICTIONS = """
CREATE TABLE predictions AS SELECT * FROM (VALUES
 (1::BIGINT, 'active', 100.50::DOUBLE, 0.9::DOUBLE, 3::BIGINT),
 (2::BIGINT, 'active', 49.50::DOUBLE, 0.5::DOUBLE, 1::BIGINT),
 (4::BIGINT, 'at_risk', 10.0::DOUBLE, 0.2::DOUBLE, 1::BIGINT)
) AS t(profile_id, lifecycle_stage, clv_12m, p_alive, orders)
"""


def build(backend: Any, *, predictions: bool = True) -> None:
    """Fill an empty warehouse (every Lifetide table present) with the small shop."""
    ensure_segment_tables(backend)
    con = backend.con
    for statement in (PROFILES, KEYS, ORDERS, ITEMS, PRODUCTS, MEMBERS):
        con.execute(statement)
    if predictions:
        con.execute(PREDICTIONS)
