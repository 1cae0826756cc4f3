from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.ops.database import transaction
from lifetide.ops.models import Destination, Segment
from lifetide.settings import Settings, load_settings
from lifetide.web.app import create_app
from tests.segments import small_shop
from tests.segments.receiver import Receiver, receiving
from tests.web.helpers import signed_in

Users = dict[str, tuple[str, str]]
T0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    # Pushes go to a receiver on 127.0.0.1; a test parametrizes this fixture with False to
    # see private destinations refused.
    allow = bool(getattr(request, "param", True))
    return load_settings(data_dir=tmp_path / "data", env="test", allow_private_destinations=allow)


@pytest.fixture
def client(app: Lifetide) -> Iterator[TestClient]:
    # Insights read the 12 months before the app's clock: small_shop's figures are as of NOW.
    app.clock = ManualClock(small_shop.NOW)
    small_shop.build(app.warehouse.backend)
    with transaction(app.sessions) as session:
        # Ids 1 and 2 are the segments whose members small_shop wrote.
        for sid, name in ((1, "Three buyers"), (2, "Two others")):
            session.add(
                Segment(id=sid, name=name, kind="static", size=0, created_at=T0, updated_at=T0)
            )
    with TestClient(create_app(app)) as client:
        yield client


def _sign_in(client: TestClient, users: Users, role: str) -> dict[str, str]:
    return {"X-CSRF-Token": signed_in(client, *users[role])}


@pytest.fixture
def marketer(client: TestClient, studio_users: Users) -> dict[str, str]:
    return _sign_in(client, studio_users, "marketer")


@pytest.fixture
def analyst(client: TestClient, studio_users: Users) -> dict[str, str]:
    return _sign_in(client, studio_users, "analyst")


ROUTES = [
    ("GET", "/api/segments/1/insights"),
    ("GET", "/api/segments/1/export.csv"),
    ("GET", "/api/exports/columns"),
    ("POST", "/api/segments/1/push"),
    ("GET", "/api/segments/1/deliveries"),
    ("GET", "/api/destinations"),
    ("POST", "/api/destinations"),
    ("DELETE", "/api/destinations/1"),
]


def test_everything_needs_a_sign_in(client: TestClient) -> None:
    for method, path in ROUTES:
        response = client.request(method, path, json={"destination_id": 1})
        assert response.status_code == 401, (method, path)


def test_an_analyst_sees_insights_but_may_not_export_push_or_manage_destinations(
    client: TestClient, analyst: dict[str, str]
) -> None:
    assert client.get("/api/segments/1/insights").status_code == 200
    assert client.get("/api/segments/1/deliveries").status_code == 200
    for method, path in ROUTES:
        if path.endswith(("/insights", "/deliveries")):
            continue
        response = client.request(
            method,
            path,
            json={"destination_id": 1, "name": "x", "url": "http://x"},
            headers=analyst,
        )
        assert response.status_code == 403, (method, path)
        assert "analyst" in response.json()["detail"]


def test_insights_with_overlap(client: TestClient, marketer: dict[str, str]) -> None:
    response = client.get("/api/segments/1/insights?compare=2")

    assert response.status_code == 200
    data = response.json()
    assert (data["size"], data["profiles"], data["orders_12m"]) == (3, 6, 4)
    assert (data["revenue_12m"], data["revenue_all_12m"]) == (215.0, 485.0)
    assert (data["average_clv"], data["total_clv"]) == (75.0, 150.0)
    assert data["top_categories"][0] == {
        "key": "skincare",
        "spend": 110.0,
        "share": pytest.approx(110 / 215),
        "units": 4,
    }
    assert data["channels"] == [
        {"key": "online", "count": 3, "share": 0.75},
        {"key": "store", "count": 1, "share": 0.25},
    ]
    assert data["overlap"] == {"both": 1, "only_this": 2, "only_other": 1, "jaccard": 0.25}


def test_insights_of_a_missing_segment_or_comparison_are_404(
    client: TestClient, marketer: dict[str, str]
) -> None:
    missing = client.get("/api/segments/99/insights")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no segment 99"
    assert client.get("/api/segments/1/insights?compare=98").status_code == 404


def test_export_streams_a_csv_attachment(client: TestClient, marketer: dict[str, str]) -> None:
    response = client.get("/api/segments/1/export.csv?columns=profile_id,email,clv_12m")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="segment-1-2026-06-01.csv"'
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["profile_id", "email", "clv_12m"],
        ["1", "ada@example.com", "100.5"],
        ["2", "bo@example.com", "49.5"],
        ["3", "cy@example.com", ""],
    ]


def test_export_default_columns(client: TestClient, marketer: dict[str, str]) -> None:
    rows = list(csv.reader(io.StringIO(client.get("/api/segments/2/export.csv").text)))

    assert rows[0] == ["profile_id", "email", "phone", "first_name", "last_name", "country", "city"]
    assert [r[0] for r in rows[1:]] == ["3", "4"]


def test_export_refuses_unknown_columns_and_missing_segments(
    client: TestClient, marketer: dict[str, str]
) -> None:
    bad = client.get("/api/segments/1/export.csv?columns=email,password")
    assert bad.status_code == 422
    assert "password" in bad.json()["detail"]
    assert "the columns are: profile_id, email" in bad.json()["detail"]
    assert client.get("/api/segments/99/export.csv").status_code == 404


