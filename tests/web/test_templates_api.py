"""`/api/templates` over HTTP: list, read, save with checks, delete, preview."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.messaging.template_store import TemplateStore
from lifetide.web.app import create_app
from tests.messaging.test_feedback import NOW
from tests.web.helpers import signed_in

Users = dict[str, tuple[str, str]]
EMAIL = {
    "channel": "email",
    "subject": "Hi {{ customer.first_name }}",
    "body": "<p>Your cart: {% for item in cart.items %}{{ item.name }} {% endfor %}</p>",
    "text_body": "Your cart is waiting, {{ customer.first_name }}.",
}


@pytest.fixture
def client(app: Lifetide) -> Iterator[TestClient]:
    app.clock = ManualClock(NOW)
    with TestClient(create_app(app)) as test_client:
        yield test_client


def as_role(client: TestClient, users: Users, role: str) -> dict[str, str]:
    """Sign in as `role`; the headers a change needs."""
    client.cookies.clear()
    return {"X-CSRF-Token": signed_in(client, *users[role])}


def test_everything_needs_a_sign_in(client: TestClient) -> None:
    for method, path in [
        ("GET", "/api/templates"),
        ("GET", "/api/templates/x"),
        ("PUT", "/api/templates/x"),
        ("DELETE", "/api/templates/x"),
        ("POST", "/api/templates/x/preview"),
    ]:
        assert client.request(method, path, json=EMAIL).status_code == 401, (method, path)


def test_save_read_list_delete(client: TestClient, studio_users: Users) -> None:
    headers = as_role(client, studio_users, "marketer")

    saved = client.put("/api/templates/cart-hello", json=EMAIL, headers=headers)
    again = client.put(
        "/api/templates/cart-hello", json=EMAIL | {"subject": "Hello again"}, headers=headers
    )

    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "name": "cart-hello",
        "channel": "email",
        "subject": "Hi {{ customer.first_name }}",
        "version": 1,
        "created_at": "2026-11-02T10:00:00Z",
        "updated_at": "2026-11-02T10:00:00Z",
        "body": EMAIL["body"],
        "text_body": EMAIL["text_body"],
    }
    assert again.json()["version"] == 2
    assert client.get("/api/templates/cart-hello").json()["subject"] == "Hello again"
    listed = client.get("/api/templates").json()
    assert [(t["name"], t["version"]) for t in listed] == [("cart-hello", 2)]
    assert "body" not in listed[0]

    assert client.delete("/api/templates/cart-hello", headers=headers).status_code == 204
    assert client.get("/api/templates/cart-hello").status_code == 404
    assert client.delete("/api/templates/cart-hello", headers=headers).status_code == 404


def test_a_template_that_does_not_check_names_field_and_line(
    client: TestClient, studio_users: Users
) -> None:
    headers = as_role(client, studio_users, "marketer")
    broken = EMAIL | {"body": "<p>Hello</p>\n<p>{% for x in %}</p>"}

    response = client.put("/api/templates/broken", json=broken, headers=headers)

    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body"] and problem["line"] == 2
    assert problem["msg"]
    no_subject = client.put("/api/templates/x", json=EMAIL | {"subject": ""}, headers=headers)
    assert no_subject.json()["detail"] == [
        {"loc": ["subject"], "line": None, "msg": "an e-mail needs a subject"}
    ]
    bad_name = client.put("/api/templates/Not%20Ok", json=EMAIL, headers=headers)
    assert bad_name.json()["detail"][0]["loc"] == ["name"]
    # A template cannot reach Python's insides.
    escape = EMAIL | {"body": "{{ customer.__class__.__mro__ }}"}
    assert client.put("/api/templates/x", json=escape, headers=headers).status_code == 422
    # CSS that sending could not inline is refused on saving, not at every send.
    styled = EMAIL | {"body": '<style>p {color: red}</style><p style="s">Hi</p>'}
    response = client.put("/api/templates/x", json=styled, headers=headers)
    assert response.status_code == 422
    assert "CSS cannot be inlined" in response.json()["detail"][0]["msg"]


def test_an_analyst_reads_and_previews_but_may_not_change(
    client: TestClient, studio_users: Users, app: Lifetide
) -> None:
    TemplateStore(app.sessions, app.clock).save("cart-hello", **EMAIL)
    headers = as_role(client, studio_users, "analyst")

    assert client.get("/api/templates/cart-hello").status_code == 200
    assert client.put("/api/templates/cart-hello", json=EMAIL, headers=headers).status_code == 403
    assert client.delete("/api/templates/cart-hello", headers=headers).status_code == 403
    preview = client.post("/api/templates/cart-hello/preview", headers=headers)
    assert preview.status_code == 200


def test_preview_renders_with_the_sample_context(
    client: TestClient, studio_users: Users, app: Lifetide
) -> None:
    store = TemplateStore(app.sessions, app.clock)
    store.save("cart-hello", **EMAIL)
    store.save("cart-sms", "sms", None, "{{ customer.first_name }}, your cart: {{ cart.url }}")
    headers = as_role(client, studio_users, "analyst")

    email = client.post("/api/templates/cart-hello/preview", headers=headers).json()
    mine = client.post(
        "/api/templates/cart-hello/preview",
        json={"context": {"customer": {"first_name": "<Bo>"}}},
        headers=headers,
    ).json()
    sms = client.post("/api/templates/cart-sms/preview", headers=headers).json()

    assert email == {
        "channel": "email",
        "subject": "Hi Ada",
        "html": "<p>Your cart: Lumen Radiant Serum Lumen Gentle Cleanser </p>",
        "text": "Your cart is waiting, Ada.",
    }
    # The subject is text, not HTML: nothing is escaped in it.
    assert mine["subject"] == "Hi <Bo>"
    assert sms == {
        "channel": "sms",
        "subject": "",
        "html": None,
        "text": "Ada, your cart: https://shop.example.com/cart",
    }
    missing = client.post("/api/templates/nope/preview", headers=headers)
    assert missing.status_code == 404
