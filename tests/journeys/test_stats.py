"""Live counts per journey and step, on SQLite and PostgreSQL; reading order of the steps."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, update

from lifetide.clock import ManualClock
from lifetide.journeys.definition import Journey
from lifetide.journeys.stats import (
    SEND_STATES,
    instances_page,
    journey_counts,
    step_order,
    version_history,
)
from lifetide.journeys.store import JourneyStore
from lifetide.ops.database import session_factory, transaction
from lifetide.ops.models import JourneyInstance, JourneySend, User

NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)
YESTERDAY = NOW - dt.timedelta(days=1)
DEFINITION: dict[str, Any] = {
    "name": "Welcome",
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
}


@pytest.fixture
def store(engine: Engine) -> JourneyStore:
    return JourneyStore(session_factory(engine), ManualClock(NOW))


def _instance(
    store: JourneyStore,
    journey_id: int,
    profile: int,
    step: str,
    status: str,
    outcome: str | None = None,
) -> int:
    instance_id = store.open_instance(journey_id, 1, profile, None, step=step)
    assert instance_id is not None
    with transaction(store._sessions) as session:
        session.execute(
            update(JourneyInstance)
            .where(JourneyInstance.id == instance_id)
            .values(status=status, outcome=outcome)
        )
    return instance_id


def _send(store: JourneyStore, instance_id: int, step: str, status: str, **values: Any) -> None:
    key = f"{instance_id}:{step}:1"
    store.record_send(instance_id, key, step, "email", step)
    with transaction(store._sessions) as session:
        session.execute(
            update(JourneySend)
            .where(JourneySend.idempotency_key == key)
            .values(status=status, **values)
        )


def test_counts_per_journey_and_step(store: JourneyStore) -> None:
    welcome = store.create("Welcome", Journey.model_validate(DEFINITION), None).id
    other = store.create("Other", Journey.model_validate(DEFINITION | {"name": "Other"}), None).id
    waiting = [_instance(store, welcome, p, "opened", "waiting") for p in (1, 2, 3)]
    _instance(store, welcome, 4, "wait", "waiting")
    _instance(store, welcome, 5, "hello", "active")
    goal = _instance(store, welcome, 6, "opened", "done", "goal")
    done = _instance(store, welcome, 7, "nudge", "done", "completed")
    _instance(store, other, 1, "wait", "waiting")
    _send(store, waiting[0], "hello", "sent", sent_at=NOW, opened_at=NOW)
    _send(store, waiting[1], "hello", "sent", sent_at=YESTERDAY, opened_at=NOW, clicked_at=NOW)
    _send(store, waiting[2], "hello", "skipped", reason="no marketing consent")
    _send(store, goal, "hello", "sent", sent_at=NOW, converted_at=NOW, revenue=42.5)
    _send(store, done, "hello", "bounced", sent_at=NOW)
    _send(store, done, "nudge", "deferred")

    counts = journey_counts(store._sessions, NOW)

    assert set(counts) == {welcome, other}
    c = counts[welcome]
    assert (c.active, c.waiting, c.done, c.in_flight) == (1, 4, 2, 5)
    assert c.outcomes == {"goal": 1, "completed": 1}
    assert c.step("opened").waiting == 3 and c.step("opened").done == 1
    assert c.step("wait").here == 1 and c.step("hello").active == 1
    assert c.step("nudge").done == 1
    hello = c.step("hello").sends
    assert {s: n for s, n in hello.by_status.items() if n} == {
        "sent": 3,
        "skipped": 1,
        "bounced": 1,
    }
    assert set(hello.by_status) == set(SEND_STATES)
    assert (hello.opened, hello.clicked, hello.converted, hello.revenue) == (2, 1, 1, 42.5)
    # Yesterday's send is not today's.
    assert hello.sent_today == 3
    assert c.step("nudge").sends.by_status["deferred"] == 1
    assert c.sends.total == 6 and c.sends.by_status["sent"] == 3
    assert counts[other].waiting == 1 and counts[other].sends.total == 0

    only = journey_counts(store._sessions, NOW, [other, 999])
    assert set(only) == {other, 999}
    assert only[999].in_flight == 0 and only[999].step("wait").here == 0
    assert journey_counts(store._sessions, NOW, []) == {}


def test_instances_page_filters_and_pages(store: JourneyStore) -> None:
    journey = store.create("Welcome", Journey.model_validate(DEFINITION), None).id
    ids = [_instance(store, journey, p, "opened", "waiting") for p in range(1, 6)]
    _instance(store, journey, 9, "nudge", "done", "completed")

    first = instances_page(store._sessions, journey, status="waiting", limit=2)
    second = instances_page(store._sessions, journey, status="waiting", limit=2, offset=2)
    at_nudge = instances_page(store._sessions, journey, step="nudge")

    assert [i.id for i in first] == ids[::-1][:2]
    assert [i.id for i in second] == ids[::-1][2:4]
    assert [(i.profile_id, i.outcome) for i in at_nudge] == [(9, "completed")]
    with pytest.raises(ValueError, match="unknown instance status 'lost'"):
        instances_page(store._sessions, journey, status="lost")


def test_version_history_names_the_author(store: JourneyStore, engine: Engine) -> None:
    with transaction(session_factory(engine)) as session:
        user = User(email="mia@example.com", role="marketer", password_hash="x", created_at=NOW)
        session.add(user)
        session.flush()
        author = user.id
    journey = store.create("Welcome", Journey.model_validate(DEFINITION), author).id
    changed = DEFINITION | {"start": "hello"}
    changed["steps"] = {k: v for k, v in DEFINITION["steps"].items() if k != "wait"}
    store.update(journey, Journey.model_validate(changed), None)

    history = version_history(store._sessions, journey)

    assert [(v.version, v.author_email) for v in history] == [(2, None), (1, "mia@example.com")]


def test_steps_read_from_start_each_path_to_its_end() -> None:
    assert step_order(Journey.model_validate(DEFINITION)) == ["wait", "hello", "opened", "nudge"]
    steps = dict(DEFINITION["steps"])
    steps["hello"] = steps["hello"] | {"fallback": "text"}
    steps["text"] = {"type": "send", "channel": "sms", "template": "welcome-sms"}
    with_fallback = Journey.model_validate(DEFINITION | {"steps": steps})
    # The main path first, the SMS fallback after it.
    assert step_order(with_fallback) == ["wait", "hello", "opened", "nudge", "text"]
