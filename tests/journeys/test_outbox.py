"""Claiming the outbox: what fell due just now goes first, and the backlog still drains."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from lifetide.clock import ManualClock
from lifetide.journeys.definition import Journey
from lifetide.journeys.outbox import FRESH, claim
from lifetide.journeys.store import JourneyStore
from lifetide.ops.database import session_factory, transaction, write_lock
from lifetide.ops.models import JourneySend

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)


def _journey() -> Journey:
    return Journey.model_validate(
        {
            "name": "Cart abandonment",
            "trigger": {"type": "event", "event": {"event": "Product Added"}, "key": "cart_id"},
            "start": "wait",
            "steps": {
                "wait": {"type": "wait", "minutes": 60, "next": "email"},
                "email": {"type": "send", "template": "cart", "next": "exit"},
            },
        }
    )


def _queue(engine: Engine, due: dict[str, dt.datetime]) -> None:
    """One pending send per key, due at the given time, each on an instance of its own."""
    sessions = session_factory(engine)
    store = JourneyStore(sessions, ManualClock(T0))
    journey_id = store.create("Cart abandonment", _journey(), None).id
    store.set_status(journey_id, "live")
    with transaction(sessions) as session:
        for profile, (key, at) in enumerate(due.items()):
            instance = store.open_instance(journey_id, 1, profile, None, step="email")
            assert instance is not None
            session.add(
                JourneySend(
                    instance_id=instance,
                    idempotency_key=key,
                    step="email",
                    channel="email",
                    template="cart",
                    status="pending",
                    created_at=at,
                    journey_id=journey_id,
                    profile_id=profile,
                    due_at=at,
                )
            )


def _claim(engine: Engine, now: dt.datetime, limit: int) -> list[str]:
    with transaction(session_factory(engine)) as session:
        write_lock(session)
        return [c.key for c in claim(session, "w1", now, limit, LEASE)]


def test_a_send_that_just_fell_due_is_claimed_before_a_backlog(engine: Engine) -> None:
    now = T0 + dt.timedelta(hours=1)
    backlog = {f"old-{i}": now - dt.timedelta(minutes=30, seconds=i) for i in range(20)}
    _queue(engine, {**backlog, "cart": now - dt.timedelta(seconds=2)})
    first = _claim(engine, now, 4)
    assert first[0] == "cart"
    # The other half of the claim drains the backlog, oldest first.
    assert first[1:] == ["old-19", "old-18", "old-17"]


def test_a_burst_due_at_once_does_not_hold_up_what_falls_due_after_it(engine: Engine) -> None:
    now = T0 + dt.timedelta(hours=1)
    burst = {f"burst-{i}": now - dt.timedelta(seconds=30) for i in range(20)}
    _queue(engine, {**burst, "cart": now - dt.timedelta(seconds=1)})
    assert _claim(engine, now, 10)[0] == "cart"


@pytest.mark.parametrize("limit", [1, 2, 7])
def test_every_due_send_is_claimed_once_whatever_the_lanes(engine: Engine, limit: int) -> None:
    now = T0 + dt.timedelta(hours=1)
    due = {f"s-{i}": now - dt.timedelta(seconds=17 * i) for i in range(30)}
    due["later"] = now + dt.timedelta(minutes=1)
    assert dt.timedelta(seconds=17 * 29) > FRESH  # both lanes have work
    _queue(engine, due)
    claimed: list[str] = []
    while batch := _claim(engine, now, limit):
        assert len(batch) <= limit
        claimed += batch
    assert sorted(claimed) == sorted(k for k in due if k != "later")
