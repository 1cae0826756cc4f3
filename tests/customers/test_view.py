from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from lifetide.context import Lifetide
from lifetide.customers.view import (
    CustomerNotFound,
    Recommendation,
    customer_view,
    find_customers,
)
from lifetide.ops.database import transaction
from lifetide.ops.models import Customer, Identity
from lifetide.settings import load_settings
from tests.customers import shop


@pytest.fixture(scope="module")
def ada_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lifetide]:
    """Built once: these tests only read."""
    data = tmp_path_factory.mktemp("ada-shop") / "data"
    with Lifetide(load_settings(data_dir=data, env="test")) as app:
        shop.build(app)
        yield app


def test_the_profile_identifiers_traits_and_consents(ada_shop: Lifetide) -> None:
    view = customer_view(ada_shop, 11)

    assert (view.profile_id, view.first_name, view.last_name) == (11, "Ada", "Lovelace")
    assert (view.email, view.phone, view.country) == ("ada@example.com", "+14155550101", "GB")
    assert view.traits == {"vip": True, "favourite_store": "Soho"}
    assert [(i.kind, i.value, i.source) for i in view.identifiers] == [
        ("anonymous_id", "dev-ada", "web"),
        ("crm_id", "crm-ada", "crm"),
        ("email", "ada@example.com", "ecommerce"),
        ("loyalty_id", "L-777", "pos"),
        ("phone", "+14155550101", "crm"),
        ("user_id", "u-ada", "ecommerce"),
    ]
    assert [(c.channel, c.status, c.source) for c in view.consents] == [
        ("email", "granted", "crm"),
        ("sms", "denied", "pos"),
    ]
    assert not view.merged


def test_a_merged_profile_leads_to_its_survivor(ada_shop: Lifetide) -> None:
    view = customer_view(ada_shop, 10)

    assert (view.profile_id, view.requested_id, view.merged) == (11, 10, True)


def test_a_missing_profile_is_not_found(ada_shop: Lifetide) -> None:
    with pytest.raises(CustomerNotFound, match="no customer profile 404"):
        customer_view(ada_shop, 404)


def test_predictions_and_recommendations_with_product_facts(ada_shop: Lifetide) -> None:
    view = customer_view(ada_shop, 11)

    assert view.predictions == {
        "profile_id": 11,
        "lifecycle_stage": "active",
        "clv_12m": 120.25,
        "as_of": dt.date(2026, 5, 31),
        "top_categories": ["skincare", "haircare"],
    }
    assert view.recommendations == (
        Recommendation(1, "p2", "Night Lipstick", "makeup", "Hue", 40.0, 0.9, "als"),
        Recommendation(2, "p3", "Silk Shampoo", "haircare", "Mane", 25.0, 0.5, "popularity"),
    )


def test_before_scoring_there_are_no_predictions_or_recommendations(app: Lifetide) -> None:
    shop.build(app, scored=False)

    view = customer_view(app, 11)

    assert view.predictions is None
    assert view.recommendations == ()
    assert len(view.timeline) == 6


def test_the_timeline_newest_first_with_orders_messages_and_events(ada_shop: Lifetide) -> None:
    timeline = customer_view(ada_shop, 11).timeline

    assert [(t.kind, t.at, t.title) for t in timeline] == [
        ("message", dt.datetime(2026, 5, 5, 8), "Email Bounced"),
        ("message", dt.datetime(2026, 5, 4, 8), "Email Opened"),
        # The Order Completed event of o1 is left out: the order is shown.
        ("order", dt.datetime(2026, 5, 3, 11), "Order o1"),
        ("event", dt.datetime(2026, 5, 2, 10), "Product Viewed"),
        ("event", dt.datetime(2026, 5, 2, 9), "Home"),
        ("order", dt.datetime(2026, 4, 20, 15, 30), "Order o2"),
    ]
    assert timeline[0].details == {"campaign_id": "may-news"}
    assert timeline[2].details == {
        "order_id": "o1",
        "channel": "online",
        "status": "completed",
        "total": 63.0,
        "items": 2,
        "promo_code": "SPRING",
    }
    assert timeline[3].details == {
        "product_id": "p1",
        "category": "skincare",
        "brand": "Glow",
        "price": 30.0,
        "summary": "product_id: p1, name: Rose Cleanser, price: 30",
    }
    assert timeline[4].details == {"summary": "path: /, title: Home"}


