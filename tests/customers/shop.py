"""One customer's profile (two records merged) with events, orders, scores and recommendations.

Profile 11 is Ada; profile 10 was a duplicate merged into 11 and now points at it. Profile 12
(Bo) is someone else, whose activity must not show on Ada's page, even the event Bo sent
signed in on Ada's device (e7). Ada's e1 has both her user id and device: it shows once.
"""

from __future__ import annotations

import datetime as dt

from lifetide.context import Lifetide
from lifetide.ops.database import transaction
from lifetide.ops.models import Consent, Customer, Identity

T0 = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)

EVENTS = """
INSERT INTO events (message_id, type, event, timestamp, user_id, anonymous_id, product_id,
                    category, brand, price, order_id, campaign_id, properties) VALUES
 ('e1', 'track', 'Product Viewed', '2026-05-02 10:00', 'u-ada', 'dev-ada', 'p1', 'skincare', 'Glow',
  30, NULL, NULL, '{"product_id": "p1", "name": "Rose Cleanser", "price": 30}'),
 ('e2', 'page', 'Home', '2026-05-02 09:00', NULL, 'dev-ada', NULL, NULL, NULL, NULL, NULL, NULL,
  '{"path": "/", "title": "Home"}'),
 ('e3', 'track', 'Order Completed', '2026-05-03 11:00', 'u-ada', NULL, NULL, NULL, NULL, NULL,
  'o1', NULL, '{"order_id": "o1"}'),
 ('e4', 'track', 'Email Opened', '2026-05-04 08:00', 'u-ada', NULL, NULL, NULL, NULL, NULL, NULL,
  'spring-sale', '{"campaign_id": "spring-sale"}'),
 ('e5', 'track', 'Email Bounced', '2026-05-05 08:00', 'crm-ada', NULL, NULL, NULL, NULL, NULL,
  NULL, 'may-news', NULL),
 ('e6', 'track', 'Product Viewed', '2026-05-06 08:00', 'u-bo', 'dev-bo', 'p2', 'makeup', 'Hue',
  40, NULL, NULL, '{}'),
 ('e7', 'track', 'Product Viewed', '2026-05-07 08:00', 'u-bo', 'dev-ada', 'p2', 'makeup', 'Hue',
  40, NULL, NULL, '{}')
"""
ORDERS = """
INSERT INTO orders (order_id, customer_id, ordered_at, channel, status, promo_code, currency,
                    subtotal, discount, shipping, tax, total) VALUES
 ('o1', 'u-ada', '2026-05-03 11:00', 'online', 'completed', 'SPRING', 'USD', 60, 6, 4, 5, 63),
 ('o2', 'crm-ada', '2026-04-20 15:30', 'store', 'completed', NULL, 'USD', 25, 0, 0, 2, 27),
 ('o3', 'u-bo', '2026-05-03 12:00', 'online', 'completed', NULL, 'USD', 40, 0, 0, 0, 40)
"""
ITEMS = """
INSERT INTO order_items (order_id, line_number, product_id, category, brand, unit_price,
                         quantity, discount, clearance, returned) VALUES
 ('o1', 1, 'p1', 'skincare', 'Glow', 30, 2, 6, false, false),
 ('o2', 1, 'p3', 'haircare', 'Mane', 25, 1, 0, false, false),
 ('o3', 1, 'p2', 'makeup', 'Hue', 40, 1, 0, false, false)
"""
PRODUCTS = """
INSERT INTO products (product_id, name, category, brand, price, price_tier, replenishable) VALUES
 ('p1', 'Rose Cleanser', 'skincare', 'Glow', 30, 'mid', true),
 ('p2', 'Night Lipstick', 'makeup', 'Hue', 40, 'prestige', false),
 ('p3', 'Silk Shampoo', 'haircare', 'Mane', 25, 'budget', true)
"""
PREDICTIONS = """
CREATE TABLE predictions AS SELECT * FROM (VALUES
 (11::BIGINT, 'active', 120.25::DOUBLE, DATE '2026-05-31', ['skincare', 'haircare']),
 (12::BIGINT, 'new', 40.0::DOUBLE, DATE '2026-05-31', ['makeup'])
) AS t(profile_id, lifecycle_stage, clv_12m, as_of, top_categories)
"""
RECOMMENDATIONS = """
CREATE TABLE recommendations AS SELECT * FROM (VALUES
 (11::BIGINT, 2, 'p3', 0.5::DOUBLE, 'popularity'),
 (11::BIGINT, 1, 'p2', 0.9::DOUBLE, 'als'),
 (12::BIGINT, 1, 'p1', 0.7::DOUBLE, 'als')
) AS t(profile_id, rank, product_id, score, source)
"""


def build(app: Lifetide, *, scored: bool = True) -> None:
    """Write the profiles to the operational database and the activity to the warehouse."""
    with transaction(app.sessions) as session:
        ada = Customer(
            id=11,
            email="ada@example.com",
            phone="+14155550101",
            first_name="Ada",
            last_name="Lovelace",
            country="GB",
            time_zone="Europe/London",
            traits={"vip": True, "favourite_store": "Soho"},
            created_at=T0,
            updated_at=T0,
        )
        dup = Customer(id=10, email="ada@example.com", created_at=T0, updated_at=T0)
        bo = Customer(id=12, email="bo@example.com", first_name="Bo", created_at=T0, updated_at=T0)
        session.add_all([ada, bo])
        session.flush()
        dup.merged_into_id = 11
        session.add(dup)
        for kind, value, source in (
            ("user_id", "u-ada", "ecommerce"),
            ("crm_id", "crm-ada", "crm"),
            ("anonymous_id", "dev-ada", "web"),
            ("email", "ada@example.com", "ecommerce"),
            ("phone", "+14155550101", "crm"),
            ("loyalty_id", "L-777", "pos"),
        ):
            session.add(
                Identity(
                    customer_id=11,
                    kind=kind,
                    value=value,
                    source=source,
                    first_seen_at=T0,
                    last_seen_at=T0,
                )
            )
        for kind, value in (
            ("user_id", "u-bo"),
            ("anonymous_id", "dev-bo"),
            ("email", "bo@example.com"),
        ):
            session.add(
                Identity(
                    customer_id=12,
                    kind=kind,
                    value=value,
                    source="ecommerce",
                    first_seen_at=T0,
                    last_seen_at=T0,
                )
            )
        session.add(
            Consent(customer_id=11, channel="email", status="granted", source="crm", updated_at=T0)
        )
        session.add(
            Consent(customer_id=11, channel="sms", status="denied", source="pos", updated_at=T0)
        )
    con = app.warehouse.duckdb
    for statement in (EVENTS, ORDERS, ITEMS, PRODUCTS):
        con.execute(statement)
    if scored:
        con.execute(PREDICTIONS)
        con.execute(RECOMMENDATIONS)
