"""The pure journey step function: cart abandonment and its alternate flows, step by step."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifetide.journeys.definition import Journey, Split
from lifetide.journeys.steps import (
    ABSENCE_GATE,
    MAX_TRANSITIONS,
    Bounced,
    Exposed,
    Facts,
    Finished,
    Instance,
    Seen,
    SendMessage,
    Skipped,
    Stop,
    Tick,
    UpdateTraits,
    advance,
    arm_name,
    next_local_time,
    start,
)

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)

CART = Journey.model_validate(
    {
        "name": "Cart abandonment",
        "trigger": {
            "type": "event",
            "event": {"event": "Product Added"},
            "key": "cart_id",
            "ends_on": {"event": "Order Completed"},
        },
        "start": "wait_an_hour",
        "steps": {
            "wait_an_hour": {"type": "wait", "minutes": 60, "next": "first_email"},
            "first_email": {
                "type": "send",
                "template": "cart",
                "offer": {"kind": "percent_off", "value": 10},
                "fallback": "first_sms",
                "next": "wait_open",
            },
            "first_sms": {"type": "send", "channel": "sms", "template": "cart-sms", "next": "exit"},
            "wait_open": {
                "type": "wait_for_event",
                "event": {"event": "Email Opened"},
                "timeout_minutes": 24 * 60,
                "on_event": "exit",
                "on_timeout": "follow_up",
            },
            "follow_up": {
                "type": "send",
                "template": "cart-follow-up",
                "offer": {"kind": "percent_off", "value": 15},
                "next": "exit",
            },
        },
        "goal": {"event": {"event": "Order Completed"}, "within_days": 7},
    }
)


def begin(journey: Journey = CART, facts: Facts | None = None) -> tuple[Instance, list[Any]]:
    return start(journey, 1, 42, 7, T0, facts or Facts())


def later(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def sends(actions: list[Any]) -> list[str]:
    return [a.template for a in actions if isinstance(a, SendMessage)]


def test_the_basic_flow_waits_an_hour_then_sends_with_recommendations() -> None:
    instance, actions = begin()
    assert (instance.step, instance.status, instance.wake_at) == (
        "wait_an_hour",
        "waiting",
        later(60),
    )
    assert actions == []
    # Nothing before the hour is up.
    assert advance(CART, instance, Tick(later(59)), Facts()) == (instance, [])
    instance, actions = advance(CART, instance, Tick(later(61)), Facts())
    assert sends(actions) == ["cart"]
    assert instance.step == "wait_open" and instance.wake_at == later(61 + 24 * 60)
    # She opens it: the journey ends without a follow-up.
    instance, actions = advance(CART, instance, Seen("Email Opened", {}, later(90)), Facts())
    assert instance.outcome == "completed" and sends(actions) == []


def test_an_ignored_email_gets_the_stronger_follow_up() -> None:
    instance, _ = begin()
    instance, _ = advance(CART, instance, Tick(later(60)), Facts())
    instance, actions = advance(CART, instance, Tick(later(60 + 24 * 60)), Facts())
    sent = [a for a in actions if isinstance(a, SendMessage)]
    assert [s.template for s in sent] == ["cart-follow-up"]
    assert sent[0].offer.value == 15
    assert instance.outcome == "completed"


def test_a_purchase_is_the_goal_and_ends_the_instance_wherever_it_is() -> None:
    instance, _ = begin()
    done, actions = advance(CART, instance, Seen("Order Completed", {}, later(30)), Facts())
    assert done.outcome == "goal" and actions == [Finished("goal", "Order Completed")]
    # Nothing happens to a finished instance.
    assert advance(CART, done, Tick(later(120)), Facts()) == (done, [])


def test_a_purchase_after_the_goal_window_is_not_the_goal() -> None:
    instance, _ = begin()
    instance, _ = advance(CART, instance, Tick(later(60)), Facts())
    after = Seen("Order Completed", {}, T0 + dt.timedelta(days=8))
    # Eight days on, the wait for an open has timed out: the follow-up went, not the goal.
    done, actions = advance(CART, instance, after, Facts())
    assert done.outcome == "completed" and sends(actions) == ["cart-follow-up"]


def test_a_bounced_address_falls_back_to_sms() -> None:
    facts = Facts(reachable=lambda channel, _marketing: channel != "email")
    instance, _ = begin(facts=facts)
    instance, actions = advance(CART, instance, Tick(later(60)), facts)
    assert [(a.channel, a.template) for a in actions if isinstance(a, SendMessage)] == [
        ("sms", "cart-sms")
    ]
    assert instance.outcome == "completed"


def test_unreachable_without_a_fallback_is_skipped_and_recorded() -> None:
    facts = Facts(reachable=lambda _channel, _marketing: False)
    instance, _ = begin(facts=facts)
    instance, _ = advance(CART, instance, Tick(later(60)), facts)  # first: falls back to SMS
    assert instance.outcome == "completed"
    lone = CART.model_copy(
        update={"start": "follow_up", "steps": {"follow_up": CART.steps["follow_up"]}}
    )
    done, actions = start(lone, 2, 42, 7, T0, facts)
    assert any(isinstance(a, Skipped) and a.channel == "email" for a in actions)
    assert done.outcome == "completed"


def test_an_opt_out_stops_the_instance_at_once() -> None:
    instance, _ = begin()
    done, actions = advance(CART, instance, Stop(later(5), "opted out"), Facts())
    assert done.outcome == "stopped" and actions == [Finished("stopped", "opted out")]
    assert sends(advance(CART, done, Tick(later(61)), Facts())[1]) == []


def test_send_keys_are_stable_on_replay_and_differ_per_visit() -> None:
    instance, _ = begin()
    first = advance(CART, instance, Tick(later(60)), Facts())
    again = advance(CART, instance, Tick(later(60)), Facts())
    assert first == again  # a replayed input yields the same key: the engine sends once
    loop = Journey.model_validate(
        {
            "name": "Reminder loop",
            "trigger": {"type": "segment", "segment_id": 3},
            "start": "remind",
            "steps": {
                "remind": {"type": "send", "template": "reminder", "next": "pause"},
                "pause": {"type": "wait", "minutes": 60, "next": "remind"},
            },
        }
    )
    instance, actions = start(loop, 5, 42, 9, T0, Facts())
    keys = [a.key for a in actions if isinstance(a, SendMessage)]
    instance, actions = advance(loop, instance, Tick(later(60)), Facts())
    keys += [a.key for a in actions if isinstance(a, SendMessage)]
    assert keys == ["5:remind:1", "5:remind:2"]


def test_branches_ask_the_engine_and_updates_become_actions() -> None:
    journey = Journey.model_validate(
        {
            "name": "VIP welcome",
            "trigger": {"type": "segment", "segment_id": 4},
            "start": "is_vip",
            "steps": {
                "is_vip": {
                    "type": "branch",
                    "condition": {"type": "prediction", "field": "future_top20", "op": "is_true"},
                    "yes": "mark",
                    "no": "exit",
                },
                "mark": {
                    "type": "update_profile",
                    "traits": {"vip_welcomed": True},
                    "next": "gift",
                },
                "gift": {"type": "send", "template": "vip", "next": "exit"},
            },
        }
    )
    done, actions = start(journey, 1, 42, 7, T0, Facts(matches=lambda rule: True))
    assert actions[0] == UpdateTraits({"vip_welcomed": True})
    assert sends(actions) == ["vip"] and done.outcome == "completed"
    done, actions = start(journey, 2, 43, 7, T0, Facts(matches=lambda rule: False))
    assert actions == [Finished("completed")]


def test_a_loop_without_a_wait_ends_instead_of_spinning() -> None:
    journey = Journey.model_validate(
        {
            "name": "Spin",
            "trigger": {"type": "segment", "segment_id": 1},
            "start": "a",
            "steps": {
                "a": {"type": "update_profile", "traits": {"x": 1}, "next": "b"},
                "b": {"type": "update_profile", "traits": {"x": 2}, "next": "a"},
            },
        }
    )
    done, actions = start(journey, 1, 42, 7, T0, Facts())
    assert done.outcome == "loop"
    assert len(actions) == MAX_TRANSITIONS + 1


def test_wait_for_event_filters_on_properties() -> None:
    journey = Journey.model_validate(
        {
            "name": "Click",
            "trigger": {"type": "segment", "segment_id": 1},
            "start": "wait_click",
            "steps": {
                "wait_click": {
                    "type": "wait_for_event",
                    "event": {
                        "event": "Email Link Clicked",
                        "where": [{"property": "campaign_id", "op": "eq", "value": "c1"}],
                    },
                    "timeout_minutes": 60,
                    "on_event": "thanks",
                },
                "thanks": {"type": "send", "template": "thanks"},
            },
        }
    )
    instance, _ = start(journey, 1, 42, 7, T0, Facts())
    other = Seen("Email Link Clicked", {"campaign_id": "c2"}, later(5))
    assert advance(journey, instance, other, Facts()) == (instance, [])
    mine = Seen("Email Link Clicked", {"campaign_id": "C1"}, later(6))
    assert sends(advance(journey, instance, mine, Facts())[1]) == ["thanks"]


@pytest.mark.parametrize(
    ("now", "zone", "at", "expected"),
    [
        # 10:00 UTC is 05:00 in New York: 09:00 there is today 14:00 UTC.
        ("2026-11-02T10:00", "America/New_York", "09:00", "2026-11-02T14:00"),
        # Past 09:00 in Paris already (11:00 there): tomorrow 08:00 UTC.
        ("2026-11-02T10:00", "Europe/Paris", "09:00", "2026-11-03T08:00"),
        # Unknown zone: UTC.
        ("2026-11-02T10:00", "Mars/Olympus", "12:00", "2026-11-02T12:00"),
        (
            # Across the March clock change in New York (EST to EDT).
            "2026-03-07T20:00",
            "America/New_York",
            "09:00",
            "2026-03-08T13:00",
        ),
    ],
)
def test_wait_until_a_local_time(now: str, zone: str, at: str, expected: str) -> None:
    got = next_local_time(
        dt.datetime.fromisoformat(now).replace(tzinfo=dt.UTC), dt.time.fromisoformat(at), zone
    )
    assert got == dt.datetime.fromisoformat(expected).replace(tzinfo=dt.UTC)


SPLIT = Journey.model_validate(
    {
        "name": "A/B",
        "trigger": {"type": "segment", "segment_id": 1},
        "start": "split",
        "steps": {
            "split": {
                "type": "split",
                "paths": [
                    {"weight": 1, "next": "a", "label": "holdout"},
                    {"weight": 3, "next": "b"},
                ],
            },
            "a": {"type": "update_profile", "traits": {"arm": "holdout"}},
            "b": {"type": "update_profile", "traits": {"arm": "treatment"}},
        },
    }
)


@given(profile_id=st.integers(1, 10**9))
def test_a_split_is_sticky_per_customer(profile_id: int) -> None:
    first = start(SPLIT, 1, profile_id, 7, T0, Facts())[1]
    second = start(SPLIT, 99, profile_id, 7, later(600), Facts())[1]
    assert first == second


@given(profile_id=st.integers(1, 10**9))
def test_a_split_exposes_the_customer_to_the_arm_she_takes(profile_id: int) -> None:
    exposed, updated = start(SPLIT, 1, profile_id, 7, T0, Facts())[1][:2]
    assert isinstance(exposed, Exposed) and isinstance(updated, UpdateTraits)
    assert exposed.experiment == "journey-7-split-split"
    # The labelled path is named by its label, the other by the step it leads to.
    assert exposed.arm == {"holdout": "holdout", "treatment": "b"}[updated.traits["arm"]]


def test_a_split_follows_its_weights() -> None:
    arms = Counter(
        start(SPLIT, 1, p, 7, T0, Facts())[1][1].traits["arm"]  # type: ignore[union-attr]
        for p in range(1, 20_001)
    )
    assert 0.23 < arms["holdout"] / 20_000 < 0.27


@pytest.mark.parametrize(
    ("path", "index", "name"),
    [
        ({"weight": 1, "next": "a", "label": "B"}, 0, "B"),
        ({"weight": 1, "next": "a"}, 0, "a"),
        ({"weight": 1}, 0, "path 1"),
        ({"weight": 1}, 1, "path 2"),
    ],
)
def test_an_arm_is_named_by_label_then_next_step_then_position(
    path: dict[str, Any], index: int, name: str
) -> None:
    step = Split.model_validate({"paths": [path, path]})
    assert arm_name(step, index) == name


# -- keyed ends, absence gates and bounces ------------------------------------------------


def _started_cart(key: str = "cart-1") -> Instance:
    instance, _ = start(CART, 1, 42, 7, T0, Facts(), key)
    return instance


@pytest.mark.parametrize(
    ("properties", "outcome"),
    [
        ({"cart_id": "cart-1"}, "ended"),  # the order of this very cart ends it
        ({"cart_id": "cart-2"}, None),  # another cart's order does not
        ({}, None),
    ],
)
def test_a_keyed_trigger_ends_only_on_its_own_key(
    properties: dict[str, Any], outcome: str | None
) -> None:
    goalless = CART.model_copy(update={"goal": None})
    instance, _ = start(goalless, 1, 42, 7, T0, Facts(), "cart-1")
    seen = Seen("Order Completed", properties, T0 + dt.timedelta(minutes=5))
    after, actions = advance(goalless, instance, seen, Facts())
    assert after.outcome == outcome
    assert (actions == [Finished("ended", "Order Completed")]) == (outcome == "ended")


BROWSE = Journey.model_validate(
    {
        "name": "Browse abandonment",
        "trigger": {
            "type": "absence",
            "did": {"event": "Product Viewed"},
            "not_followed_by": {"event": "Product Added"},
            "within_minutes": 120,
        },
        "start": "email",
        "steps": {"email": {"type": "send", "template": "browse", "next": "exit"}},
    }
)


def test_an_absence_trigger_waits_at_its_gate_and_ends_if_the_follow_up_comes() -> None:
    gate, actions = start(BROWSE, 1, 42, 7, T0, Facts())
    assert (gate.step, gate.status, gate.wake_at, actions) == (
        ABSENCE_GATE,
        "waiting",
        T0 + dt.timedelta(minutes=120),
        [],
    )
    # Another view changes nothing; an add to cart within the two hours ends it quietly.
    same, none = advance(BROWSE, gate, Seen("Product Viewed", {}, T0), Facts())
    assert (same, none) == (gate, [])
    ended, done = advance(
        BROWSE, gate, Seen("Product Added", {}, T0 + dt.timedelta(hours=1)), Facts()
    )
    assert ended.outcome == "ended" and not any(isinstance(a, SendMessage) for a in done)


def test_an_absence_established_starts_the_journey_at_the_end_of_the_window() -> None:
    gate, _ = start(BROWSE, 1, 42, 7, T0, Facts())
    early, nothing = advance(BROWSE, gate, Tick(T0 + dt.timedelta(minutes=119)), Facts())
    assert early == gate and nothing == []
    after, actions = advance(BROWSE, gate, Tick(T0 + dt.timedelta(hours=5)), Facts())
    assert [a.key for a in actions if isinstance(a, SendMessage)] == ["1:email:1"]
    assert after.entered_at == T0 and after.outcome == "completed"


def test_a_hard_bounce_moves_the_instance_to_the_sends_fallback() -> None:
    instance = _started_cart()
    waiting, sent = advance(CART, instance, Tick(T0 + dt.timedelta(minutes=60)), Facts())
    assert waiting.step == "wait_open"
    assert [a.channel for a in sent if isinstance(a, SendMessage)] == ["email"]
    bounced_at = T0 + dt.timedelta(minutes=61)
    after, actions = advance(CART, waiting, Bounced("first_email", bounced_at), Facts())
    texts = [a for a in actions if isinstance(a, SendMessage)]
    assert [(a.channel, a.template, a.key) for a in texts] == [("sms", "cart-sms", "1:first_sms:1")]
    assert after.status == "done"


def test_a_bounce_of_a_send_without_fallback_changes_nothing() -> None:
    instance = _started_cart()
    waiting, _ = advance(CART, instance, Tick(T0 + dt.timedelta(minutes=60)), Facts())
    assert advance(CART, waiting, Bounced("follow_up", T0), Facts()) == (waiting, [])


def test_a_transactional_send_reaches_a_customer_who_opted_out_of_marketing() -> None:
    from lifetide.journeys.facts import Person

    receipt = Journey.model_validate(
        {
            "name": "Receipt",
            "trigger": {"type": "event", "event": {"event": "Order Completed"}},
            "start": "mail",
            "steps": {"mail": {"type": "send", "template": "receipt", "marketing": False}},
        }
    )
    opted_out = Person(1, email="a@shop.test", consents={"email": "denied"})
    facts = Facts(reachable=opted_out.reachable)
    _, actions = start(receipt, 1, 1, 1, T0, facts)
    assert [a.template for a in actions if isinstance(a, SendMessage)] == ["receipt"]
    bounced = Person(1, email="a@shop.test", suppressed={"email": frozenset({"hard_bounce"})})
    _, actions = start(receipt, 1, 1, 1, T0, Facts(reachable=bounced.reachable))
    assert [type(a).__name__ for a in actions] == ["Skipped", "Finished"]


def test_a_time_of_day_on_the_night_the_clocks_go_back_is_still_ahead() -> None:
    # New York, 2026-11-01: 01:30 EST (06:30 UTC) comes after 01:45 EDT (05:45 UTC).
    now = dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC)
    wake = next_local_time(now, dt.time(1, 45), "America/New_York")
    assert wake > now
    assert wake == dt.datetime(2026, 11, 2, 6, 45, tzinfo=dt.UTC)
