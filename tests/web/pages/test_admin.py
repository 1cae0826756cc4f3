from __future__ import annotations

import gzip
import html
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from lifetide.accounts.service import accounts_for
from lifetide.context import Lifetide
from lifetide.web.app import create_app
from lifetide.web.security import SESSION_COOKIE, app_accounts
from tests.collect.server import server_thread
from tests.web.pages.conftest import SignIn, Users


@pytest.fixture
def client(app: Lifetide, studio_users: Users) -> Iterator[TestClient]:
    """A Studio on an empty warehouse: these pages are about accounts only."""
    with TestClient(create_app(app), follow_redirects=False) as test_client:
        yield test_client


def test_admin_and_account_pages_need_a_sign_in(client: TestClient) -> None:
    assert client.get("/admin/users").headers["location"] == "/login?next=/admin/users"
    assert client.get("/account").headers["location"] == "/login?next=/account"


def test_only_admins_manage_users(client: TestClient, sign_in: SignIn) -> None:
    for role in ("marketer", "analyst"):
        csrf = sign_in(role)
        assert client.get("/admin/users").status_code == 403
        form = {"csrf_token": csrf, "email": "x@example.com", "password": "pw-1234567890"}
        assert client.post("/admin/users", data={**form, "role": "admin"}).status_code == 403
        assert client.post("/admin/users/1/disable", data={"csrf_token": csrf}).status_code == 403
        # Nor do they see the admin part of the navigation.
        assert 'href="/admin/users"' not in client.get("/segments").text


def test_the_users_page(client: TestClient, sign_in: SignIn, studio_users: Users) -> None:
    sign_in("admin")
    page = client.get("/admin/users")

    assert page.status_code == 200
    for email, _password in studio_users.values():
        assert email in page.text
    assert 'href="/admin/users"' in page.text


def _user_id(client: TestClient, email: str) -> int:
    user = app_accounts(client.app).user_by_email(email)  # type: ignore[arg-type]
    assert user is not None
    return user.id


def test_an_admin_adds_a_user_changes_a_role_and_disables(
    client: TestClient, sign_in: SignIn
) -> None:
    csrf = sign_in("admin")
    added = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "New.Person@example.com",
            "name": "New Person",
            "password": "a-long-password-1",
            "role": "analyst",
        },
    )
    assert added.status_code == 303
    assert "Added new.person@example.com as analyst." in client.get("/admin/users").text
    user_id = _user_id(client, "new.person@example.com")

    changed = client.post(
        f"/admin/users/{user_id}/role", data={"csrf_token": csrf, "role": "marketer"}
    )
    assert changed.status_code == 303
    assert "new.person@example.com is now marketer." in client.get("/admin/users").text

    client.post(f"/admin/users/{user_id}/disable", data={"csrf_token": csrf})
    page = client.get("/admin/users").text
    assert "new.person@example.com can no longer sign in." in page
    assert "Disabled" in page
    client.post(f"/admin/users/{user_id}/enable", data={"csrf_token": csrf})
    assert "can sign in again" in client.get("/admin/users").text


def test_a_refused_user_shows_the_reason(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("admin")
    response = client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "short@example.com", "password": "x", "role": "admin"},
    )

    assert response.status_code == 422
    assert 'value="short@example.com"' in response.text
    assert 'class="flash flash-error"' in response.text
    taken = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "marketer@example.com",
            "password": "a-long-password-1",
            "role": "admin",
        },
    )
    assert taken.status_code == 422
    assert "exists already" in taken.text


