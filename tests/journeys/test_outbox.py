"""Claiming the outbox: what fell due just now goes first, and the backlog still drains.

Settling: each row's values reach its own send, only while the worker holds it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from lifetide.clock import ManualClock
from lifetide.journeys.definition import Journey
from lifetide.journeys.outbox import FRESH, claim, settle
from lifetide.journeys.store import JourneyStore
from lifetide.ops.database import session_factory, single_statements, transaction, write_lock
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


def test_settling_writes_each_rows_own_values_and_only_to_sends_still_held(
    engine: Engine,
) -> None:
    # Rows of one chunk with different outcomes: values and NULLs per row, a column that is
    # NULL in every row, and one send whose claim another worker took meanwhile.
    now = T0 + dt.timedelta(hours=1)
    _queue(engine, {f"s-{i}": now - dt.timedelta(minutes=i + 1) for i in range(5)})
    with transaction(session_factory(engine)) as session:
        ids = {c.key: c.id for c in claim(session, "w1", now, 5, LEASE)}
        session.execute(
            JourneySend.__table__.update()  # type: ignore[attr-defined]
            .where(JourneySend.id == ids["s-4"])
            .values(claimed_by="w2")
        )
    sent_at = now + dt.timedelta(seconds=3)
    rows = [
        {"id": ids["s-0"], "status": "sent", "sent_at": sent_at, "reason": None, "address": "a"},
        {
            "id": ids["s-1"],
            "status": "sent",
            "sent_at": sent_at,
            "reason": "again",
            "address": "b",
        },
        {"id": ids["s-2"], "status": "failed", "reason": "550 no such user", "address": "c"},
        {"id": ids["s-3"], "status": "sent", "sent_at": None, "reason": None, "address": "d"},
        {"id": ids["s-4"], "status": "sent", "sent_at": sent_at, "reason": None, "address": "e"},
    ]
    with single_statements(engine) as records, records.begin():
        settle(records, "w1", rows)
    with session_factory(engine)() as session:
        found = {
            s.idempotency_key: (s.status, s.sent_at, s.reason, s.address, s.claimed_by)
            for s in session.scalars(select(JourneySend))
        }
    at = found["s-0"][1]
    assert at is not None and at.replace(tzinfo=dt.UTC) == sent_at
    assert found["s-0"][0::2] == ("sent", None, None)
    assert found["s-1"][2:] == ("again", "b", None)
    assert found["s-2"] == ("failed", None, "550 no such user", "c", None)
    assert found["s-3"] == ("sent", None, None, "d", None)
    # Another worker's claim: untouched.
    assert found["s-4"] == ("pending", None, None, None, "w2")
