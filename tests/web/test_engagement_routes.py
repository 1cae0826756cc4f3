"""The links in a message, over HTTP: open pixel, click redirect, one-click unsubscribe and the
preference page. No sign-in, no CSRF token: the signed token is the authority."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.messaging.links import Links
from lifetide.messaging.suppressions import Suppressions
from lifetide.messaging.tokens import LinkSigner
from lifetide.ops.models import Suppression
from lifetide.web.app import create_app
from lifetide.web.engagement import PIXEL
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

SHOP_URL = "https://shop.example.com/cart?x=1"


@pytest.fixture
def shop(app: Lifetide) -> Lifetide:
    app.clock = ManualClock(NOW)
    build_shop(app)
    return app


@pytest.fixture
def client(shop: Lifetide) -> Iterator[TestClient]:
    with TestClient(create_app(shop), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def links(shop: Lifetide) -> Links:
    return Links.from_settings(shop.settings)


def path(url: str) -> str:
    """The path of one of our links (they are under base_url)."""
    return urlsplit(url).path


def test_the_pixel_records_an_open(client: TestClient, shop: Lifetide, links: Links) -> None:
    key = sent_message(shop)

    response = client.get(path(links.open_url(key)))

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert "no-store" in response.headers["cache-control"]
    assert response.content == PIXEL
    assert send_row(shop, key).opened_at is not None
    assert [e["event"] for e in journaled(shop)] == ["Email Opened"]


def test_the_pixel_answers_the_same_for_any_token(
    client: TestClient, shop: Lifetide, links: Links
) -> None:
    key = sent_message(shop)
    click_token = path(links.click_url(key, SHOP_URL, journey_id=1, step="s", medium="email"))
    for bad in ("/t/o/nonsense", "/t/o/" + click_token.rsplit("/", 1)[1], "/t/o/eyJrIjoiMSJ9.x"):
        response = client.get(bad)
        assert response.status_code == 200
        assert response.content == PIXEL
        assert response.headers["content-type"] == "image/gif"
    assert send_row(shop, key).opened_at is None
    assert journaled(shop) == []


def test_a_click_is_recorded_and_redirected(
    client: TestClient, shop: Lifetide, links: Links
) -> None:
    key = sent_message(shop)
    url = links.click_url(key, SHOP_URL, journey_id=7, step="first_email", medium="email")

    response = client.get(path(url))

    assert response.status_code == 302
    target = response.headers["location"]
    assert target.startswith("https://shop.example.com/cart?x=1&utm_source=lifetide")
    assert "utm_campaign=journey-7" in target and "utm_content=first_email" in target
    row = send_row(shop, key)
    assert row.clicked_at is not None and row.opened_at is not None
    clicked = [e for e in journaled(shop) if e["event"] == "Email Link Clicked"]
    assert clicked[0]["properties"]["url"] == target


def test_a_bad_click_token_is_a_404_page_never_a_redirect(
    client: TestClient, shop: Lifetide, links: Links
) -> None:
    key = sent_message(shop)
    good = path(links.click_url(key, SHOP_URL, journey_id=1, step="s", medium="email"))
    signer = LinkSigner(shop.settings.secret_key.get_secret_value())
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    other_secret = LinkSigner("not our secret").sign("click", {"k": key, "u": "https://evil.test"})
    script = signer.sign("click", {"k": key, "u": "javascript:alert(1)"})
    no_host = signer.sign("click", {"k": key, "u": "https:///path"})
    for bad in (tampered, f"/t/c/{other_secret}", f"/t/c/{script}", f"/t/c/{no_host}"):
        response = client.get(bad)
        assert response.status_code == 404, bad
        assert "location" not in response.headers
        assert "This link does not work" in response.text
    assert send_row(shop, key).clicked_at is None


def test_the_preference_page_shows_the_channels(
    client: TestClient, shop: Lifetide, links: Links
) -> None:
    key = sent_message(shop)
    response = client.get(path(links.unsubscribe_url(key, ADA, "email", "ada@example.com")))

    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    page = response.text
    assert 'data-testid="address">ada@example.com<' in page
    # E-mail on (granted), SMS off (denied), both offered.
    email_box = page[page.index('name="channel_email"') :]
    assert " checked" in email_box[: email_box.index(">")]
    sms_box = page[page.index('name="channel_sms"') :]
    assert " checked" not in sms_box[: sms_box.index(">")]
    assert "Unsubscribe from all marketing" in page
    assert client.get("/u/not-a-token").status_code == 404


def test_one_click_unsubscribe_needs_no_sign_in_and_is_idempotent(
    client: TestClient, shop: Lifetide, links: Links
) -> None:
    key = sent_message(shop)
    url = path(links.unsubscribe_url(key, ADA, "email", "ada@example.com"))
    body = {"List-Unsubscribe": "One-Click"}

    first = client.post(url, data=body)
    second = client.post(url, data=body)

    assert first.status_code == 200 and second.status_code == 200
    assert "You are unsubscribed" in first.text
    assert consent_of(shop, ADA, "email") == ("denied", "one-click")
    reasons = Suppressions(shop.sessions, shop.clock).reasons("email", ["ada@example.com"])
    assert reasons["ada@example.com"] == {"unsubscribe"}
    events = [e for e in journaled(shop) if e["event"] == "Unsubscribed"]
    assert len(events) == 1 and events[0]["properties"]["send_key"] == key


def test_one_click_works_for_a_signed_in_browser_without_csrf(
    client: TestClient, shop: Lifetide, links: Links, studio_users: dict[str, tuple[str, str]]
) -> None:
    # A Studio user testing their own journey: the session cookie must not demand a CSRF token.
    signed_in(client, *studio_users["marketer"])
    url = path(links.unsubscribe_url("k", ADA, "email", "ada@example.com"))
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert consent_of(shop, ADA, "email") == ("denied", "one-click")


def test_a_post_without_the_one_click_field_changes_nothing(
    client: TestClient, shop: Lifetide, links: Links
) -> None:
    url = path(links.unsubscribe_url("k", ADA, "email", "ada@example.com"))
    response = client.post(url, data={"something": "else"})
    assert response.status_code == 400
    assert "List-Unsubscribe=One-Click" in response.text
    assert consent_of(shop, ADA, "email") == ("granted", "crm")
    assert client.post("/u/forged", data={"List-Unsubscribe": "One-Click"}).status_code == 404


def test_the_preference_form_applies_the_choices(
    client: TestClient, shop: Lifetide, links: Links
) -> None:
    url = path(links.unsubscribe_url("k", ADA, "email", "ada@example.com"))

    # E-mail off; SMS on is refused: an e-mail's link (perhaps forwarded) only turns SMS off.
    saved = client.post(f"{url}/preferences", data={"channels": "email,sms", "channel_sms": "on"})

    assert saved.status_code == 200
    assert "Your choices are saved." in saved.text
    assert consent_of(shop, ADA, "email")[0] == "denied"  # type: ignore[index]
    assert consent_of(shop, ADA, "sms")[0] == "denied"  # type: ignore[index]
    assert "+14155550101" not in saved.text

    # Everything off.
    off = client.post(
        f"{url}/preferences",
        data={"channels": "email,sms", "channel_sms": "on", "all": "unsubscribe"},
    )
    assert "You are unsubscribed from all marketing." in off.text
    assert consent_of(shop, ADA, "sms")[0] == "denied"  # type: ignore[index]

    # E-mail on again: consent granted, the unsubscribe lifted.
    client.post(f"{url}/preferences", data={"channels": "email,sms", "channel_email": "on"})
    assert consent_of(shop, ADA, "email") == ("granted", "preference page")
    with shop.sessions() as session:
        left = session.execute(select(Suppression.channel, Suppression.reason)).all()
    assert left == []  # SMS was never on, so "all off" had nothing to suppress there


def test_public_pages_name_the_shop_not_the_studio(
    client: TestClient, shop: Lifetide, links: Links
) -> None:
    page = client.get(path(links.unsubscribe_url("k", ADA, "email", "ada@example.com"))).text
    assert 'data-testid="shop">Lifetide Demo Shop<' in page
    assert "Sign out" not in page and 'class="sidebar"' not in page


def test_the_shop_name_setting_names_the_shop_on_public_pages(shop: Lifetide) -> None:
    shop.settings = shop.settings.model_copy(update={"shop_name": "Glow & Co"})
    links = Links.from_settings(shop.settings)
    with TestClient(create_app(shop), follow_redirects=False) as client:
        page = client.get(path(links.unsubscribe_url("k", ADA, "email", "ada@example.com"))).text
    assert 'data-testid="shop">Glow &amp; Co<' in page and "Messages from Glow &amp; Co" in page
