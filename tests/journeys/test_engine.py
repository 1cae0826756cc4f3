"""The engine without a channel: journal events open instances, due steps fill the outbox.

Real embedded stores (SQLite operational database, DuckDB warehouse, the journal) and the real
loader; only the clock is moved by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.definition import Split
from lifetide.journeys.engine import JourneyEngine
from lifetide.journeys.files import bundled_journeys
from lifetide.journeys.store import JourneyStore
from lifetide.ops.models import JourneyInput, JourneyInstance, JourneySend
from lifetide.settings import Settings

T0 = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def shop(settings: Settings, clock: ManualClock) -> Iterator[Lifetide]:
    with Lifetide(settings, clock=clock) as app:
        yield app


def _journey(app: Lifetide, name: str) -> int:
    definition = next(j for j in bundled_journeys().values() if j.name == name)
    store = JourneyStore(app.sessions, app.clock)
    journey_id = store.create(name, definition, None).id
    store.set_status(journey_id, "live")
    return journey_id


def _track(app: Lifetide, *messages: dict[str, Any]) -> None:
    """Journal messages as the tracking API would (with a source), then load them."""
    at = app.clock.now()
    batch = [
        {"messageId": f"m-{at.timestamp()}-{i}", "timestamp": at.isoformat(), **m}
        for i, m in enumerate(messages)
    ]
    body = orjson.dumps({"batch": batch})
    app.journal.append(body, received_at=at, messages=len(batch), source_id=1).result()
    app.loader().load_all()


def _added(cart: str, user: str = "u1") -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": "Product Added",
        "properties": {"cart_id": cart, "product_id": "p1", "price": 20, "quantity": 1},
    }


def _sends(app: Lifetide) -> list[JourneySend]:
    with app.sessions() as session:
        return list(session.scalars(select(JourneySend).order_by(JourneySend.id)))


def _instances(app: Lifetide) -> list[JourneyInstance]:
    with app.sessions() as session:
        return list(session.scalars(select(JourneyInstance).order_by(JourneyInstance.id)))


def test_a_cart_opens_one_instance_and_its_first_email_is_due_an_hour_later(
    shop: Lifetide, clock: ManualClock
) -> None:
    _journey(shop, "Cart abandonment")
    engine = JourneyEngine(shop, "w1")
    _track(shop, {"type": "identify", "userId": "u1", "traits": {"email": "ann@shop.test"}})
    _track(shop, _added("c1"), _added("c1"))  # two adds to one cart: one instance
    assert engine.consume_events() > 0
    engine.run_steps()
    (instance,) = _instances(shop)
    assert (instance.instance_key, instance.status, instance.step) == (
        "c1",
        "waiting",
        "wait_an_hour",
    )
    assert _sends(shop) == []
    clock.advance(dt.timedelta(minutes=59))
    assert engine.run_steps() == 0
    clock.advance(dt.timedelta(minutes=1))
    assert engine.run_steps() == 1
    (send,) = _sends(shop)
    assert (send.step, send.channel, send.template, send.status) == (
        "first_email",
        "email",
        "cart-reminder",
        "pending",
    )
    assert send.offer == {"kind": "percent_off", "value": 10.0, "valid_days": 3}
    assert send.due_at is not None and send.profile_id == instance.profile_id


def test_the_order_for_the_cart_ends_the_instance_and_nothing_is_sent(
    shop: Lifetide, clock: ManualClock
) -> None:
    _journey(shop, "Cart abandonment")
    engine = JourneyEngine(shop, "w1")
    _track(shop, _added("c1"))
    engine.consume_events()
    engine.run_steps()
    clock.advance(dt.timedelta(minutes=20))
    order = {
        "type": "track",
        "userId": "u1",
        "event": "Order Completed",
        "properties": {"cart_id": "c1", "order_id": "o1", "revenue": 20},
    }
    _track(shop, order)
    engine.consume_events()
    with shop.sessions() as session:
        assert session.scalar(select(JourneyInput.kind)) == "seen"
    assert engine.run_steps() == 1  # due at once: it has an input
    (instance,) = _instances(shop)
    assert (instance.status, instance.outcome) == ("done", "goal")
    clock.advance(dt.timedelta(hours=2))
    engine.run_steps()
    assert _sends(shop) == []
    with shop.sessions() as session:
        assert session.scalar(select(JourneyInput.id)) is None  # applied once, then gone


def test_replaying_the_journal_opens_nothing_twice(shop: Lifetide) -> None:
    _journey(shop, "Cart abandonment")
    engine = JourneyEngine(shop, "w1")
    _track(shop, _added("c1"), _added("c2", "u2"))
    engine.consume_events()
    # Another engine (a restart) starts from the stored cursor, not from the beginning.
    assert JourneyEngine(shop, "w2").consume_events() == 0
    assert len(_instances(shop)) == 2


def test_events_older_than_two_days_start_no_journey(shop: Lifetide, clock: ManualClock) -> None:
    _journey(shop, "Cart abandonment")
    old = {**_added("c1"), "timestamp": (T0 - dt.timedelta(days=3)).isoformat()}
    at = clock.now()
    body = orjson.dumps({"batch": [{"messageId": "old", **old}]})
    shop.journal.append(body, received_at=at, messages=1, source_id=1).result()
    shop.loader().load_all()
    JourneyEngine(shop, "w1").consume_events()
    assert _instances(shop) == []


def test_a_stopped_journey_ends_its_instances_and_a_paused_one_holds_them(
    shop: Lifetide, clock: ManualClock
) -> None:
    journey_id = _journey(shop, "Cart abandonment")
    store = JourneyStore(shop.sessions, shop.clock)
    engine = JourneyEngine(shop, "w1")
    _track(shop, _added("c1"))
    engine.consume_events()
    engine.run_steps()
    store.set_status(journey_id, "paused")
    clock.advance(dt.timedelta(hours=2))
    assert engine.run_steps() == 0 and _sends(shop) == []
    store.set_status(journey_id, "stopped")
    assert engine.run_steps() == 1
    (instance,) = _instances(shop)
    assert (instance.status, instance.outcome) == ("done", "stopped")
    assert _sends(shop) == []


def test_an_update_profile_step_sets_traits(shop: Lifetide, clock: ManualClock) -> None:
    from lifetide.journeys.files import parse_journey
    from lifetide.ops.models import Customer

    definition = parse_journey(
        "name: Tagger\n"
        "trigger: {type: event, event: {event: Signed Up}}\n"
        "start: tag\n"
        "steps: {tag: {type: update_profile, traits: {welcomed: true}}}\n"
    )
    store = JourneyStore(shop.sessions, shop.clock)
    store.set_status(store.create("Tagger", definition, None).id, "live")
    engine = JourneyEngine(shop, "w1")
    _track(shop, {"type": "track", "userId": "u9", "event": "Signed Up", "properties": {}})
    engine.consume_events()
    engine.run_steps()
    (instance,) = _instances(shop)
    with shop.sessions() as session:
        customer = session.get(Customer, instance.profile_id)
        assert customer is not None and customer.traits.get("welcomed") is True


def test_an_instance_that_cannot_move_does_not_hold_up_the_others(
    shop: Lifetide, clock: ManualClock
) -> None:
    from lifetide.segments.rules import Rule

    definition = next(j for j in bundled_journeys().values() if j.name == "Cart abandonment")
    branchy = definition.model_copy(
        update={
            "name": "Branchy",
            "steps": {
                **definition.steps,
                "wait_an_hour": definition.steps["wait_an_hour"].model_copy(update={"next": "vip"}),
                "vip": {"type": "branch", "condition": {"type": "group"}, "yes": "first_email"},
            },
        }
    )
    store = JourneyStore(shop.sessions, shop.clock)
    journey_id = store.create("Branchy", branchy.model_validate(branchy.model_dump()), None).id
    store.set_status(journey_id, "live")

    def broken(_rule: Rule, _ids: list[int]) -> set[int]:
        raise RuntimeError("the warehouse is away")

    from lifetide.journeys.runner import JourneyRunner

    runner = JourneyRunner(shop.sessions, shop.clock, "w1", broken)
    _track(shop, _added("c1"), _added("c2", "u2"))
    JourneyEngine(shop, "w1").consume_events()
    runner.run_batch()
    # One customer goes through the broken branch; a plain cart in another journey still moves.
    _journey(shop, "Cart abandonment")
    _track(shop, _added("c3", "u3"))
    JourneyEngine(shop, "w1").consume_events()
    clock.advance(dt.timedelta(hours=2))
    result = runner.run_batch()
    # Three Branchy instances (c3 entered both journeys) fail alone; the cart one moves on,
    # to a send recorded as skipped (u3 has no address).
    assert (result.claimed, result.advanced) == (4, 1)
    assert [(s.step, s.status) for s in _sends(shop)] == [("first_sms", "skipped")]


def test_a_split_records_each_customers_arm(shop: Lifetide, clock: ManualClock) -> None:
    from lifetide.journeys.files import parse_journey
    from lifetide.journeys.steps import Instance, arm_name, split_index
    from lifetide.ops.models import Exposure

    definition = parse_journey(
        "name: Split test\n"
        "trigger: {type: event, event: {event: Signed Up}}\n"
        "start: ab\n"
        "steps:\n"
        "  ab: {type: split, paths: [{weight: 1, label: A}, {weight: 1, label: B}]}\n"
    )
    store = JourneyStore(shop.sessions, shop.clock)
    journey_id = store.create("Split test", definition, None).id
    store.set_status(journey_id, "live")
    engine = JourneyEngine(shop, "w1")
    signed_up = [
        {"type": "track", "userId": f"s{i}", "event": "Signed Up", "properties": {}}
        for i in range(40)
    ]
    _track(shop, *signed_up)
    engine.consume_events()
    engine.run_steps()
    with shop.sessions() as session:
        rows = list(session.scalars(select(Exposure)))
    assert len(rows) == 40
    assert {r.experiment for r in rows} == {f"journey-{journey_id}-split-ab"}
    assert {r.arm for r in rows} == {"A", "B"}
    step = definition.steps["ab"]
    assert isinstance(step, Split)
    for row in rows:
        where = Instance(0, row.profile_id, journey_id, "ab", "active", T0, T0)
        assert row.arm == arm_name(step, split_index(step, where))
        assert row.journey_id == journey_id and row.first_at.replace(tzinfo=dt.UTC) == T0
