"""`/inbound/dsn` and `/inbound/bounces` over HTTP: API tokens only, reports applied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lifetide.accounts.service import accounts_for
from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.ops.models import Suppression
from lifetide.web.app import create_app
from tests.messaging.test_feedback import (
    ADA,
    NOW,
    build_shop,
    consent_of,
    journaled,
    send_row,
    sent_message,
)
from tests.web.helpers import signed_in

Users = dict[str, tuple[str, str]]


def dsn(key: str, recipient: str = "ada@example.com", status: str = "5.1.1") -> bytes:
    """A delivery status notification as Postfix returns one, for the send `key`."""
    return f"""From: MAILER-DAEMON@mx.example.net
To: shop@lifetide.dev
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {recipient}
Action: failed
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected

--BOUNDARY
Content-Type: text/rfc822-headers

From: Lifetide Demo Shop <shop@lifetide.dev>
To: {recipient}
Subject: You left something behind
Message-ID: <{key.replace(":", ".")}@lifetide.dev>
X-Lifetide-Send: {key}

--BOUNDARY--
""".replace("\n", "\r\n").encode()


@pytest.fixture
def shop(app: Lifetide) -> Lifetide:
    app.clock = ManualClock(NOW)
    build_shop(app)
    return app


@pytest.fixture
def client(shop: Lifetide) -> Iterator[TestClient]:
    with TestClient(create_app(shop)) as test_client:
        yield test_client


def token(shop: Lifetide, users: Users, role: str) -> dict[str, str]:
    """An API token of the user with `role`, as a header."""
    accounts = accounts_for(shop)
    user = accounts.user_by_email(users[role][0])
    assert user is not None
    return {"Authorization": f"Bearer {accounts.create_token(user, 'mailbox')}"}


@pytest.fixture
def admin(shop: Lifetide, studio_users: Users) -> dict[str, str]:
    return token(shop, studio_users, "admin")


def test_a_dsn_bounces_the_send_and_suppresses_the_address(
    client: TestClient, shop: Lifetide, admin: dict[str, str]
) -> None:
    key = sent_message(shop)
    headers = admin | {"Content-Type": "message/rfc822"}

    response = client.post("/inbound/dsn", content=dsn(key), headers=headers)

    assert response.status_code == 202
    assert response.json() == {"applied": 1, "reports": 1}
    assert send_row(shop, key).status == "bounced"
    with shop.sessions() as session:
        stored = session.execute(select(Suppression.address, Suppression.reason)).all()
    assert stored == [("ada@example.com", "hard_bounce")]
    assert [e["event"] for e in journaled(shop)] == ["Email Bounced"]


def test_a_message_that_is_no_bounce_is_refused_with_the_reason(
    client: TestClient, admin: dict[str, str]
) -> None:
    plain = b"From: ada@example.com\r\nSubject: Hello\r\n\r\nJust saying hi.\r\n"
    response = client.post(
        "/inbound/dsn", content=plain, headers=admin | {"Content-Type": "text/plain"}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("not a bounce or complaint report: ")

    wrong_type = client.post(
        "/inbound/dsn", content=plain, headers=admin | {"Content-Type": "application/json"}
    )
    assert wrong_type.status_code == 415
    assert "message/rfc822" in wrong_type.json()["detail"]
    empty = client.post(
        "/inbound/dsn", content=b"  ", headers=admin | {"Content-Type": "text/plain"}
    )
    assert empty.status_code == 400


def test_provider_events_are_applied(
    client: TestClient, shop: Lifetide, admin: dict[str, str]
) -> None:
    key = sent_message(shop)
    events = [
        {"type": "bounce", "recipient": "ada@example.com", "bounce_type": "hard", "send_key": key},
        {"event": "spamreport", "email": "bo@example.com"},
    ]

    response = client.post("/inbound/bounces", json=events, headers=admin)

    assert response.status_code == 202
    assert response.json() == {"applied": 2, "reports": 2}
    assert send_row(shop, key).status == "bounced"
    assert consent_of(shop, 12, "email") == ("denied", "provider webhook")
    assert consent_of(shop, ADA, "email") == ("granted", "crm")


def test_bad_provider_events_say_what_is_wrong(client: TestClient, admin: dict[str, str]) -> None:
    bad_json = client.post(
        "/inbound/bounces",
        content=b'{"type": "bounce",',
        headers=admin | {"Content-Type": "application/json"},
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["detail"].startswith("the body is not valid JSON: line 1, column")

    delivered = client.post(
        "/inbound/bounces", json={"type": "delivered", "recipient": "a@b.com"}, headers=admin
    )
    assert delivered.status_code == 422
    assert "event 0" in delivered.json()["detail"]


def test_only_an_admin_api_token_may_post(
    client: TestClient, shop: Lifetide, studio_users: Users
) -> None:
    event = {"type": "bounce", "recipient": "ada@example.com", "bounce_type": "hard"}
    assert client.post("/inbound/bounces", json=event).status_code == 401
    marketer = token(shop, studio_users, "marketer")
    assert client.post("/inbound/bounces", json=event, headers=marketer).status_code == 403
    # A signed-in browser, even an admin's with the CSRF token, is not an integration.
    csrf = signed_in(client, *studio_users["admin"])
    browser = client.post("/inbound/bounces", json=event, headers={"X-CSRF-Token": csrf})
    assert browser.status_code == 403
    assert "API token" in browser.json()["detail"]
    with shop.sessions() as session:
        assert session.scalars(select(Suppression)).all() == []
