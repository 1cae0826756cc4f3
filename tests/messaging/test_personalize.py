"""Message contexts from a real (small) warehouse and operational database, built in batches.

Ada is profile 11; profile 10 was her duplicate, merged into 11. Bo (12) signed in on Ada's
device once: what he viewed there is his, not hers. Cart c-ada: two p1 added, a p2 added and
removed again, and p9, a product the catalog does not know, described by its event. An event
after the clock's now is in the warehouse and must not show.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from email.utils import parseaddr
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.messaging.personalize import ContextRequest, MessageContexts
from lifetide.messaging.promos import IssuedCode
from lifetide.messaging.template_store import bundled_templates
from lifetide.messaging.templates import render_email
from lifetide.ops.database import transaction
from lifetide.ops.models import Customer, Identity
from lifetide.settings import Settings

NOW = dt.datetime(2026, 5, 10, 12, 0, tzinfo=dt.UTC)

PRODUCTS = """
INSERT INTO products (product_id, name, category, brand, price, price_tier, replenishable,
                      image_url, url) VALUES
 ('p1', 'Rose Cleanser', 'skincare', 'Glow', 30, 'mid', true,
  'https://shop.example.com/i/p1.jpg', 'https://shop.example.com/p/p1'),
 ('p2', 'Night Lipstick', 'makeup', 'Hue', 40, 'prestige', false,
  'https://shop.example.com/i/p2.jpg', 'https://shop.example.com/p/p2'),
 ('p3', 'Silk Shampoo', 'haircare', 'Mane', 25, 'budget', true, NULL, NULL),
 ('p4', 'Day Serum', 'skincare', 'Glow', 55.5, 'prestige', true, NULL, NULL),
 ('p5', 'Brow Pencil', 'makeup', 'Hue', 12, 'budget', false, NULL, NULL),
 ('p6', 'Hair Oil', 'haircare', 'Mane', 18, 'mid', false, NULL, NULL),
 ('p7', 'Lip Balm', 'skincare', 'Glow', 6, 'budget', true, NULL, NULL)
"""
EVENTS = """
INSERT INTO events (message_id, type, event, timestamp, user_id, anonymous_id, product_id,
                    category, brand, price, quantity, cart_id, properties) VALUES
 ('a1', 'track', 'Product Added', '2026-05-10 10:00', 'u-ada', 'dev-ada', 'p1', 'skincare',
  'Glow', 30, 2, 'c-ada', '{"name": "Rose Cleanser"}'),
 ('a2', 'track', 'Product Added', '2026-05-10 10:01', 'u-ada', 'dev-ada', 'p2', 'makeup',
  'Hue', 40, NULL, 'c-ada', '{}'),
 ('a3', 'track', 'Product Added', '2026-05-10 10:02', 'u-ada', 'dev-ada', 'p9', 'gifts',
  'Wrap', 4.5, 1, 'c-ada',
  '{"name": "Gift Wrap", "image_url": "https://cdn.example.com/wrap.png", "url": "https://shop.example.com/p/p9"}'),
 ('a4', 'track', 'Product Removed', '2026-05-10 10:03', 'u-ada', 'dev-ada', 'p2', 'makeup',
  'Hue', 40, 1, 'c-ada', '{}'),
 ('a5', 'track', 'Product Added', '2026-05-10 13:00', 'u-ada', 'dev-ada', 'p3', 'haircare',
  'Mane', 25, 1, 'c-ada', '{}'),
 ('b1', 'track', 'Product Added', '2026-05-10 09:00', 'u-bo', 'dev-bo', 'p2', 'makeup',
  'Hue', 40, 1, 'c-bo', '{}'),
 ('b2', 'track', 'Product Added', '2026-05-10 10:30', 'u-bo', 'dev-bo', 'p7', 'skincare',
  'Glow', 6, 1, 'c-ada', '{"name": "Claim your refund", "url": "https://evil.test/login"}'),
 ('v1', 'track', 'Product Viewed', '2026-05-09 10:00', 'u-ada', NULL, 'p4', NULL, NULL, NULL,
  NULL, NULL, '{}'),
 ('v2', 'track', 'Product Viewed', '2026-05-09 11:00', NULL, 'dev-ada', 'p5', NULL, NULL, NULL,
  NULL, NULL, '{}'),
 ('v3', 'track', 'Product Viewed', '2026-05-09 12:00', 'u-bo', 'dev-ada', 'p6', NULL, NULL, NULL,
  NULL, NULL, '{}'),
 ('v4', 'track', 'Product Viewed', '2026-05-09 13:00', 'crm-ada', NULL, 'p4', NULL, NULL, NULL,
  NULL, NULL, '{}'),
 ('v5', 'track', 'Product Viewed', '2026-05-11 09:00', 'u-ada', NULL, 'p7', NULL, NULL, NULL,
  NULL, NULL, '{}'),
 ('v6', 'track', 'Product Viewed', '2026-05-08 09:00', 'u-ada', NULL, 'p1', NULL, NULL, NULL,
  NULL, NULL, '{}'),
 ('v7', 'page', 'Product Viewed', '2026-05-09 09:00', 'u-ada', NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, '{}')
