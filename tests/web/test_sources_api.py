"""`/api/sources` over HTTP: admins create, list and revoke tracking sources and write keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.web.app import create_app
from tests.web.helpers import signed_in

Users = dict[str, tuple[str, str]]
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
MESSAGE = {"type": "track", "event": "Product Viewed", "userId": "u1", "messageId": "m1"}


@pytest.fixture
def client(app: Lifetide) -> Iterator[TestClient]:
    app.clock = ManualClock(NOW)
    with TestClient(create_app(app)) as test_client:
        yield test_client


def as_role(client: TestClient, users: Users, role: str) -> dict[str, str]:
    """Sign in as `role`; the headers a change needs."""
    return {"X-CSRF-Token": signed_in(client, *users[role])}


def track(client: TestClient, key: str, message: dict[str, Any] = MESSAGE) -> int:
    """POST one message to /v1/batch as an SDK does (HTTP Basic, the key as user): the status."""
    return client.post("/v1/batch", json={"batch": [message]}, auth=(key, "")).status_code


def test_an_admin_creates_lists_and_revokes_a_source(
    client: TestClient, studio_users: Users
) -> None:
    headers = as_role(client, studio_users, "admin")

    created = client.post("/api/sources", json={"name": "  Web shop "}, headers=headers)

    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    key = body.pop("write_key")
    assert key.startswith("lt_wk_") and len(key) > 30
    assert body == {
        "id": body["id"],
        "name": "Web shop",
        "hint": key[:10],
        "created_at": "2026-03-02T09:30:00Z",
        "revoked": False,
        "revoked_at": None,
    }
    listed = client.get("/api/sources")
    assert listed.status_code == 200
    assert listed.json() == [body]
    assert key not in listed.text

    assert client.delete("/api/sources/Web shop", headers=headers).status_code == 204

    [revoked] = client.get("/api/sources").json()
    assert (revoked["revoked"], revoked["revoked_at"]) == (True, "2026-03-02T09:30:00Z")
    # Revoking again changes nothing.
    assert client.delete("/api/sources/Web%20shop", headers=headers).status_code == 204


def test_the_new_key_works_at_once_and_a_revoked_one_is_refused_at_once(
    client: TestClient, studio_users: Users
) -> None:
    headers = as_role(client, studio_users, "admin")
    key = client.post("/api/sources", json={"name": "app"}, headers=headers).json()["write_key"]
    other = client.post("/api/sources", json={"name": "pos"}, headers=headers).json()["write_key"]

    assert track(client, key) == 200
    assert track(client, other) == 200
    client.delete("/api/sources/app", headers=headers)

    # The key's earlier check is cached for seconds; revoking here drops it, so no grace period.
    assert track(client, key) == 401
    assert track(client, other) == 200


def test_names_with_a_slash_can_be_revoked(client: TestClient, studio_users: Users) -> None:
    headers = as_role(client, studio_users, "admin")
    client.post("/api/sources", json={"name": "eu/web"}, headers=headers)

    assert client.delete("/api/sources/eu/web", headers=headers).status_code == 204
    assert client.get("/api/sources").json()[0]["revoked"] is True


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_only_admins_manage_sources(
    app: Lifetide, client: TestClient, studio_users: Users, role: str
) -> None:
    app.sources.create("web")
    headers = as_role(client, studio_users, role)

    replies = [
        client.get("/api/sources"),
        client.post("/api/sources", json={"name": "mine"}, headers=headers),
        client.delete("/api/sources/web", headers=headers),
    ]

    assert [r.status_code for r in replies] == [403, 403, 403]
    assert replies[0].json() == {
        "detail": f"your role, {role}, may not manage tracking sources and write keys"
    }
    assert [(s.name, s.revoked_at) for s in app.sources.list()] == [("web", None)]


def test_signed_out_gets_401(app: Lifetide, client: TestClient) -> None:
    app.sources.create("web")

    replies = [
        client.get("/api/sources"),
        client.post("/api/sources", json={"name": "mine"}),
        client.delete("/api/sources/web"),
    ]

    assert [r.status_code for r in replies] == [401, 401, 401]
    assert [s.name for s in app.sources.list()] == ["web"]


def test_a_change_needs_the_csrf_token(client: TestClient, studio_users: Users) -> None:
    as_role(client, studio_users, "admin")

    refused = client.post("/api/sources", json={"name": "web"})

    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF token missing or wrong"}


def test_an_api_token_of_an_admin_may_manage_sources(
    client: TestClient, studio_users: Users
) -> None:
    headers = as_role(client, studio_users, "admin")
    token = client.post("/api/tokens", json={"name": "ops"}, headers=headers).json()["token"]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}

    assert client.post("/api/sources", json={"name": "web"}, headers=bearer).status_code == 201
    assert [s["name"] for s in client.get("/api/sources", headers=bearer).json()] == ["web"]


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("   ", "a source needs a name"),
        ("web\nshop", "a source name cannot hold line breaks, tabs or other invisible characters"),
    ],
)
def test_a_bad_name_is_refused_with_the_reason(
    client: TestClient, studio_users: Users, name: str, detail: str
) -> None:
    headers = as_role(client, studio_users, "admin")

    reply = client.post("/api/sources", json={"name": name}, headers=headers)

    assert reply.status_code == 422
    assert reply.json() == {"detail": detail}
    assert client.get("/api/sources").json() == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "x" * 101}, ["body", "name"]),
        ({"name": 7}, ["body", "name"]),
        ({"name": "web", "key": "mine"}, ["body", "key"]),
    ],
)
def test_the_body_is_validated(
    client: TestClient, studio_users: Users, body: dict[str, Any], where: list[str]
) -> None:
    headers = as_role(client, studio_users, "admin")

    reply = client.post("/api/sources", json=body, headers=headers)

    assert reply.status_code == 422
    assert [error["loc"] for error in reply.json()["detail"]] == [where]


def test_a_taken_name_is_409_and_an_unknown_one_404(
    client: TestClient, studio_users: Users
) -> None:
    headers = as_role(client, studio_users, "admin")
    first = client.post("/api/sources", json={"name": "web"}, headers=headers).json()

    again = client.post("/api/sources", json={"name": " web"}, headers=headers)
    missing = client.delete("/api/sources/nope", headers=headers)

    assert again.status_code == 409
    assert again.json() == {"detail": "a source called 'web' exists already"}
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no source called 'nope'"}
    # The first key still works.
    assert track(client, first["write_key"]) == 200


def test_the_routes_are_in_the_openapi_schema(client: TestClient, studio_users: Users) -> None:
    as_role(client, studio_users, "admin")
    schema = client.get("/openapi.json").json()

    assert set(schema["paths"]["/api/sources"]) == {"get", "post"}
    assert set(schema["paths"]["/api/sources/{name}"]) == {"delete"}
    assert "write_key" in schema["components"]["schemas"]["CreatedSource"]["required"]
