"""The real Segment and RudderStack Python SDKs deliver to Lifetide unchanged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from lifetide.collect.loader import WarehouseLoader
from lifetide.context import Lifetide
from lifetide.identity.live import LiveIdentity
from lifetide.identity.profiles import find_profile_id, profile_view
from tests.collect.server import server_thread


@pytest.fixture
def served(app: Lifetide) -> Iterator[tuple[Lifetide, str, str]]:
    key = app.sources.create("sdk").write_key
    with server_thread(app) as url:
        yield app, url, key


def _segment_client(url: str, key: str, errors: list[Any]) -> Any:
    from segment.analytics import Client

    return Client(key, host=url, max_retries=0, on_error=lambda e, b: errors.append(e))


def _rudder_client(url: str, key: str, errors: list[Any]) -> Any:
    from rudderstack.analytics import Client

    return Client(key, host=url, max_retries=0, on_error=lambda e, b: errors.append(e))


@pytest.mark.parametrize(
    "make_client", [_segment_client, _rudder_client], ids=["segment", "rudder"]
)
def test_sdk_calls_arrive_deduplicated_on_the_right_ids(
    served: tuple[Lifetide, str, str], make_client: Any
) -> None:
    app, url, key = served
    errors: list[Any] = []
    client = make_client(url, key, errors)
    when = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    client.page(
        anonymous_id="anon-1",
        name="Home",
        properties={"url": "/"},
        timestamp=when,
        message_id="p-1",
    )
    client.track(
        anonymous_id="anon-1",
        event="Product Added",
        properties={"product_id": "P1", "price": 12.5, "quantity": 1, "cart_id": "cart-1"},
        timestamp=when,
        message_id="t-1",
    )
    client.identify(
        user_id="u-1", anonymous_id="anon-1", traits={"email": "ana@example.com"}, message_id="i-1"
    )
    client.alias(previous_id="anon-1", user_id="u-1", message_id="a-1")
    client.track(
        user_id="u-1", event="Checkout Started", properties={"cart_id": "cart-1"}, message_id="t-2"
    )
    client.track(
        user_id="u-1", event="Checkout Started", properties={"cart_id": "cart-1"}, message_id="t-2"
    )
    client.flush()
    assert errors == []

    WarehouseLoader(app.journal, app.warehouse, LiveIdentity(app.sessions, app.clock)).load_all()
    con = app.warehouse.duckdb
    rows = con.execute(
        "SELECT message_id, type, event, user_id, anonymous_id, product_id, cart_id "
        "FROM events ORDER BY message_id"
    ).fetchall()
    assert rows == [
        ("a-1", "alias", None, "u-1", None, None, None),
        ("i-1", "identify", None, "u-1", "anon-1", None, None),
        ("p-1", "page", "Home", None, "anon-1", None, None),
        ("t-1", "track", "Product Added", None, "anon-1", "P1", "cart-1"),
        ("t-2", "track", "Checkout Started", "u-1", None, None, "cart-1"),
    ]
    assert con.execute("SELECT customer_id, email FROM customers").fetchall() == [
        ("u-1", "ana@example.com")
    ]
    # The anonymous visit before sign-in is on the signed-in person's profile, history included.
    view = profile_view(
        app.sessions, app.warehouse, find_profile_id(app.sessions, "ana@example.com")
    )
    assert {(k, v) for k, v, _ in view.identities} >= {
        ("user_id", "u-1"),
        ("anonymous_id", "anon-1"),
    }
    assert {e["event"] for e in view.events} >= {"Home", "Product Added", "Checkout Started"}
    # Clock correction moves the time by the request's transit (sentAt to receivedAt) only.
    (stamp,) = con.execute("SELECT timestamp FROM events WHERE message_id = 't-1'").fetchone()
    assert abs(stamp - dt.datetime(2026, 11, 22, 10, 0)) < dt.timedelta(seconds=1)


def test_sdk_with_a_revoked_key_gets_an_error(app: Lifetide) -> None:
    key = app.sources.create("old").write_key
    app.sources.revoke("old")
    errors: list[Any] = []
    with server_thread(app) as url:
        client = _rudder_client(url, key, errors)
        client.track(user_id="u", event="x")
        client.flush()
    assert len(errors) == 1
    assert errors[0].status == 401
