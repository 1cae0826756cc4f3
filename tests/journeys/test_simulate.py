"""The simulator: past events through the step function and the policy gate, nothing stored."""

from __future__ import annotations

import datetime as dt

from lifetide.journeys.facts import Person
from lifetide.journeys.files import bundled_journeys
from lifetide.journeys.policy import Caps
from lifetide.journeys.simulate import PastEvent, simulate

T0 = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
CART = bundled_journeys()["cart_abandonment"]
BIRTHDAY = bundled_journeys()["birthday"]
DAYTIME = Caps(quiet_start=None, quiet_end=None)


def _person(pid: int, consent: str = "granted", **extra: object) -> Person:
    return Person(pid, email=f"p{pid}@shop.test", consents={"email": consent}, **extra)  # type: ignore[arg-type]


def _added(pid: int, cart: str, at: dt.datetime) -> PastEvent:
    return PastEvent(pid, "Product Added", {"cart_id": cart}, at)


def test_an_ignored_cart_gets_all_three_emails_and_a_bought_one_none() -> None:
    events = [
        _added(1, "c1", T0),
        _added(2, "c2", T0),
        PastEvent(
            2, "Order Completed", {"cart_id": "c2", "revenue": 80}, T0 + dt.timedelta(minutes=30)
        ),
    ]
    people = {1: _person(1), 2: _person(2)}
    (report,) = simulate([CART], events, people, DAYTIME, T0 + dt.timedelta(days=7))
    assert report.entered == 2
    sent = {step: verdicts["send"] for (step, _), verdicts in report.sends.items()}
    assert sent == {"first_email": 1, "second_email": 1, "last_email": 1}
    assert report.conversions == 1 and report.revenue == 80.0
    assert report.outcomes == {"goal": 1, "completed": 1}


def test_the_policy_gate_is_applied_with_its_reasons() -> None:
    events = [_added(1, "c1", T0), _added(2, "c2", T0), _added(3, "c3", T0)]
    people = {1: _person(1, "denied"), 2: _person(2, "unknown"), 3: Person(3)}
    (report,) = simulate([CART], events, people, DAYTIME, T0 + dt.timedelta(hours=2))
    # Never opted in: the gate skips the e-mail and says why.
    assert report.sends[("first_email", "email")] == {"skip": 1}
    assert report.reasons[("skip", "no marketing consent on email (never given)")] == 1
    assert report.reasons[("skip", "no sms address on the profile")] == 2
    # Opted out, or no e-mail address at all: e-mail is not reachable, so the step falls back
    # to SMS, which neither can get (no phone number).
    assert report.sends[("first_sms", "sms")] == {"skip": 2}


def test_quiet_hours_defer_and_caps_skip() -> None:
    night = dt.datetime(2026, 11, 2, 21, 30, tzinfo=dt.UTC)  # + 1 hour = 22:30 UTC
    events = [_added(1, "c1", night), _added(1, "c2", night + dt.timedelta(hours=3))]
    (report,) = simulate(
        [
            CART.model_copy(
                update={"reentry": CART.reentry.model_copy(update={"days": None, "kind": "never"})}
            )
        ],
        events[:1],
        {1: _person(1)},
        Caps(),
        night + dt.timedelta(hours=2),
    )
    assert report.sends[("first_email", "email")]["defer"] == 1
    assert report.reasons[("defer", "quiet hours in the customer's time zone")] == 1


def test_reentry_rules_hold_in_the_replay() -> None:
    events = [_added(1, "c1", T0), _added(1, "c2", T0 + dt.timedelta(hours=2))]
    (report,) = simulate([CART], events, {1: _person(1)}, DAYTIME, T0 + dt.timedelta(hours=3))
    assert report.entered == 1  # re-entry after 1 day: the second cart within it does not enter


def test_journeys_started_by_dates_are_reported_as_not_simulated() -> None:
    (report,) = simulate([BIRTHDAY], [], {}, DAYTIME, T0)
    assert not report.simulated and report.entered == 0