def test_the_timeline_stops_at_200(app: Lifetide) -> None:
    shop.build(app)
    app.warehouse.duckdb.execute(
        "INSERT INTO events (message_id, type, event, timestamp, user_id)"
        " SELECT 'bulk' || i, 'track', 'Product Viewed', TIMESTAMP '2026-01-01' + i * INTERVAL 1"
        " MINUTE, 'u-ada' FROM range(300) AS r(i)"
    )

    timeline = customer_view(app, 11).timeline

    assert len(timeline) == 200
    assert timeline[0].title == "Email Bounced"
    assert timeline[-1].at > dt.datetime(2026, 1, 1)


def test_to_json_is_plain_json(ada_shop: Lifetide) -> None:
    data = json.loads(json.dumps(customer_view(ada_shop, 10).to_json()))

    assert data["profile_id"] == 11
    assert data["merged"] is True
    assert data["predictions"]["as_of"] == "2026-05-31"
    assert data["timeline"][2]["at"] == "2026-05-03T11:00:00"
    assert data["identifiers"][0]["first_seen_at"].startswith("2026-05-01T09:00:00")
    assert data["recommendations"][0]["name"] == "Night Lipstick"


@pytest.mark.parametrize(
    ("query", "matched_on"),
    [
        ("  ADA@Example.com ", "email"),
        ("(415) 555-0101", "phone"),
        ("crm-ada", "crm_id"),
        ("dev-ada", "anonymous_id"),
        ("L-777", "loyalty_id"),
        ("11", "profile_id"),
        ("10", "profile_id"),
        ("ada@", "email prefix"),
    ],
)
def test_find_customers_by_any_identifier(ada_shop: Lifetide, query: str, matched_on: str) -> None:
    found = find_customers(ada_shop, query)

    assert [(m.profile_id, m.first_name, m.matched_on) for m in found] == [(11, "Ada", matched_on)]


def test_find_customers_with_nothing_to_find(ada_shop: Lifetide) -> None:
    assert find_customers(ada_shop, "nobody@example.com") == []
    assert find_customers(ada_shop, "   ") == []
    assert find_customers(ada_shop, "9999") == []
    # LIKE wildcards in the query are taken literally.
    assert find_customers(ada_shop, "%%%") == []


@pytest.mark.parametrize("query", ["99999999999999999999", "9223372036854775808", "1" * 5000, "١١"])
def test_a_number_that_is_no_possible_profile_id_matches_nothing(
    ada_shop: Lifetide, query: str
) -> None:
    # Past a signed 64-bit integer (or not ASCII digits): no id lookup, and no overflow.
    assert find_customers(ada_shop, query) == []


def test_email_prefixes_match_from_the_start_only(ada_shop: Lifetide) -> None:
    assert find_customers(ada_shop, "example.com") == []
    assert [m.profile_id for m in find_customers(ada_shop, "bo@ex")] == [12]
    # Two characters are too few to search by.
    assert find_customers(ada_shop, "bo") == []


def test_find_customers_stops_at_the_limit(app: Lifetide) -> None:
    shop.build(app, scored=False)
    with transaction(app.sessions) as session:
        session.add(
            Customer(id=13, email="ada@example.org", created_at=shop.T0, updated_at=shop.T0)
        )
        session.add(
            Identity(
                customer_id=13,
                kind="email",
                value="ada@example.org",
                first_seen_at=shop.T0,
                last_seen_at=shop.T0,
            )
        )

    assert [m.profile_id for m in find_customers(app, "ada@")] == [11, 13]
    assert [m.profile_id for m in find_customers(app, "ada@", limit=1)] == [11]
