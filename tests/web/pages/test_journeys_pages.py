"""The Studio's journey pages: the list with live counts, one journey read aloud, controls."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from lifetide.context import Lifetide
from lifetide.journeys.definition import Journey
from lifetide.journeys.store import JourneyStore
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.database import transaction
from lifetide.ops.models import JourneySend
from lifetide.segments.service import SegmentService
from tests.web.pages.conftest import SignIn

BRANCH = {"type": "trait", "field": "country", "op": "eq", "value": "US"}


def _definition(segment_id: int) -> dict[str, Any]:
    return {
        "name": "Win-back",
        "trigger": {"type": "segment", "segment_id": segment_id, "on": "entered"},
        "start": "wait",
        "steps": {
            "wait": {"type": "wait", "until_local_time": "9:00", "next": "where"},
            "where": {"type": "branch", "condition": BRANCH, "yes": "offer", "no": "split"},
            "offer": {
                "type": "send",
                "template": "welcome",
                "offer": {"kind": "percent_off", "value": 15, "valid_days": 5},
                "fallback": "sms",
                "next": "exit",
            },
            "sms": {"type": "send", "channel": "sms", "template": "cart-reminder-sms"},
            "split": {
                "type": "split",
                "paths": [
                    {"weight": 1, "next": "tag", "label": "treated"},
                    {"weight": 1, "next": "exit", "label": "holdout"},
                ],
            },
            "tag": {"type": "update_profile", "traits": {"winback": True}, "next": "exit"},
        },
        "goal": {"event": {"event": "Order Completed"}, "within_days": 30},
        "reentry": {"kind": "after_days", "days": 90},
    }


@pytest.fixture
def journey_id(shop: Lifetide) -> int:
    """A live win-back journey on the shop's segment, with customers in it and a send."""
    segment = SegmentService(shop).list()[0].id
    store = JourneyStore(shop.sessions, shop.clock)
    journey = store.create("Win-back", Journey.model_validate(_definition(segment)), None).id
    store.set_status(journey, "live")
    for profile in (1, 2):
        store.open_instance(journey, 1, profile, None, step="wait")
    sent = store.open_instance(journey, 1, 3, None, step="offer")
    assert sent is not None
    store.record_send(sent, f"{sent}:offer:1", "offer", "email", "welcome")
    with transaction(shop.sessions) as session:
        session.execute(
            update(JourneySend).values(
                status="sent",
                sent_at=shop.clock.now(),
                converted_at=shop.clock.now(),
                revenue=80.0,
            )
        )
    return journey


def test_pages_need_a_sign_in(client: TestClient, journey_id: int) -> None:
    for path in ("/journeys", f"/journeys/{journey_id}"):
        assert client.get(path).headers["location"] == f"/login?next={path}"


def test_the_list_shows_status_counts_and_controls(
    client: TestClient, sign_in: SignIn, journey_id: int
) -> None:
    sign_in("marketer")
    page = client.get("/journeys").text

    row = page[page.index(f'data-journey="{journey_id}"') :]
    row = row[: row.index("</tr>")]
    assert f'href="/journeys/{journey_id}">Win-back</a>' in row
    assert 'data-testid="status">Live<' in row
    assert 'data-testid="in-flight">3<' in row
    assert 'data-testid="sent-today">1<' in row
    assert 'data-testid="conversions">1<' in row and "$80.00" in row
    # Live: pause or stop, each a form with the CSRF token.
    assert f'action="/journeys/{journey_id}/pause"' in row
    assert f'action="/journeys/{journey_id}/stop"' in row
    assert f'action="/journeys/{journey_id}/start"' not in row
    assert 'name="csrf_token"' in row
    assert "/static/css/journeys.css" in page


def test_an_analyst_sees_no_controls(client: TestClient, sign_in: SignIn, journey_id: int) -> None:
    sign_in("analyst")
    for path in ("/journeys", f"/journeys/{journey_id}"):
        page = client.get(path).text
        assert "Win-back" in page
        assert f"/journeys/{journey_id}/pause" not in page


