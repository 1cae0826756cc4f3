"""The journey store on real databases: versions, one open instance per key, claims and sends."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from lifetide.clock import ManualClock
from lifetide.journeys.definition import Journey, Reentry
from lifetide.journeys.steps import Facts, SendMessage, Tick, advance, start
from lifetide.journeys.store import (
    JourneyError,
    JourneyNotFound,
    JourneyStore,
    StoredInstance,
)
from lifetide.ops.database import session_factory, transaction, upgrade
from lifetide.ops.models import JourneyInstance, User

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)


def _journey(name: str = "Cart abandonment", wait: int = 60) -> Journey:
    return Journey.model_validate(
        {
            "name": name,
            "trigger": {"type": "event", "event": {"event": "Product Added"}, "key": "cart_id"},
            "start": "wait",
            "steps": {
                "wait": {"type": "wait", "minutes": wait, "next": "email"},
                "email": {"type": "send", "template": "cart", "next": "exit"},
            },
        }
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(engine: Engine, clock: ManualClock) -> JourneyStore:
    return JourneyStore(session_factory(engine), clock)


@pytest.fixture
def journey_id(store: JourneyStore) -> int:
    # Live: workers claim only the instances of live (and stopped) journeys.
    created = store.create("Cart abandonment", _journey(), None).id
    store.set_status(created, "live")
    return created


def _started(store: JourneyStore, journey_id: int, profile_id: int, key: str | None) -> Any:
    """Open an instance and walk it to its first wait, as the engine will."""
    instance_id = store.open_instance(journey_id, 1, profile_id, key, step="wait")
    assert instance_id is not None
    instance, _ = start(_journey(), instance_id, profile_id, journey_id, T0, Facts(), key)
    store.save(instance)
    return instance


def test_create_and_update_keep_every_version(store: JourneyStore, engine: Engine) -> None:
    with transaction(session_factory(engine)) as session:
        mia = User(email="mia@shop.test", role="marketer", password_hash="-", created_at=T0)
        session.add(mia)
        session.flush()
        owner = mia.id
    created = store.create("  Cart   abandonment ", _journey(), owner)
    assert (created.name, created.status, created.version, created.owner_id) == (
        "Cart abandonment",
        "draft",
        1,
        owner,
    )
    with pytest.raises(JourneyError, match="already exists"):
        store.create("cart ABANDONMENT", _journey(), None)

    store.set_status(created.id, "live")
    assert store.update(created.id, _journey(), owner).version == 1  # unchanged: no version
    assert store.update(created.id, _journey(wait=30), owner).version == 2
    assert [v.version for v in store.versions(created.id)] == [2, 1]
    # Running instances keep their version: both stay readable.
    assert store.definition_of(created.id, 1).steps["wait"].minutes == 60  # type: ignore[union-attr]
    assert store.definition_of(created.id, 2).steps["wait"].minutes == 30  # type: ignore[union-attr]
    got = store.get(created.id)
    assert (got.status, got.version) == ("live", 2)
    assert [j.name for j in store.list("live")] == ["Cart abandonment"]
    assert store.list("draft") == []

    with pytest.raises(JourneyError, match="unknown journey status"):
        store.set_status(created.id, "running")
    with pytest.raises(JourneyNotFound):
        store.get(999)
    with pytest.raises(JourneyNotFound, match="no version 3"):
        store.definition_of(created.id, 3)


def test_one_open_instance_per_journey_profile_and_key(
    store: JourneyStore, journey_id: int
) -> None:
    first = store.open_instance(journey_id, 1, 42, "cart-1", step="wait")
    assert first is not None
    assert store.open_instance(journey_id, 1, 42, "cart-1", step="wait") is None
    # Another cart, another customer, or no key at all: each may have its own instance.
    assert store.open_instance(journey_id, 1, 42, "cart-2", step="wait") is not None
    assert store.open_instance(journey_id, 1, 43, "cart-1", step="wait") is not None
    keyless = store.open_instance(journey_id, 1, 42, None, step="wait")
    assert keyless is not None
    assert store.open_instance(journey_id, 1, 42, None, step="wait") is None
    # Once the first is done, the same cart may start again.
    done = dataclasses.replace(store.load(first), status="done", outcome="completed")
    store.save(done)
    assert store.open_instance(journey_id, 1, 42, "cart-1", step="wait") is not None


def test_an_instance_round_trips_through_the_database(
    store: JourneyStore, journey_id: int, clock: ManualClock
) -> None:
    instance = _started(store, journey_id, 42, "cart-1")
    loaded = store.load(instance.instance_id)
    assert isinstance(loaded, StoredInstance)
    assert (loaded.version, loaded.instance_key) == (1, "cart-1")
    # The stored instance equals the step function's, field by field.
    base = {f.name: getattr(loaded, f.name) for f in dataclasses.fields(instance)}
    assert base == dataclasses.asdict(instance)
    assert loaded.wake_at == T0 + dt.timedelta(minutes=60)
    assert loaded.wake_at is not None and loaded.wake_at.tzinfo is not None

    # The step function takes the stored instance as is and keeps its version and key.
    after, actions = advance(_journey(), loaded, Tick(T0 + dt.timedelta(hours=2)), Facts())
    assert isinstance(after, StoredInstance) and after.instance_key == "cart-1"
    assert [a.key for a in actions if isinstance(a, SendMessage)] == [
        f"{instance.instance_id}:email:1"
    ]
    store.save(after)
    finished = store.load(instance.instance_id)
    assert (finished.status, finished.outcome, dict(finished.visits)) == (
        "done",
        "completed",
        {"wait": 1, "email": 1, "exit": 1},
    )
    with pytest.raises(JourneyNotFound):
        store.save(dataclasses.replace(after, instance_id=999_999))
    with pytest.raises(ValueError, match="timezone-aware"):
        store.claim_due("w", dt.datetime(2026, 11, 2), 10, LEASE)


def test_claim_due_takes_due_rows_oldest_first_within_limit_and_lease(
    store: JourneyStore, journey_id: int
) -> None:
    soon = _started(store, journey_id, 1, "a")  # wakes at T0 + 60 min
    store.save(dataclasses.replace(_started(store, journey_id, 2, "b"), wake_at=T0))
    later_one = dataclasses.replace(
        _started(store, journey_id, 3, "c"), wake_at=T0 + dt.timedelta(days=1)
    )
    store.save(later_one)
    finished = _started(store, journey_id, 4, "d")
    store.save(dataclasses.replace(finished, status="done", wake_at=None, outcome="goal"))

    now = T0 + dt.timedelta(hours=2)
    claimed = store.claim_due("worker-1", now, limit=1, lease=LEASE)
    assert [c.profile_id for c in claimed] == [2]  # the oldest wake first
    claimed += store.claim_due("worker-1", now, limit=10, lease=LEASE)
    assert [c.profile_id for c in claimed] == [2, 1]  # not the one due tomorrow, not the done one
    # Both are held: another worker gets nothing until the lease ends.
    assert store.claim_due("worker-2", now + LEASE - dt.timedelta(seconds=1), 10, LEASE) == []
    retaken = store.claim_due("worker-2", now + LEASE, 10, LEASE)
    assert sorted(c.profile_id for c in retaken) == [1, 2]
    # A released instance is free at once.
    store.release(soon.instance_id)
    assert [c.instance_id for c in store.claim_due("worker-3", now, 10, LEASE)] == [
        soon.instance_id
    ]


def test_an_opened_instance_is_claimed_by_its_opener_until_saved(
    store: JourneyStore, journey_id: int, clock: ManualClock
) -> None:
    opened = store.open_instance(journey_id, 1, 7, None, step="wait", worker="w1", lease=LEASE)
    assert opened is not None
    assert store.claim_due("w2", T0, 10, LEASE) == []
    # The opener died: once its lease ends, the still-active instance is another worker's.
    again = store.claim_due("w2", T0 + LEASE, 10, LEASE)
    assert [(c.instance_id, c.status, dict(c.visits)) for c in again] == [(opened, "active", {})]
    instance, _ = start(_journey(), opened, 7, journey_id, T0 + LEASE, Facts())
    store.save(instance, release=True)
    assert store.claim_due("w3", T0 + LEASE, 10, LEASE) == []  # waiting for an hour now
    with pytest.raises(ValueError, match="both worker and lease"):
        store.open_instance(journey_id, 1, 8, None, step="wait", worker="w1")


def test_record_send_is_idempotent_and_marks_its_outcome(
    store: JourneyStore, journey_id: int, engine: Engine
) -> None:
    instance = _started(store, journey_id, 42, "cart-1")
    key = f"{instance.instance_id}:email:1"
    assert store.record_send(instance.instance_id, key, "email", "email", "cart") is True
    assert store.record_send(instance.instance_id, key, "email", "email", "cart") is False
    assert [s.status for s in store.sends_of(instance.instance_id)] == ["pending"]
    store.mark_sent(key, "<abc@mail>", T0 + dt.timedelta(minutes=61))
    sent = store.send(key)
    assert sent is not None and (sent.status, sent.provider_message_id) == ("sent", "<abc@mail>")
    # The next visit of the step is another send.
    key2 = f"{instance.instance_id}:email:2"
    assert store.record_send(instance.instance_id, key2, "email", "email", "cart") is True
    store.mark(key2, "deferred", "quiet hours in the customer's time zone")
    deferred = store.send(key2)
    assert deferred is not None and deferred.reason == "quiet hours in the customer's time zone"
    with pytest.raises(ValueError, match="unknown send status"):
        store.mark(key2, "lost", None)
    with pytest.raises(JourneyNotFound):
        store.mark("nope", "failed", None)
    # A send for an instance that does not exist is an error, not "already recorded".
    with pytest.raises(IntegrityError):
        store.record_send(999_999, "999999:email:1", "email", "email", "cart")
    # The store still works after the failed insert (its transaction was rolled back).
    assert store.record_send(instance.instance_id, key, "email", "email", "cart") is False


@pytest.mark.postgres
def test_concurrent_claims_on_postgres_get_disjoint_batches(postgres_engine: Engine) -> None:
    upgrade(postgres_engine)
    store = JourneyStore(session_factory(postgres_engine), ManualClock(T0))
    journey_id = store.create("Cart abandonment", _journey(), None).id
    store.set_status(journey_id, "live")
    for profile in range(60):
        opened = store.open_instance(journey_id, 1, profile, None, step="wait")
        assert opened is not None
    barrier = threading.Barrier(2)
    got: dict[str, list[int]] = {}

    def claim(worker: str) -> None:
        barrier.wait()
        got[worker] = [c.instance_id for c in store.claim_due(worker, T0, 40, LEASE)]

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not set(got["w0"]) & set(got["w1"])
    assert len(got["w0"]) + len(got["w1"]) == 60


@pytest.mark.postgres
def test_a_claim_on_postgres_skips_rows_another_worker_has_locked(
    postgres_engine: Engine,
) -> None:
    upgrade(postgres_engine)
    store = JourneyStore(session_factory(postgres_engine), ManualClock(T0))
    journey_id = store.create("Cart abandonment", _journey(), None).id
    store.set_status(journey_id, "live")
    ids: list[int] = []
    for profile in range(4):
        opened = store.open_instance(journey_id, 1, profile, None, step="wait")
        assert opened is not None
        ids.append(opened)
    with postgres_engine.connect() as other:
        # Another worker is mid-claim on the two oldest rows.
        other.execute(text("SET lock_timeout = '5s'"))
        locked = other.execute(
            select(JourneyInstance.id).where(JourneyInstance.id.in_(ids[:2])).with_for_update()
        ).scalars()
        assert sorted(locked) == sorted(ids[:2])
        result: list[int] = []
        worker = threading.Thread(
            target=lambda: result.extend(
                c.instance_id for c in store.claim_due("w2", T0, 10, LEASE)
            )
        )
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), "the claim waited on locked rows instead of skipping them"
        assert sorted(result) == sorted(ids[2:])
        other.rollback()


@pytest.mark.postgres
def test_concurrent_opens_on_postgres_make_one_instance(postgres_engine: Engine) -> None:
    upgrade(postgres_engine)
    store = JourneyStore(session_factory(postgres_engine), ManualClock(T0))
    journey_id = store.create("Cart abandonment", _journey(), None).id
    barrier = threading.Barrier(4)
    opened: list[int | None] = []

    def open_one() -> None:
        barrier.wait()
        opened.append(store.open_instance(journey_id, 1, 42, "cart-1", step="wait"))

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(opened) == 4 and sum(1 for o in opened if o is not None) == 1


def test_a_paused_journeys_instances_are_not_claimed_until_it_is_live_again(
    store: JourneyStore, journey_id: int
) -> None:
    _started(store, journey_id, 1, "a")
    later = T0 + dt.timedelta(hours=2)
    store.set_status(journey_id, "paused")
    assert store.claim_due("w", later, 10, LEASE) == []
    store.set_status(journey_id, "live")
    assert [c.profile_id for c in store.claim_due("w", later, 10, LEASE)] == [1]


def test_a_stopped_journeys_waiting_instances_are_all_due(
    store: JourneyStore, journey_id: int
) -> None:
    _started(store, journey_id, 1, "a")  # wakes in an hour
    store.set_status(journey_id, "stopped")
    assert [c.profile_id for c in store.claim_due("w", T0, 10, LEASE)] == [1]


def test_reentry_rules_are_kept_when_opening(
    store: JourneyStore, journey_id: int, clock: ManualClock
) -> None:
    never = Reentry(kind="never")
    first = store.open_instance(journey_id, 1, 7, "a", step="wait", reentry=never)
    assert first is not None
    store.save(dataclasses.replace(store.load(first), status="done", outcome="completed"))
    assert store.open_instance(journey_id, 1, 7, "b", step="wait", reentry=never) is None
    weekly = Reentry(kind="after_days", days=7)
    assert store.open_instance(journey_id, 1, 7, "b", step="wait", reentry=weekly) is None
    clock.advance(dt.timedelta(days=7))
    assert store.open_instance(journey_id, 1, 7, "b", step="wait", reentry=weekly) is not None


@pytest.mark.parametrize(
    ("before", "action", "after"),
    [
        ("draft", "start", "live"),
        ("paused", "start", "live"),
        ("stopped", "start", "live"),
        ("live", "pause", "paused"),
        ("live", "stop", "stopped"),
        ("draft", "stop", "stopped"),
        ("paused", "stop", "stopped"),
        ("live", "start", None),
        ("draft", "pause", None),
        ("stopped", "pause", None),
        ("stopped", "stop", None),
    ],
)
def test_start_pause_and_stop_follow_one_table(
    store: JourneyStore, journey_id: int, before: str, action: str, after: str | None
) -> None:
    store.set_status(journey_id, before)
    if after is None:
        with pytest.raises(JourneyError, match=f"is {before}: it cannot {action}"):
            store.transition(journey_id, action)
        assert store.get(journey_id).status == before
    else:
        assert store.transition(journey_id, action).status == after
