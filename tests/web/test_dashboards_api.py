"""The dashboard routes: JSON, CSV downloads, ranges, refusals, and the pages that show them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.files import parse_journey
from lifetide.journeys.store import JourneyStore
from lifetide.measure.tables import SENDS_SCHEMA
from lifetide.web.app import create_app
from tests.measure.rows import put
from tests.web.helpers import signed_in

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
SPLIT = (
    "name: Offer test\n"
    "trigger: {type: event, event: {event: Signed Up}}\n"
    "start: ab\n"
    "holdout: 10\n"
    "steps:\n"
    "  ab: {type: split, paths: [{weight: 1, label: control}, {weight: 1, label: B}]}\n"
)


@pytest.fixture
def client(app: Lifetide, studio_users: dict[str, tuple[str, str]]) -> Iterator[TestClient]:
    app.clock = ManualClock(NOW)
    with TestClient(create_app(app)) as test_client:
        signed_in(test_client, *studio_users["analyst"])
        yield test_client


@pytest.fixture
def journey(app: Lifetide) -> int:
    store = JourneyStore(app.sessions, app.clock)
    journey_id = store.create("Offer test", parse_journey(SPLIT), None).id
    t = NOW.replace(tzinfo=None)
    sends = [
        {
            "send_key": f"{i}:hello:1",
            "profile_id": i,
            "journey_id": journey_id,
            "step": "hello",
            "channel": "email",
            "status": "sent",
            "created_at": t - dt.timedelta(days=1),
            "sent_at": t - dt.timedelta(days=1),
        }
        for i in range(1, 6)
    ]
    put(app, "message_sends", sends, SENDS_SCHEMA.to_pyarrow())
    return journey_id


def test_the_overview_counts_what_was_sent_in_the_range(client: TestClient, journey: int) -> None:
    week = client.get("/api/dashboards/overview?range=7d").json()
    assert week["kpis"]["sent"]["current"] == 5 and week["label"] == "Last 7 days"
    assert week["charts"]["funnel"]["rows"][0] == ["sent", 5, 0]
    assert week["charts"]["lines"]["rows"][0][:3] == [str(journey), "Offer test", 5]
    today = client.get("/api/dashboards/overview?range=today").json()
    assert today["kpis"]["sent"]["current"] == 0 and today["kpis"]["sent"]["previous"] == 5
    custom = client.get("/api/dashboards/overview?start=2026-11-19&end=2026-11-19").json()
    assert custom["kpis"]["sent"]["current"] == 5
    assert custom["period"] == {"start": "2026-11-19T00:00:00Z", "end": "2026-11-20T00:00:00Z"}


def test_each_chart_downloads_as_the_csv_of_what_is_drawn(client: TestClient, journey: int) -> None:
    payload = client.get("/api/dashboards/overview?range=30d").json()
    for chart, table in payload["charts"].items():
        reply = client.get(f"/api/dashboards/overview?range=30d&format=csv&chart={chart}")
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
        assert f'filename="overview-{chart}.csv"' in reply.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(reply.text)))
        assert rows[0] == table["columns"] and len(rows) == len(table["rows"]) + 1


def test_a_journey_board_has_its_steps_and_experiments(client: TestClient, journey: int) -> None:
    board = client.get(f"/api/dashboards/journeys/{journey}").json()
    assert board["journey"]["name"] == "Offer test"
    assert board["charts"]["lines"]["rows"][0][:3] == ["hello", "hello", 5]
    assert board["experiments"] == []
    assert client.get("/api/dashboards/journeys/999").status_code == 404


def test_an_experiment_reads_without_data_and_says_so(client: TestClient, journey: int) -> None:
    reply = client.get(f"/api/dashboards/experiments/journey-{journey}-split-ab")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["experiment"]["control"] == "control" and body["outcomes"] == []
    assert any("not enough data" in w for w in body["warnings"])
    holdout = client.get(f"/api/dashboards/experiments/journey-{journey}-holdout").json()
    assert holdout["experiment"]["weights"] == {"holdout": 10, "treated": 90}
    assert client.get("/api/dashboards/experiments/nonsense").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("range=1y", "unknown range '1y'"),
        ("start=2026-11-01", "needs both start and end"),
        ("start=2026-11-05&end=2026-11-01", "is before start"),
        ("start=2026-02-30&end=2026-03-01", "not a calendar date"),
        ("start=yesterday&end=2026-03-01", "must be a date as YYYY-MM-DD"),
        ("range=7d&start=2026-11-01&end=2026-11-02", "either range or start and end"),
        ("start=2020-01-01&end=2026-01-01", "at most 731 days"),
        ("format=csv", "format=csv needs chart"),
        ("format=csv&chart=nope", "format=csv needs chart, one of: funnel"),
    ],
)
def test_a_bad_range_or_chart_is_refused_with_what_is_wrong(
    client: TestClient, query: str, message: str
) -> None:
    reply = client.get(f"/api/dashboards/overview?{query}")
    assert reply.status_code == 422 and message in reply.text


def test_the_dashboards_need_a_sign_in(app: Lifetide) -> None:
    with TestClient(create_app(app)) as anonymous:
        assert anonymous.get("/api/dashboards/overview").status_code == 401
        page = anonymous.get("/dashboards", follow_redirects=False)
        assert page.status_code in (302, 303)


def test_the_pages_render_their_shells(client: TestClient, journey: int) -> None:
    for path in (
        "/dashboards",
        f"/dashboards/journeys/{journey}",
        f"/dashboards/experiments/journey-{journey}-holdout",
    ):
        page = client.get(path)
        assert page.status_code == 200 and "/static/js/dashboards.js" in page.text
    assert client.get("/dashboards/journeys/999").status_code == 404
    assert client.get("/dashboards/experiments/nonsense").status_code == 404