def test_the_journey_page_reads_the_graph(
    client: TestClient, sign_in: SignIn, journey_id: int
) -> None:
    sign_in("analyst")
    page = client.get(f"/journeys/{journey_id}").text

    trigger = page[page.index('data-testid="trigger"') :]
    assert "When a customer enters the segment “Skincare or at risk”." in trigger
    steps = re.findall(r'data-step="([a-z_]+)"', page)
    # From the start, each path to its end; the SMS fallback after the e-mail's path.
    assert steps == ["wait", "where", "offer", "sms", "split", "tag"]
    assert "Wait until 09:00 in the customer&#39;s time zone." in page
    assert "Are they" in page and "country" in page.lower()
    assert "Send the e-mail “welcome” with 15% off (a single-use code, valid 5 days)." in page
    assert 'if they cannot get it</span> → <a href="#step-sms">sms</a>' in page
    assert "treated (50%)" in page and "holdout (50%)" in page
    assert "Set winback = True on the profile." in page
    goal = page[page.index('data-testid="goal"') :]
    assert "Goal: “Order Completed” within 30 days" in goal
    assert "A customer may start again 90 days later." in goal
    # Live counts: two waiting at the wait (active until a worker takes them), one at the offer.
    wait_card = page[page.index('data-step="wait"') : page.index('data-step="where"')]
    assert 'data-testid="here">' in wait_card and "2 here" in wait_card
    offer_card = page[page.index('data-step="offer"') : page.index('data-step="sms"')]
    assert 'data-status="sent"><b>1</b> sent' in offer_card
    assert "<b>1</b> converted · $80.00" in offer_card
    assert 'data-testid="versions"' in page and "v1" in page


def test_controls_need_csrf_and_a_writer(
    client: TestClient, sign_in: SignIn, journey_id: int, shop: Lifetide
) -> None:
    csrf = sign_in("marketer")
    assert client.post(f"/journeys/{journey_id}/pause", data={}).status_code == 403

    paused = client.post(
        f"/journeys/{journey_id}/pause", data={"csrf_token": csrf, "back": "/journeys"}
    )

    assert paused.status_code == 303 and paused.headers["location"] == "/journeys"
    assert JourneyStore(shop.sessions, shop.clock).get(journey_id).status == "paused"
    assert "“Win-back” is paused." in client.get("/journeys").text

    # Back elsewhere than this site is refused: the journey's own page instead.
    stopped = client.post(
        f"/journeys/{journey_id}/stop",
        data={"csrf_token": csrf, "back": "https://evil.test/"},
    )
    assert stopped.headers["location"] == f"/journeys/{journey_id}"
    client.cookies.clear()
    analyst = sign_in("analyst")
    refused = client.post(f"/journeys/{journey_id}/start", data={"csrf_token": analyst})
    assert refused.status_code == 403


def test_a_journey_missing_templates_does_not_start(
    client: TestClient, sign_in: SignIn, journey_id: int, shop: Lifetide
) -> None:
    csrf = sign_in("marketer")
    store = JourneyStore(shop.sessions, shop.clock)
    store.set_status(journey_id, "paused")

    response = client.post(f"/journeys/{journey_id}/start", data={"csrf_token": csrf})
    page = client.get(response.headers["location"]).text

    assert "The journey was not started" in page and "welcome, cart-reminder-sms" not in page
    assert "cart-reminder-sms, welcome" in page
    assert store.get(journey_id).status == "paused"
    TemplateStore(shop.sessions, shop.clock).ensure_bundled()
    client.post(f"/journeys/{journey_id}/start", data={"csrf_token": csrf})
    assert store.get(journey_id).status == "live"


def test_an_empty_list_and_a_missing_journey(client: TestClient, sign_in: SignIn) -> None:
    sign_in("marketer")
    assert "No journeys yet" in client.get("/journeys").text
    missing = client.get("/journeys/404")
    assert missing.status_code == 404
    assert "There is no journey 404" in missing.text
    assert client.post("/journeys/404/dance", data={}).status_code == 403
