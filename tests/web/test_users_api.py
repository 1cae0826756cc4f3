"""`/api/users` and `/api/tokens` over HTTP, for each role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lifetide.context import Lifetide
from lifetide.web.app import create_app
from tests.web.helpers import signed_in

Users = dict[str, tuple[str, str]]
NEW_USER = {"email": "Dee@Example.com", "password": "dee-password-1", "role": "analyst"}


@pytest.fixture
def client(app: Lifetide) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as test_client:
        yield test_client


def as_role(client: TestClient, users: Users, role: str) -> dict[str, str]:
    """Sign in as `role`; the headers a change needs."""
    return {"X-CSRF-Token": signed_in(client, *users[role])}


def user_id(client: TestClient, email: str) -> int:
    [found] = [u for u in client.get("/api/users").json() if u["email"] == email]
    return int(found["id"])


@pytest.mark.parametrize(
    ("role", "allowed"), [("admin", True), ("marketer", False), ("analyst", False)]
)
def test_only_admins_manage_users(
    client: TestClient, studio_users: Users, role: str, allowed: bool
) -> None:
    as_role(client, studio_users, "admin")
    analyst_id = user_id(client, "analyst@example.com")
    headers = as_role(client, studio_users, role)
    replies = [
        client.get("/api/users"),
        client.post("/api/users", json=NEW_USER, headers=headers),
        client.patch(f"/api/users/{analyst_id}", json={"role": "marketer"}, headers=headers),
    ]
    if allowed:
        assert [r.status_code for r in replies] == [200, 201, 200]
    else:
        assert [r.status_code for r in replies] == [403, 403, 403]
        assert replies[0].json() == {"detail": f"your role, {role}, may not manage users"}
        as_role(client, studio_users, "admin")
        assert len(client.get("/api/users").json()) == 3


def test_users_are_listed_without_secrets(client: TestClient, studio_users: Users) -> None:
    as_role(client, studio_users, "admin")
    listed = client.get("/api/users").json()
    assert [(u["email"], u["role"], u["name"], u["disabled"]) for u in listed] == [
        ("admin@example.com", "admin", "Admin", False),
        ("marketer@example.com", "marketer", "Marketer", False),
        ("analyst@example.com", "analyst", "Analyst", False),
    ]
    assert listed[0]["last_login_at"] is not None and listed[1]["last_login_at"] is None
    assert set(listed[0]) == {
        "id",
        "email",
        "name",
        "role",
        "created_at",
        "last_login_at",
        "disabled",
    }


def test_create_a_user(client: TestClient, studio_users: Users) -> None:
    headers = as_role(client, studio_users, "admin")
    created = client.post("/api/users", json=NEW_USER | {"name": "Dee"}, headers=headers)
    assert created.status_code == 201
    body = created.json()
    assert (body["email"], body["role"], body["name"], body["disabled"]) == (
        "dee@example.com",
        "analyst",
        "Dee",
        False,
    )
    assert "password" not in created.text and "hash" not in created.text
    signed_in(client, "dee@example.com", "dee-password-1")  # can sign in


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        (
            {"email": "ADMIN@example.com"},
            409,
            "a user with e-mail admin@example.com exists already",
        ),
        ({"password": "short"}, 422, "a password needs at least 10 characters; this one has 5"),
        ({"password": "dee@example.com"}, 422, "the password may not be the e-mail address"),
        ({"email": "not an e-mail"}, 422, "'not an e-mail' is not an e-mail address"),
    ],
)
def test_create_refuses_with_the_reason(
    client: TestClient, studio_users: Users, change: dict[str, str], status: int, detail: str
) -> None:
    headers = as_role(client, studio_users, "admin")
    reply = client.post("/api/users", json=NEW_USER | change, headers=headers)
    assert reply.status_code == status and reply.json() == {"detail": detail}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (NEW_USER | {"role": "owner"}, ["body", "role"]),
        (NEW_USER | {"is_admin": True}, ["body", "is_admin"]),
        ({"email": "x@example.com", "role": "analyst"}, ["body", "password"]),
    ],
)
def test_create_validates_the_body(
    client: TestClient, studio_users: Users, body: dict[str, Any], where: list[str]
) -> None:
    headers = as_role(client, studio_users, "admin")
    reply = client.post("/api/users", json=body, headers=headers)
    assert reply.status_code == 422
    assert [error["loc"] for error in reply.json()["detail"]] == [where]


def test_change_role_disable_and_enable(client: TestClient, studio_users: Users) -> None:
    other = TestClient(client.app)  # a second browser on the same running app
    signed_in(other, *studio_users["marketer"])
    headers = as_role(client, studio_users, "admin")
    marketer = user_id(client, "marketer@example.com")
    changed = client.patch(f"/api/users/{marketer}", json={"role": "analyst"}, headers=headers)
    assert changed.status_code == 200 and changed.json()["role"] == "analyst"
    assert other.get("/api/tokens").status_code == 200
    disabled = client.patch(f"/api/users/{marketer}", json={"disabled": True}, headers=headers)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert other.get("/api/tokens").status_code == 401  # signed out
    enabled = client.patch(f"/api/users/{marketer}", json={"disabled": False}, headers=headers)
    assert enabled.json()["disabled"] is False
    unchanged = client.patch(f"/api/users/{marketer}", json={}, headers=headers)
    assert unchanged.status_code == 200 and unchanged.json()["role"] == "analyst"


def test_change_refusals(client: TestClient, studio_users: Users) -> None:
    headers = as_role(client, studio_users, "admin")
    admin = user_id(client, "admin@example.com")
    demoted = client.patch(f"/api/users/{admin}", json={"role": "analyst"}, headers=headers)
    assert demoted.status_code == 409
    assert demoted.json() == {
        "detail": "admin@example.com is the only active admin; make someone else admin first"
    }
    off = client.patch(f"/api/users/{admin}", json={"disabled": True}, headers=headers)
    assert off.status_code == 409
    missing = client.patch("/api/users/999", json={"role": "analyst"}, headers=headers)
    assert missing.status_code == 404 and missing.json() == {"detail": "no user with id 999"}
    bad = client.patch(f"/api/users/{admin}", json={"role": "boss"}, headers=headers)
    assert bad.status_code == 422
    assert client.patch("/api/users/abc", json={}, headers=headers).status_code == 422


@pytest.mark.parametrize("role", ["admin", "marketer", "analyst"])
def test_everyone_manages_their_own_tokens(
    client: TestClient, studio_users: Users, role: str
) -> None:
    headers = as_role(client, studio_users, role)
    created = client.post("/api/tokens", json={"name": "nightly export"}, headers=headers)
    assert created.status_code == 201
    body = created.json()
    token = body["token"]
    assert token.startswith("ltk_") and body["hint"] == token[:8]
    assert (body["name"], body["revoked"], body["last_used_at"]) == ("nightly export", False, None)
    listed = client.get("/api/tokens").json()
    assert [t["id"] for t in listed] == [body["id"]]
    assert "token" not in listed[0] and token not in client.get("/api/tokens").text
    # The token acts as its user, with their role.
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/tokens", headers=bearer).status_code == 200
    assert client.get("/api/users", headers=bearer).status_code == (200 if role == "admin" else 403)
    assert client.delete(f"/api/tokens/{body['id']}", headers=bearer).status_code == 204
    assert client.get("/api/tokens", headers=bearer).status_code == 401
    as_role(client, studio_users, role)
    assert client.get("/api/tokens").json()[0]["revoked"] is True


def test_tokens_of_others_cannot_be_revoked(client: TestClient, studio_users: Users) -> None:
    headers = as_role(client, studio_users, "analyst")
    theirs = client.post("/api/tokens", json={"name": "mine"}, headers=headers).json()
    headers = as_role(client, studio_users, "admin")
    refused = client.delete(f"/api/tokens/{theirs['id']}", headers=headers)
    assert refused.status_code == 404
    assert refused.json() == {"detail": f"you have no API token with id {theirs['id']}"}
    assert client.get("/api/tokens").json() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [({"name": "  "}, 422), ({"name": "x" * 101}, 422), ({}, 422), ({"name": "a", "b": 1}, 422)],
)
def test_token_names_are_checked(
    client: TestClient, studio_users: Users, body: dict[str, Any], status: int
) -> None:
    headers = as_role(client, studio_users, "analyst")
    assert client.post("/api/tokens", json=body, headers=headers).status_code == status


def test_an_api_token_cannot_create_tokens(client: TestClient, studio_users: Users) -> None:
    headers = as_role(client, studio_users, "admin")
    created = client.post("/api/tokens", json={"name": "ci"}, headers=headers)
    assert created.headers["cache-control"] == "no-store"
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {created.json()['token']}"}

    refused = client.post("/api/tokens", json={"name": "another"}, headers=bearer)

    assert refused.status_code == 403
    assert "signed in to the Studio, not with an API token" in refused.json()["detail"]
    assert [t["name"] for t in client.get("/api/tokens", headers=bearer).json()] == ["ci"]
