from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lifetide.context import Lifetide
from lifetide.web.app import create_app
from lifetide.web.security import app_accounts
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