def test_the_last_admin_cannot_step_down(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("admin")
    admin_id = _user_id(client, "admin@example.com")

    client.post(f"/admin/users/{admin_id}/role", data={"csrf_token": csrf, "role": "analyst"})

    assert 'class="flash flash-error"' in client.get("/admin/users").text
    assert app_accounts(client.app).get_user(admin_id).role == "admin"  # type: ignore[arg-type]


def test_api_tokens_are_shown_once_and_can_be_revoked(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("analyst")
    assert client.get("/account").status_code == 200

    created = client.post("/account/tokens", data={"csrf_token": csrf, "name": "nightly export"})

    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    found = re.search(r'data-testid="new-token">.*?<code>([^<]+)</code>', created.text, re.S)
    assert found is not None
    token = found.group(1)
    assert app_accounts(client.app).token_user(token) is not None  # type: ignore[arg-type]
    again = client.get("/account").text
    assert "nightly export" in again and token not in again

    token_id = (
        app_accounts(client.app)
        .list_tokens(  # type: ignore[arg-type]
            app_accounts(client.app).token_user(token)  # type: ignore[arg-type]
        )[0]
        .id
    )
    revoked = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert "The token is revoked" in client.get("/account").text
    assert app_accounts(client.app).token_user(token) is None  # type: ignore[arg-type]


def test_a_token_needs_a_name_and_csrf(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("marketer")

    assert client.post("/account/tokens", data={"csrf_token": csrf, "name": " "}).status_code == 422
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 403
    assert client.post("/account/tokens/999/revoke", data={"csrf_token": csrf}).status_code == 303
    assert "no API token with id 999" in client.get("/account").text


def test_an_api_token_cannot_create_tokens_on_the_account_page(
    client: TestClient, studio_users: Users
) -> None:
    accounts = app_accounts(client.app)  # type: ignore[arg-type]
    user = accounts.user_by_email(studio_users["admin"][0])
    token, _row = accounts.issue_token(user, "ci")

    refused = client.post(
        "/account/tokens", data={"name": "another"}, headers={"Authorization": f"Bearer {token}"}
    )

    assert refused.status_code == 403
    assert "not with an API token" in refused.json()["detail"]
    assert [t.name for t in accounts.list_tokens(user)] == ["ci"]


def _new_key(page: str) -> str:
    found = re.search(
        r'data-testid="new-write-key">.*?<code id="write-key">([^<]+)</code>', page, re.S
    )
    assert found is not None, "no write key on the page"
    return found.group(1)


def _snippet(page: str, sdk: str) -> str:
    found = re.search(rf'<code id="snippet-{sdk}">(.*?)</code>', page, re.S)
    assert found is not None, f"no {sdk} snippet on the page"
    return html.unescape(found.group(1))


def _track(client: TestClient, key: str) -> int:
    message = {"type": "track", "event": "Product Viewed", "userId": "u1"}
    return client.post("/v1/batch", json={"batch": [message]}, auth=(key, "")).status_code


def test_only_admins_manage_tracking_sources(
    app: Lifetide, client: TestClient, sign_in: SignIn
) -> None:
    assert client.get("/admin/sources").headers["location"] == "/login?next=/admin/sources"
    app.sources.create("web")
    for role in ("marketer", "analyst"):
        csrf = sign_in(role)
        assert client.get("/admin/sources").status_code == 403
        assert (
            client.post("/admin/sources", data={"csrf_token": csrf, "name": "x"}).status_code == 403
        )
        revoke = client.post("/admin/sources/revoke", data={"csrf_token": csrf, "name": "web"})
        assert revoke.status_code == 403
        assert 'href="/admin/sources"' not in client.get("/segments").text
    assert [(s.name, s.revoked_at) for s in app.sources.list()] == [("web", None)]


def test_the_sources_page_lists_every_source(
    app: Lifetide, client: TestClient, sign_in: SignIn
) -> None:
    sign_in("admin")
    assert "No tracking sources yet" in client.get("/admin/sources").text
    web = app.sources.create("Web shop")
    pos = app.sources.create("Store tills")
    app.sources.revoke("Store tills")

    page = client.get("/admin/sources")

    assert page.status_code == 200
    rows = page.text.split('data-testid="sources"')[1].split("</tbody>")[0].split("<tr")[2:]
    assert len(rows) == 2
    assert "Web shop" in rows[0] and f"{web.hint}…" in rows[0] and "Active" in rows[0]
    assert 'data-action="revoke"' in rows[0]
    assert "Store tills" in rows[1] and f"{pos.hint}…" in rows[1] and "Revoked" in rows[1]
    assert 'data-action="revoke"' not in rows[1]
    assert web.write_key not in page.text and pos.write_key not in page.text
    assert "1 active, 1 revoked" in page.text
    assert re.search(r'href="/admin/sources" class="nav-item active"', page.text)


def test_a_new_source_shows_its_key_once_with_sdk_set_up(
    app: Lifetide, client: TestClient, sign_in: SignIn
) -> None:
    csrf = sign_in("admin")

    created = client.post("/admin/sources", data={"csrf_token": csrf, "name": " Web shop "})

    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    key = _new_key(created.text)
    [source] = app.sources.list()
    assert source.name == "Web shop" and key.startswith(source.write_key_hint)
    python = _snippet(created.text, "segment-python")
    assert f'analytics.write_key = "{key}"' in python
    assert 'analytics.host = "http://testserver"' in python
    assert 'rudder_analytics.dataPlaneUrl = "http://testserver"' in _snippet(
        created.text, "rudder-python"
    )
    assert f'writeKey: "{key}"' in _snippet(created.text, "segment-node")
    assert f"curl http://testserver/v1/batch \\\n  -u '{key}:'" in _snippet(created.text, "curl")
    # The key works at once, and is never shown again.
    assert _track(client, key) == 200
    again = client.get("/admin/sources").text
    assert "Web shop" in again and key not in again and 'data-testid="new-source"' not in again


def test_a_refused_source_name_shows_the_reason(
    app: Lifetide, client: TestClient, sign_in: SignIn
) -> None:
    csrf = sign_in("admin")
    app.sources.create("web")

    blank = client.post("/admin/sources", data={"csrf_token": csrf, "name": "  "})
    taken = client.post("/admin/sources", data={"csrf_token": csrf, "name": "web"})
    long = client.post("/admin/sources", data={"csrf_token": csrf, "name": "x" * 101})

    assert blank.status_code == 422 and "a source needs a name" in blank.text
    assert taken.status_code == 422 and "a source called &#39;web&#39; exists already" in taken.text
    assert 'value="web"' in taken.text and 'data-testid="new-source"' not in taken.text
    assert long.status_code == 422 and "at most 100 characters, not 101" in long.text
    assert client.post("/admin/sources", data={"name": "x"}).status_code == 403  # no CSRF
    assert [s.name for s in app.sources.list()] == ["web"]


def test_an_admin_revokes_a_source(app: Lifetide, client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("admin")
    key = _new_key(client.post("/admin/sources", data={"csrf_token": csrf, "name": "a/b"}).text)
    assert _track(client, key) == 200
    assert client.post("/admin/sources/revoke", data={"name": "a/b"}).status_code == 403

    revoked = client.post("/admin/sources/revoke", data={"csrf_token": csrf, "name": "a/b"})

    assert revoked.status_code == 303 and revoked.headers["location"] == "/admin/sources"
    page = client.get("/admin/sources").text
    assert "The write key of a/b is revoked" in page and "Revoked" in page
    assert _track(client, key) == 401
    client.post("/admin/sources/revoke", data={"csrf_token": csrf, "name": "nope"})
    assert "no source called &#39;nope&#39;" in client.get("/admin/sources").text


def test_the_python_snippets_deliver_to_this_server(
    app: Lifetide, studio_users: Users, tmp_path: Path
) -> None:
    accounts = accounts_for(app)
    user = accounts.user_by_email(studio_users["admin"][0])
    assert user is not None
    token, session = accounts.start_session(user, "127.0.0.1", "pytest")
    with server_thread(app) as url:
        page = httpx.post(
            f"{url}/admin/sources",
            data={"csrf_token": session.csrf_token, "name": "scripts"},
            cookies={SESSION_COOKIE: token},
        ).text
        for sdk in ("segment-python", "rudder-python"):
            # Run as a user would, in a folder of its own (RudderStack's SDK reads ./.env).
            ran = subprocess.run(
                [sys.executable, "-c", _snippet(page, sdk)],
                cwd=tmp_path,
                capture_output=True,
                timeout=60,
                check=False,
            )
            assert ran.returncode == 0, ran.stderr.decode()
    [source] = app.sources.list()
    entries = app.journal.read(0)
    assert [(e.source_id, e.messages) for e in entries] == [(source.id, 1), (source.id, 1)]
    bodies = [gzip.decompress(e.body) if e.encoding == "gzip" else e.body for e in entries]
    assert all(b'"Product Viewed"' in body for body in bodies)