"""
PREDICTIONS = """
CREATE TABLE predictions AS SELECT * FROM (VALUES
 (11::BIGINT, 'active', 120.25::FLOAT8, DATE '2026-05-20', 'p3'),
 (12::BIGINT, 'new', 40.0::FLOAT8, NULL::DATE, NULL::VARCHAR)
) AS t(profile_id, lifecycle_stage, clv_12m, next_replenishment_due, next_replenishment_product)
"""
RECOMMENDATIONS = """
CREATE TABLE recommendations AS SELECT * FROM (VALUES
 (11::BIGINT, 1::INT, 'p1', 0.9::FLOAT8, 'als'),
 (11::BIGINT, 2::INT, 'p4', 0.8::FLOAT8, 'als'),
 (11::BIGINT, 3::INT, 'p5', 0.7::FLOAT8, 'als'),
 (11::BIGINT, 4::INT, 'p6', 0.6::FLOAT8, 'als'),
 (11::BIGINT, 5::INT, 'p7', 0.5::FLOAT8, 'als'),
 (11::BIGINT, 6::INT, 'p2', 0.4::FLOAT8, 'popularity'),
 (12::BIGINT, 1::INT, 'p3', 0.7::FLOAT8, 'als')
) AS t(profile_id, rank, product_id, score, source)
"""
OFFER = IssuedCode("P10-ABCD2345", "percent_off", 10.0, NOW + dt.timedelta(days=3))


def _customers(app: Lifetide) -> None:
    with transaction(app.sessions) as session:
        for cid, first, email, traits in (
            (11, "Ada", "ada@example.com", {"vip": True}),
            (12, "Bo", "bo@example.com", {}),
        ):
            session.add(
                Customer(
                    id=cid, email=email, first_name=first, last_name="L", phone=None,
                    time_zone="Europe/London", country="GB", traits=traits, created_at=NOW,
                    updated_at=NOW,
                )
            )  # fmt: skip
        session.flush()
        session.add(
            Customer(id=10, first_name="Old Ada", traits={}, merged_into_id=11, created_at=NOW,
                     updated_at=NOW)
        )  # fmt: skip
        for cid, kind, value in (
            (11, "user_id", "u-ada"),
            (11, "crm_id", "crm-ada"),
            (11, "anonymous_id", "dev-ada"),
            (11, "email", "ada@example.com"),
            (12, "user_id", "u-bo"),
            (12, "anonymous_id", "dev-bo"),
        ):
            session.add(
                Identity(customer_id=cid, kind=kind, value=value, source="test",
                         first_seen_at=NOW, last_seen_at=NOW)
            )  # fmt: skip


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Lifetide]:
    """DuckDB (compiled SQL, Arrow inputs), or PostgreSQL as another Ibis engine (memtables)."""
    if request.param == "duckdb":
        with Lifetide(settings, clock=ManualClock(NOW)) as lifetide:
            _fill(lifetide)
            yield lifetide
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"lt_wh_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    address = make_url(url).set(drivername="postgres", query={"options": f"-csearch_path={schema}"})
    warehouse = address.render_as_string(hide_password=False)
    try:
        with Lifetide(
            settings.model_copy(update={"warehouse_url": warehouse}), ManualClock(NOW)
        ) as lt:
            _fill(lt)
            yield lt
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _sql(app: Lifetide, statement: str) -> None:
    if app.warehouse.is_duckdb:
        app.warehouse.duckdb.execute(statement)
    else:
        app.warehouse.backend.raw_sql(statement)


def _fill(app: Lifetide) -> None:
    _sql(app, PRODUCTS)
    _sql(app, EVENTS)
    _customers(app)
    # Loaded around the journal loader: copied to recent activity as an import does.
    app.activity.copy_from(app.warehouse)


def _scored(app: Lifetide) -> None:
    _sql(app, PREDICTIONS)
    _sql(app, RECOMMENDATIONS)


def _request(profile: int, key: str | None = "c-ada", **kw: Any) -> ContextRequest:
    return ContextRequest(profile, 3, "first_email", key, f"{profile}:first_email:1", **kw)


def test_a_full_context(app: Lifetide) -> None:
    _scored(app)
    [context] = MessageContexts(app).build([_request(11, offer=OFFER)])
    assert context["customer"] == {
        "id": 11, "first_name": "Ada", "last_name": "L", "email": "ada@example.com",
        "phone": None, "time_zone": "Europe/London", "country": "GB", "traits": {"vip": True},
    }  # fmt: skip
    assert context["predictions"]["lifecycle_stage"] == "active"
    assert context["predictions"]["clv_12m"] == 120.25
    cart = context["cart"]
    assert [
        (i["product_id"], i["name"], i["quantity"], i["price"], i["line_total"])
        for i in cart["items"]
    ] == [
        ("p1", "Rose Cleanser", 2, Decimal("30.00"), Decimal("60.00")),
        ("p9", "Gift Wrap", 1, Decimal("4.50"), Decimal("4.50")),
    ]
    assert cart["items"][0]["image_url"] == "https://shop.example.com/i/p1.jpg"
    # Not in the catalog: its name comes from the event, never a link or an image.
    assert (cart["items"][1]["image_url"], cart["items"][1]["url"]) == (None, None)
    assert (cart["id"], cart["total"], cart["quantity"]) == ("c-ada", Decimal("64.50"), 3)
    assert cart["url"] == "https://shop.example.com/cart"
    # Newest view first; a device's view counts when no one was signed in; Bo's does not.
    assert [(v["product_id"], v["viewed_at"]) for v in context["viewed"]] == [
        ("p4", dt.datetime(2026, 5, 9, 13, 0)),
        ("p5", dt.datetime(2026, 5, 9, 11, 0)),
        ("p1", dt.datetime(2026, 5, 8, 9, 0)),
    ]
    assert context["viewed"][0]["name"] == "Day Serum"
    # By rank, without what is already in the cart, four at most.
    assert [p["product_id"] for p in context["recommendations"]] == ["p4", "p5", "p6", "p7"]
    assert context["recommendations"][0] == {
        "product_id": "p4", "name": "Day Serum", "price": Decimal("55.50"), "image_url": None,
        "url": None, "category": "skincare", "brand": "Glow",
    }  # fmt: skip
    assert context["replenishment"]["product"]["name"] == "Silk Shampoo"
    assert context["replenishment"]["due"] == dt.date(2026, 5, 20)
    assert context["offer"] == OFFER.context()
    assert context["shop"] == {"name": "Lifetide Demo Shop", "url": "https://shop.example.com"}
    assert context["message"] == {"key": "11:first_email:1", "journey_id": 3, "step": "first_email"}


def test_a_batch_follows_merges_and_keeps_people_apart(app: Lifetide) -> None:
    _scored(app)
    contexts = MessageContexts(app).build(
        [_request(10), _request(12, "c-bo"), _request(99, None), _request(11, "no-such-cart")]
    )
    merged, bo, unknown, empty = contexts
    assert merged["customer"]["id"] == 11 and merged["customer"]["first_name"] == "Ada"
    assert [i["product_id"] for i in merged["cart"]["items"]] == ["p1", "p9"]
    assert merged["message"]["key"] == "10:first_email:1"
    assert [i["product_id"] for i in bo["cart"]["items"]] == ["p2"]
    assert [v["product_id"] for v in bo["viewed"]] == ["p6"]
    assert [p["product_id"] for p in bo["recommendations"]] == ["p3"]
    assert bo["replenishment"] is None and bo["offer"] is None
    assert unknown["customer"]["id"] == 99 and unknown["customer"]["first_name"] is None
    assert (unknown["cart"]["items"], unknown["viewed"], unknown["recommendations"]) == ([], [], [])
    assert unknown["predictions"] == {}
    assert empty["cart"]["items"] == [] and empty["cart"]["total"] == Decimal("0.00")


def test_before_the_first_scoring_run_lists_are_empty(app: Lifetide) -> None:
    [context] = MessageContexts(app, shop_url="https://www.example.org/").build([_request(11)])
    assert context["predictions"] == {}
    assert context["recommendations"] == []
    assert context["replenishment"] is None
    assert [i["product_id"] for i in context["cart"]["items"]] == ["p1", "p9"]
    assert context["shop"]["url"] == "https://www.example.org"
    rendered = render_email(bundled_templates()["cart-reminder"], context)
    assert "Rose Cleanser" in rendered.html and "Gift Wrap" in rendered.html
    assert "You might also like" not in rendered.html


def test_the_shop_settings_name_the_shop_in_every_context(app: Lifetide) -> None:
    app.settings = app.settings.model_copy(
        update={"shop_name": "Glow & Co", "shop_url": "https://glow.example/"}
    )
    [context] = MessageContexts(app).build([_request(11)])
    assert context["shop"] == {"name": "Glow & Co", "url": "https://glow.example"}
    # Unset, the sender's name and the catalog's site (the products' pages) stand in.
    app.settings = app.settings.model_copy(update={"shop_name": None, "shop_url": None})
    [context] = MessageContexts(app).build([_request(11)])
    assert context["shop"]["name"] == parseaddr(app.settings.email_from)[0]


def test_later_events_show_once_the_clock_reaches_them(app: Lifetide) -> None:
    contexts = MessageContexts(app)
    assert isinstance(app.clock, ManualClock)
    app.clock.advance(dt.timedelta(days=1))
    [context] = contexts.build([_request(11)])
    assert [i["product_id"] for i in context["cart"]["items"]] == ["p1", "p9", "p3"]
    assert context["viewed"][0]["product_id"] == "p7"


def test_reads_are_per_batch_not_per_message(app: Lifetide) -> None:
    _scored(app)
    contexts = MessageContexts(app)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(app.ops_engine, "before_cursor_execute", count)
    try:
        contexts.build([_request(11)])
        one = len(statements)
        statements.clear()
        many = contexts.build([_request(p, f"c-{i}") for i, p in enumerate([10, 11, 12, 99] * 75)])
        assert len(statements) == one
    finally:
        event.remove(app.ops_engine, "before_cursor_execute", count)
    assert len(many) == 300


def test_contexts_build_on_worker_threads(app: Lifetide) -> None:
    _scored(app)
    contexts = MessageContexts(app)
    results: list[list[dict[str, Any]]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(contexts.build([_request(11), _request(12, "c-bo")]))
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert [[c["customer"]["first_name"] for c in r] for r in results] == [["Ada", "Bo"]] * 2


def test_an_empty_batch_reads_nothing(app: Lifetide) -> None:
    assert MessageContexts(app).build([]) == []


def test_what_the_catalog_lacks_comes_from_the_latest_event(app: Lifetide) -> None:
    _sql(
        app,
        """
        INSERT INTO events (message_id, type, event, timestamp, user_id, anonymous_id,
                            product_id, category, brand, price, quantity, cart_id, properties)
        VALUES
         ('n1', 'track', 'Product Added', '2026-05-10 08:00', 'u-ada', NULL, 'p8', 'gifts',
          'Glow', 14, 1, 'c-new', '{"name": "Kit"}'),
         ('n2', 'track', 'Product Added', '2026-05-10 08:30', 'u-ada', NULL, 'p8', 'gifts',
          'Wrap', 15, 1, 'c-new', '{"name": "Travel Kit"}'),
         ('n3', 'track', 'Product Viewed', '2026-05-10 09:00', 'u-ada', NULL, 'p10', 'tools',
          'Hue', 9, NULL, NULL, '{"name": "Old Brush"}'),
         ('n4', 'track', 'Product Viewed', '2026-05-10 09:30', 'u-ada', NULL, 'p10', 'tools',
          'Hue', 8, NULL, NULL, '{"name": "Brush"}')
        """,
    )
    app.activity.copy_from(app.warehouse)
    [context] = MessageContexts(app).build([_request(11, "c-new")])
    # Each group's latest event describes it: the cart line's, the view's.
    [line] = context["cart"]["items"]
    assert (line["product_id"], line["name"], line["brand"], line["quantity"]) == (
        "p8", "Travel Kit", "Wrap", 2,
    )  # fmt: skip
    assert (line["price"], line["line_total"]) == (Decimal("15.00"), Decimal("30.00"))
    # Not in the catalog: named by its latest view, with no link or image.
    viewed = context["viewed"][0]
    assert viewed == {
        "product_id": "p10", "name": "Brush", "price": Decimal("8.00"), "image_url": None,
        "url": None, "category": "tools", "brand": "Hue",
        "viewed_at": dt.datetime(2026, 5, 10, 9, 30),
    }  # fmt: skip
