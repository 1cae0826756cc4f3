"""The policy gate, as a table: message and customer in, verdict and reason out."""

from __future__ import annotations

import datetime as dt

import pytest

from lifetide.journeys.policy import Caps, Decision, Message, Recipient, decide, quiet_hours_end

# 15:00 UTC is 10:00 in New York and 16:00 in Paris: outside quiet hours in both.
NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)
EMAIL = Message("email", marketing=True)
RECEIPT = Message("email", marketing=False)


def hours_ago(*hours: float) -> tuple[dt.datetime, ...]:
    return tuple(NOW - dt.timedelta(hours=h) for h in hours)


def who(
    consent: str = "granted",
    suppressed: tuple[str, ...] = (),
    sent: tuple[dt.datetime, ...] = (),
    zone: str | None = "America/New_York",
    held_out: str | None = None,
) -> Recipient:
    return Recipient(consent, frozenset(suppressed), sent, zone, held_out)  # type: ignore[arg-type]


HELD = "held out: global control group (5% of customers)"


CASES: list[tuple[str, Message, Recipient, str, str]] = [
    ("allowed", EMAIL, who(), "send", "allowed"),
    ("opted out", EMAIL, who("denied"), "skip", "opted out"),
    ("never opted in", EMAIL, who("unknown"), "skip", "never given"),
    ("unsubscribed", EMAIL, who(suppressed=("unsubscribe",)), "skip", "opted out"),
    ("hard bounce stops marketing", EMAIL, who(suppressed=("hard_bounce",)), "skip", "hard_bounce"),
    ("bounce stops receipts", RECEIPT, who(suppressed=("hard_bounce",)), "skip", "hard_bounce"),
    ("complaint", EMAIL, who(suppressed=("complaint",)), "skip", "complaint"),
    ("receipt ignores opt-out", RECEIPT, who("denied", ("unsubscribe",)), "send", "transactional"),
    ("one today already", EMAIL, who(sent=hours_ago(3)), "skip", "last day (limit 1)"),
    ("yesterday's does not count today", EMAIL, who(sent=hours_ago(25)), "send", "allowed"),
    ("three this week", EMAIL, who(sent=hours_ago(30, 60, 100)), "skip", "last week (limit 3)"),
    ("three, one past the week", EMAIL, who(sent=hours_ago(30, 60, 170)), "send", "allowed"),
    ("a receipt ignores caps", RECEIPT, who(sent=hours_ago(1, 2, 3)), "send", "transactional"),
    ("quiet in Tokyo (00:00)", EMAIL, who(zone="Asia/Tokyo"), "defer", "quiet hours"),
    ("a receipt ignores quiet hours", RECEIPT, who(zone="Asia/Tokyo"), "send", "transactional"),
    ("held out", EMAIL, who(held_out=HELD), "skip", "global control group"),
    ("held out, opted out", EMAIL, who("denied", held_out=HELD), "skip", "opted out"),
    ("held out before capped", EMAIL, who(sent=hours_ago(3), held_out=HELD), "skip", "held out"),
    ("held out at night", EMAIL, who(zone="Asia/Tokyo", held_out=HELD), "skip", "held out"),
    ("a receipt is never held out", RECEIPT, who(held_out=HELD), "send", "transactional"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "message", "recipient", "verdict", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_decision(
    name: str, message: Message, recipient: Recipient, verdict: str, words: str
) -> None:
    decision = decide(message, recipient, NOW, Caps())
    assert decision.verdict == verdict
    assert words in decision.reason


def test_quiet_hours_defer_to_their_local_end() -> None:
    decision = decide(EMAIL, who(zone="Asia/Tokyo"), NOW, Caps())
    # 00:00 in Tokyo; quiet until 08:00 there, which is 23:00 UTC.
    assert decision == Decision(
        "defer",
        "quiet hours in the customer's time zone",
        dt.datetime(2026, 11, 2, 23, 0, tzinfo=dt.UTC),
    )


@pytest.mark.parametrize(
    ("utc", "zone", "expected"),
    [
        ("2026-11-02T20:59", "UTC", None),
        ("2026-11-02T21:00", "UTC", "2026-11-03T08:00"),
        ("2026-11-03T07:59", "UTC", "2026-11-03T08:00"),
        ("2026-11-03T08:00", "UTC", None),
        # 03:00 UTC is 22:00 in New York (EST): quiet until 08:00 there, 13:00 UTC.
        ("2026-11-03T03:00", "America/New_York", "2026-11-03T13:00"),
        # An unknown zone is read as UTC: 03:00 is quiet there too.
        ("2026-11-03T03:00", "Nowhere/Unknown", "2026-11-03T08:00"),
    ],
)
def test_quiet_hours_end(utc: str, zone: str, expected: str | None) -> None:
    now = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC)
    got = quiet_hours_end(now, zone, Caps())
    want = dt.datetime.fromisoformat(expected).replace(tzinfo=dt.UTC) if expected else None
    assert got == want


def test_quiet_hours_within_one_day_and_none() -> None:
    caps = Caps(quiet_start=dt.time(1, 0), quiet_end=dt.time(6, 0))
    at = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)
    assert quiet_hours_end(at, None, caps) == dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)
    assert quiet_hours_end(at, None, Caps(quiet_start=None)) is None


def test_opt_out_regime_sends_without_a_recorded_answer() -> None:
    assert decide(EMAIL, who("unknown"), NOW, Caps(require_opt_in=False)).verdict == "send"
