"""`/api/journeys` over HTTP: create, version, read with counts, start/pause/stop, instances."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.store import JourneyStore
from lifetide.messaging.template_store import TemplateStore
from lifetide.web import engagement
from lifetide.web.api import dashboards as dashboards_api
from lifetide.web.api import inbound as inbound_api
from lifetide.web.api import journeys as journeys_api
from lifetide.web.api import templates as templates_api
from lifetide.web.app import create_app
from tests.messaging.test_feedback import NOW
from tests.web.helpers import signed_in

Users = dict[str, tuple[str, str]]
DEFINITION: dict[str, Any] = {
    "name": "Welcome series",
    "trigger": {"type": "event", "event": {"event": "Signed Up"}},
    "start": "wait",
    "steps": {
        "wait": {"type": "wait", "minutes": 60, "next": "hello"},
        "hello": {"type": "send", "template": "welcome", "next": "opened"},
        "opened": {
            "type": "wait_for_event",
            "event": {"event": "Email Opened"},
            "timeout_minutes": 1440,
            "on_event": "exit",
            "on_timeout": "nudge",
        },
        "nudge": {"type": "send", "template": "welcome-nudge", "next": "exit"},
    },
    "goal": {"event": {"event": "Order Completed"}, "within_days": 14},
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


def create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    """POST a journey; its JSON."""
    response = client.post("/api/journeys", json={"definition": DEFINITION} | body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_everything_needs_a_sign_in(client: TestClient) -> None:
    for method, path in [
        ("GET", "/api/journeys"),
        ("POST", "/api/journeys"),
        ("GET", "/api/journeys/1"),
        ("PUT", "/api/journeys/1"),
        ("POST", "/api/journeys/1/start"),
        ("POST", "/api/journeys/1/pause"),
        ("POST", "/api/journeys/1/stop"),
        ("GET", "/api/journeys/1/instances"),
    ]:
        assert client.request(method, path, json={}).status_code == 401, (method, path)


def test_a_marketer_creates_and_reads_a_journey(client: TestClient, studio_users: Users) -> None:
    headers = as_role(client, studio_users, "marketer")

    created = create(client, headers)

    assert created["name"] == "Welcome series"
    assert (created["status"], created["version"]) == ("draft", 1)
    assert [(s["id"], s["type"]) for s in created["steps"]] == [
        ("wait", "wait"),
        ("hello", "send"),
        ("opened", "wait_for_event"),
        ("nudge", "send"),
    ]
    assert created["steps"][1]["sends"]["total"] == 0
    assert created["definition"]["goal"] == {
        "event": {"event": "Order Completed", "where": []},
        "within_days": 14,
    }
    assert created["problems"] == [] and created["other_steps"] == []
    assert [(v["version"], v["author_email"]) for v in created["versions"]] == [
        (1, "marketer@example.com")
    ]
    listed = client.get("/api/journeys").json()
    assert [(j["name"], j["active"], j["waiting"], j["done"]) for j in listed] == [
        ("Welcome series", 0, 0, 0)
    ]
    # Another name, else the same name is taken (any case).
    assert create(client, headers, name="Welcome, again")["name"] == "Welcome, again"
    taken = client.post(
        "/api/journeys",
        json={"name": "WELCOME SERIES", "definition": DEFINITION},
        headers=headers,
    )
    assert taken.status_code == 409


def test_a_bad_definition_answers_the_path_to_the_problem(
    client: TestClient, studio_users: Users
) -> None:
    headers = as_role(client, studio_users, "marketer")
    bad = copy.deepcopy(DEFINITION)
    del bad["steps"]["hello"]["template"]
    response = client.post("/api/journeys", json={"definition": bad}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [
        "definition",
        "steps",
        "hello",
        "send",
        "template",
    ]

    lost = copy.deepcopy(DEFINITION)
    lost["steps"]["wait"]["next"] = "nowhere"
    response = client.post("/api/journeys", json={"definition": lost}, headers=headers)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["definition"]
    assert detail["msg"] == "step 'wait' leads to 'nowhere', which is not a step"


def test_an_analyst_reads_but_may_not_change(client: TestClient, studio_users: Users) -> None:
    journey = create(client, as_role(client, studio_users, "marketer"))["id"]
    analyst = as_role(client, studio_users, "analyst")

    assert client.get(f"/api/journeys/{journey}").status_code == 200
    assert client.get(f"/api/journeys/{journey}/instances").status_code == 200
    for method, path in [
        ("POST", "/api/journeys"),
        ("PUT", f"/api/journeys/{journey}"),
        ("POST", f"/api/journeys/{journey}/start"),
        ("POST", f"/api/journeys/{journey}/stop"),
    ]:
        response = client.request(method, path, json={"definition": DEFINITION}, headers=analyst)
        assert response.status_code == 403, (method, path)
        assert "may not save or refresh segments" in response.json()["detail"]


def test_put_saves_a_new_version_only_when_it_changes(
    client: TestClient, studio_users: Users, app: Lifetide
) -> None:
    headers = as_role(client, studio_users, "admin")
    journey = create(client, headers)["id"]
    store = JourneyStore(app.sessions, app.clock)
    running = store.open_instance(journey, 1, 42, None, step="opened")
    changed = copy.deepcopy(DEFINITION)
    changed["start"] = "hello"
    del changed["steps"]["wait"]
    del changed["steps"]["opened"]
    changed["steps"]["hello"]["next"] = "exit"
    changed["steps"]["nudge"]["next"] = "exit"
    changed["steps"]["hello"]["next"] = "nudge"

    first = client.put(f"/api/journeys/{journey}", json={"definition": changed}, headers=headers)
    again = client.put(f"/api/journeys/{journey}", json={"definition": changed}, headers=headers)

    assert first.status_code == 200 and again.status_code == 200
    assert again.json()["version"] == 2
    assert [v["version"] for v in again.json()["versions"]] == [2, 1]
    assert [s["id"] for s in again.json()["steps"]] == ["hello", "nudge"]
    # The instance on version 1 waits at a step version 2 no longer has.
    assert [(s["id"], s["waiting"], s["active"]) for s in again.json()["other_steps"]] == [
        ("opened", 0, 1)
    ]
    assert store.load(running or 0).version == 1
    missing = client.put("/api/journeys/999", json={"definition": changed}, headers=headers)
    assert missing.status_code == 404


def test_start_pause_stop(client: TestClient, studio_users: Users, app: Lifetide) -> None:
    headers = as_role(client, studio_users, "marketer")
    journey = create(client, headers)["id"]

    refused = client.post(f"/api/journeys/{journey}/start", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "the journey cannot start: it sends templates that do not exist: welcome, welcome-nudge"
    )

    # The bundled templates include "welcome"; the nudge is ours.
    templates = TemplateStore(app.sessions, app.clock)
    templates.ensure_bundled()
    templates.save("welcome-nudge", "email", "Still there?", "<p>Hi {{ customer.first_name }}</p>")
    for action, status in (("start", "live"), ("pause", "paused"), ("stop", "stopped")):
        response = client.post(f"/api/journeys/{journey}/{action}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    assert client.post("/api/journeys/999/pause", headers=headers).status_code == 404


def test_instances_are_paged_and_filtered(
    client: TestClient, studio_users: Users, app: Lifetide
) -> None:
    journey = create(client, as_role(client, studio_users, "marketer"))["id"]
    store = JourneyStore(app.sessions, app.clock)
    opened = [store.open_instance(journey, 1, p, None, step="wait") for p in (1, 2, 3)]

    first = client.get(f"/api/journeys/{journey}/instances?limit=2").json()
    second = client.get(f"/api/journeys/{journey}/instances?limit=2&offset=2").json()

    assert [i["profile_id"] for i in first["instances"]] == [3, 2]
    assert first["next_offset"] == 2
    assert [i["id"] for i in second["instances"]] == [opened[0]]
    assert second["next_offset"] is None
    # wake_at is the engine's to set.
    assert second["instances"][0] | {"id": 0, "wake_at": None} == {
        "id": 0,
        "profile_id": 1,
        "version": 1,
        "instance_key": None,
        "status": "active",
        "step": "wait",
        "entered_at": "2026-11-02T10:00:00Z",
        "step_started_at": "2026-11-02T10:00:00Z",
        "wake_at": None,
        "finished_at": None,
        "outcome": None,
    }
    at_step = client.get(f"/api/journeys/{journey}/instances?status=active&step=hello").json()
    assert at_step["instances"] == []
    detail = client.get(f"/api/journeys/{journey}").json()
    assert detail["active"] == 3 and detail["steps"][0]["active"] == 3
    bogus = client.get(f"/api/journeys/{journey}/instances?status=lost")
    assert bogus.status_code == 422
    assert client.get("/api/journeys/999/instances").status_code == 404


def test_every_journey_message_and_inbound_route_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    documented = {
        (method, re.sub(r"\{[^}]*\}", "{}", path))
        for method, path in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?\s]*)", docs)
    }
    routers = (
        journeys_api.router,
        templates_api.router,
        inbound_api.router,
        engagement.router,
        dashboards_api.router,
    )
    for router in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                path = re.sub(r"\{[^}]*\}", "{}", route.path)
                assert (method, path) in documented, f"docs/api.md lacks `{method} {route.path}`"