def test_export_columns_lists_predictions(client: TestClient, marketer: dict[str, str]) -> None:
    data = client.get("/api/exports/columns").json()

    assert data["default"][:2] == ["profile_id", "email"]
    assert {"clv_12m", "lifecycle_stage", "p_alive"} <= set(data["columns"])


def test_destinations_are_created_listed_and_deleted(
    client: TestClient, marketer: dict[str, str]
) -> None:
    created = client.post(
        "/api/destinations",
        json={"name": "CRM", "url": "https://hooks.example.com/lifetide"},
        headers=marketer,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "CRM"
    assert len(body["secret"]) >= 40

    listed = client.get("/api/destinations").json()
    assert [d["name"] for d in listed] == ["CRM"]
    assert "secret" not in listed[0]

    again = client.post(
        "/api/destinations", json={"name": "CRM", "url": "https://x.example.com"}, headers=marketer
    )
    assert again.status_code == 409
    bad = client.post(
        "/api/destinations", json={"name": "FTP", "url": "ftp://x.example.com"}, headers=marketer
    )
    assert bad.status_code == 422
    assert "http://" in bad.json()["detail"]

    assert client.delete(f"/api/destinations/{body['id']}", headers=marketer).status_code == 204
    assert client.get("/api/destinations").json() == []
    assert client.delete(f"/api/destinations/{body['id']}", headers=marketer).status_code == 404


def test_changes_need_the_csrf_token(client: TestClient, marketer: dict[str, str]) -> None:
    response = client.post("/api/destinations", json={"name": "CRM", "url": "https://x.example"})

    assert response.status_code == 403


def test_push_delivers_the_members_to_a_webhook(
    client: TestClient, marketer: dict[str, str]
) -> None:
    with receiving(Receiver()) as receiver:
        created = client.post(
            "/api/destinations", json={"name": "Hook", "url": receiver.url}, headers=marketer
        ).json()
        receiver.secret = created["secret"]

        started = client.post(
            "/api/segments/1/push", json={"destination_id": created["id"]}, headers=marketer
        )

        assert started.status_code == 202
        assert started.json()["status"] == "running"
        # The push runs after the answer; the test client waits for it to end.
        deliveries = client.get("/api/segments/1/deliveries").json()
    assert deliveries[0]["id"] == started.json()["id"]
    assert deliveries[0]["status"] == "delivered"
    assert (deliveries[0]["members"], deliveries[0]["pages"], deliveries[0]["attempts"]) == (
        3,
        1,
        1,
    )
    page = receiver.accepted()[0]
    assert page.signature_ok
    assert page.payload["segment"] == {"id": 1, "name": "Three buyers"}
    assert [m["email"] for m in page.payload["members"]] == [
        "ada@example.com",
        "bo@example.com",
        "cy@example.com",
    ]
    assert page.payload["members"][0] == {
        "profile_id": 1,
        "email": "ada@example.com",
        "phone": "+14155550101",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "country": "GB",
        "city": "London",
    }


def test_push_to_something_missing_is_404(client: TestClient, marketer: dict[str, str]) -> None:
    created = client.post(
        "/api/destinations", json={"name": "Hook", "url": "http://127.0.0.1:9/x"}, headers=marketer
    ).json()

    no_destination = client.post(
        "/api/segments/1/push", json={"destination_id": 999}, headers=marketer
    )
    no_segment = client.post(
        "/api/segments/99/push", json={"destination_id": created["id"]}, headers=marketer
    )

    assert no_destination.status_code == 404
    assert no_destination.json()["detail"] == "no destination 999"
    assert no_segment.status_code == 404
    assert client.get("/api/segments/1/deliveries").json() == []


@pytest.mark.parametrize("settings", [False], indirect=True)
def test_private_destinations_are_refused_by_default(
    client: TestClient, marketer: dict[str, str]
) -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/x", "http://169.254.169.254/"):
        refused = client.post(
            "/api/destinations", json={"name": "Inside", "url": url}, headers=marketer
        )

        assert refused.status_code == 422, url
        assert "loopback, private, link-local or reserved" in refused.json()["detail"]
    assert client.get("/api/destinations").json() == []


@pytest.mark.parametrize("settings", [False], indirect=True)
def test_a_push_to_a_name_inside_the_network_fails_saying_why(
    client: TestClient, marketer: dict[str, str], app: Lifetide
) -> None:
    # Saved when private destinations were allowed, or a name that resolves inside later.
    with receiving(Receiver()) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        with transaction(app.sessions) as session:
            session.add(
                Destination(
                    id=7,
                    name="Hook",
                    url=f"http://localhost:{port}/hook",
                    secret="s",
                    created_at=T0,
                )
            )

        started = client.post("/api/segments/1/push", json={"destination_id": 7}, headers=marketer)
        delivery = client.get("/api/segments/1/deliveries").json()[0]

    assert started.status_code == 202
    assert delivery["status"] == "failed"
    assert delivery["error"].startswith("page 1: refused: localhost resolves to ")
    assert receiver.received == []
