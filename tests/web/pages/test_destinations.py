from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lifetide.accounts.service import accounts_for
from lifetide.context import Lifetide
from lifetide.segments.activation import SegmentActivation
from lifetide.settings import load_settings
from lifetide.web.app import create_app
from tests.segments.receiver import Receiver, receiving
from tests.web.helpers import signed_in
from tests.web.pages.conftest import SignIn

HOOK = "https://hooks.example.com/lifetide"


def _secret(page: str) -> str:
    found = re.search(r'<code id="destination-secret">([^<]+)</code>', page)
    assert found is not None
    return found.group(1)


def _add(client: TestClient, csrf: str, name: str, url: str = HOOK) -> str:
    response = client.post("/destinations", data={"csrf_token": csrf, "name": name, "url": url})
    assert response.status_code == 200, response.text
    return response.text


def test_the_destination_pages_need_a_sign_in(client: TestClient) -> None:
    page = client.get("/destinations")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/destinations"
    for path in ("/destinations", "/destinations/1/delete"):
        posted = client.post(path, data={"name": "x", "url": HOOK})
        assert posted.status_code == 303, path
        assert posted.headers["location"].startswith("/login"), path


def test_analysts_have_no_destinations(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("analyst")

    assert 'href="/destinations"' not in client.get("/segments").text
    assert client.get("/destinations").status_code == 403
    refused = client.post("/destinations", data={"csrf_token": csrf, "name": "x", "url": HOOK})
    assert refused.status_code == 403
    assert client.post("/destinations/1/delete", data={"csrf_token": csrf}).status_code == 403


def test_an_empty_list_invites_adding_one(client: TestClient, sign_in: SignIn) -> None:
    sign_in("marketer")

    page = client.get("/destinations").text

    assert 'href="/destinations" class="nav-item active"' in page
    assert "No destinations yet" in page
    assert 'action="/destinations"' in page
    assert "are refused" in page  # private addresses, as the setting is off
    assert "“Segment webhooks”" in page and "docs/api.md" in page
    assert "X-Lifetide-Signature" in page and "X-Lifetide-Timestamp" in page


def test_a_destination_is_added_with_its_secret_shown_once_listed_and_deleted(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    csrf = sign_in("marketer")

    response = client.post(
        "/destinations", data={"csrf_token": csrf, "name": " CRM sync ", "url": HOOK}
    )

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    secret = _secret(response.text)
    stored = SegmentActivation(shop).deliveries.list_destinations()
    assert [(d.name, d.url, d.secret) for d in stored] == [("CRM sync", HOOK, secret)]
    assert "“CRM sync” is added" in response.text
    assert (
        'data-copy="#destination-secret"' in response.text and "/static/js/copy.js" in response.text
    )

    listed = client.get("/destinations").text
    assert secret not in listed
    assert "CRM sync" in listed and HOOK in listed
    assert "marketer@example.com" in listed
    assert "Not pushed to yet" in listed
    assert f'action="/destinations/{stored[0].id}/delete"' in listed

    deleted = client.post(f"/destinations/{stored[0].id}/delete", data={"csrf_token": csrf})

    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/destinations"
    after = client.get("/destinations").text
    assert "Deleted “CRM sync” and its delivery history." in after
    assert "No destinations yet" in after
    assert SegmentActivation(shop).deliveries.list_destinations() == []


def test_deleting_needs_the_csrf_token_and_a_missing_one_is_a_message(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    csrf = sign_in("admin")
    _add(client, csrf, "CRM sync")
    destination = SegmentActivation(shop).deliveries.list_destinations()[0]

    assert client.post(f"/destinations/{destination.id}/delete").status_code == 403
    missing = client.post("/destinations/99/delete", data={"csrf_token": csrf})

    assert missing.status_code == 303
    assert "There is no destination 99." in client.get("/destinations").text
    assert len(SegmentActivation(shop).deliveries.list_destinations()) == 1


@pytest.mark.parametrize(
    ("name", "url", "message"),
    [
        (
            "Local",
            "http://127.0.0.1:9000/hook",
            "points to 127.0.0.1, a loopback, private, link-local or reserved address; set "
            "LIFETIDE_ALLOW_PRIVATE_DESTINATIONS=true to allow it.",
        ),
        ("Office", "http://localhost/hook", "points to localhost"),
        ("LAN", "https://192.168.1.20/hook", "points to 192.168.1.20"),
        ("FTP", "ftp://hooks.example.com/x", "must start with http:// or https://."),
        ("No host", "https:///x", "has no host."),
        ("Blank", "  ", "Give the address the members are sent to."),
        ("  ", HOOK, "A destination needs a name of 1 to 100 characters."),
    ],
)
def test_refused_destinations_come_back_on_the_form(
    client: TestClient, sign_in: SignIn, shop: Lifetide, name: str, url: str, message: str
) -> None:
    csrf = sign_in("marketer")

    response = client.post("/destinations", data={"csrf_token": csrf, "name": name, "url": url})

    assert response.status_code == 422
    error = re.search(r'data-testid="destination-error">.*?<span>(.*?)</span>', response.text)
    assert error is not None
    assert message in html.unescape(error.group(1))
    assert f'value="{url}"' in response.text  # what was typed is kept
    assert 'id="destination-secret"' not in response.text
    assert SegmentActivation(shop).deliveries.list_destinations() == []


def test_a_taken_name_is_refused(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("marketer")
    _add(client, csrf, "CRM sync")

    again = client.post(
        "/destinations", data={"csrf_token": csrf, "name": "CRM sync", "url": HOOK + "/2"}
    )

    assert again.status_code == 422
    assert "There is already a destination called &#39;CRM sync&#39;." in again.text


def test_recent_pushes_are_listed_per_destination(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    csrf = sign_in("marketer")
    _add(client, csrf, "Idle")
    with receiving(Receiver()) as receiver:
        # Only this push goes to 127.0.0.1, so only it may reach a private address.
        deliveries = SegmentActivation(shop).deliveries
        deliveries.allow_private = True
        created = deliveries.create_destination("Local CRM", receiver.url, None)
        delivered = deliveries.push(1, created.destination.id, [{"profile_id": 1}], None)
    assert delivered.status == "delivered"

    page = client.get("/destinations").text

    rows = page.split("<tr>")
    idle, local = rows[2], rows[3]  # by name: Idle, Local CRM
    assert "Not pushed to yet" in idle
    assert '<span class="badge badge-green">Delivered</span>' in local
    assert 'href="/segments/1" title="Skincare or at risk">Skincare or at risk</a>' in local
    assert "1 member · 1 of 1 page sent" in local


@pytest.fixture
def private_client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """A Studio whose settings allow private destinations, and a marketer's CSRF token."""
    settings = load_settings(
        data_dir=tmp_path / "private", env="test", allow_private_destinations=True
    )
    with Lifetide(settings) as app:
        accounts_for(app).create_user("mia@example.com", "mia-password-1", "marketer")
        with TestClient(create_app(app), follow_redirects=False) as client:
            yield client, signed_in(client, "mia@example.com", "mia-password-1")


def test_private_addresses_are_allowed_when_the_setting_is_on(
    private_client: tuple[TestClient, str],
) -> None:
    client, csrf = private_client

    page = _add(client, csrf, "Local", "http://127.0.0.1:9000/hook")

    assert _secret(page)
    assert "http://127.0.0.1:9000/hook" in page
    assert "are refused" not in page
