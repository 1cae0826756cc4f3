from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lifetide.context import Lifetide
from lifetide.web.app import create_app
from tests.customers import shop
from tests.web.helpers import signed_in

Users = dict[str, tuple[str, str]]


@pytest.fixture
def client(app: Lifetide) -> Iterator[TestClient]:
    shop.build(app)
    with TestClient(create_app(app)) as client:
        yield client


@pytest.fixture
def analyst(client: TestClient, studio_users: Users) -> None:
    signed_in(client, *studio_users["analyst"])


def test_customers_need_a_sign_in(client: TestClient) -> None:
    assert client.get("/api/customers?q=ada@example.com").status_code == 401
    assert client.get("/api/customers/11").status_code == 401


def test_a_customer_page_for_any_signed_in_role(client: TestClient, analyst: None) -> None:
    response = client.get("/api/customers/10")

    assert response.status_code == 200
    data = response.json()
    assert (data["profile_id"], data["requested_id"], data["merged"]) == (11, 10, True)
    assert data["first_name"] == "Ada"
    assert data["traits"] == {"vip": True, "favourite_store": "Soho"}
    assert len(data["identifiers"]) == 6
    assert data["consents"][0]["channel"] == "email"
    assert data["predictions"]["lifecycle_stage"] == "active"
    assert data["predictions"]["top_categories"] == ["skincare", "haircare"]
    assert [r["product_id"] for r in data["recommendations"]] == ["p2", "p3"]
    assert [(t["kind"], t["title"]) for t in data["timeline"][:3]] == [
        ("message", "Email Bounced"),
        ("message", "Email Opened"),
        ("order", "Order o1"),
    ]
    assert data["timeline"][2]["at"] == "2026-05-03T11:00:00"
    assert data["timeline"][2]["details"]["total"] == 63.0


def test_a_missing_customer_is_404(client: TestClient, analyst: None) -> None:
    response = client.get("/api/customers/404")

    assert response.status_code == 404
    assert response.json()["detail"] == "no customer profile 404"


def test_search_by_email_phone_and_ids(client: TestClient, analyst: None) -> None:
    found = client.get("/api/customers", params={"q": "ADA@example.com"}).json()
    assert found == [
        {
            "profile_id": 11,
            "email": "ada@example.com",
            "phone": "+14155550101",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "country": "GB",
            "matched_on": "email",
        }
    ]
    assert client.get("/api/customers", params={"q": "u-bo"}).json()[0]["profile_id"] == 12
    assert client.get("/api/customers", params={"q": "nobody"}).json() == []
    assert client.get("/api/customers").status_code == 422


def test_an_id_past_64_bits_is_refused_not_a_server_error(
    client: TestClient, analyst: None
) -> None:
    assert client.get("/api/customers/99999999999999999999").status_code == 422
    assert client.get("/api/customers/0").status_code == 422
    assert client.get("/api/customers?q=99999999999999999999").json() == []


def test_the_customer_api_lists_messages_with_the_policys_reason_and_suppressions(
    client: TestClient, analyst: None, app: Lifetide
) -> None:
    import datetime as dt

    from lifetide.journeys.files import bundled_journeys
    from lifetide.journeys.store import JourneyStore
    from lifetide.messaging.suppressions import Suppressions
    from lifetide.ops.database import transaction
    from lifetide.ops.models import JourneySend

    store = JourneyStore(app.sessions, app.clock)
    cart = bundled_journeys()["cart_abandonment"]
    journey_id = store.create(cart.name, cart, None).id
    instance = store.open_instance(journey_id, 1, 11, "c1", step="first_email")
    assert instance is not None
    at = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)
    with transaction(app.sessions) as session:
        session.add(
            JourneySend(
                instance_id=instance,
                journey_id=journey_id,
                profile_id=11,
                idempotency_key=f"{instance}:first_email:1",
                step="first_email",
                channel="email",
                template="cart-reminder",
                marketing=True,
                status="skipped",
                reason="no marketing consent on email (opted out)",
                created_at=at,
            )
        )
    Suppressions(app.sessions, app.clock).add(
        "email", "ada@example.com", "hard_bounce", profile_id=11, detail="550 5.1.1", source="dsn"
    )
    data = client.get("/api/customers/11").json()
    (message,) = data["messages"]
    assert (message["journey"], message["status"], message["reason"]) == (
        "Cart abandonment",
        "skipped",
        "no marketing consent on email (opted out)",
    )
    assert [(s["channel"], s["reason"]) for s in data["suppressions"]] == [("email", "hard_bounce")]
