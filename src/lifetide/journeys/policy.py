"""The one policy gate every message passes before it is sent (pure).

In order: suppression (a hard bounce, a complaint or an unsubscribe on the channel), consent
(marketing needs it; an opt-out stops all marketing at once), holdouts (the global control
group and the journey's own, see experiments.holdouts), frequency caps (marketing only,
rolling windows) and quiet hours in the customer's time zone (marketing is deferred to their
end, never dropped for them). Transactional messages only meet suppression for undeliverable
addresses. Every decision carries its reason, which the engine records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Verdict = Literal["send", "defer", "skip"]
# Suppressions that stop every message on the channel, transactional too: the address does not
# take mail. An unsubscribe only stops marketing.
UNDELIVERABLE = frozenset({"hard_bounce", "complaint"})


@dataclass(frozen=True)
class Caps:
    """Frequency caps and quiet hours; the defaults are the issue's."""

    per_day: int = 1
    per_week: int = 3
    quiet_start: dt.time | None = dt.time(21, 0)
    quiet_end: dt.time | None = dt.time(8, 0)
    # Marketing needs a recorded "granted"; with False, only a recorded "denied" stops it.
    require_opt_in: bool = True


@dataclass(frozen=True)
class Message:
    """What is about to be sent."""

    channel: str
    marketing: bool


@dataclass(frozen=True)
class Recipient:
    """What the gate knows of the customer on this channel."""

    consent: Literal["granted", "denied", "unknown"]
    # Reasons the channel is suppressed: hard_bounce, complaint, unsubscribe.
    suppressed: frozenset[str]
    # When marketing messages went out on this channel (any order).
    marketing_sent: Sequence[dt.datetime]
    time_zone: str | None = None
    # Why this customer is held out of this message (a holdout's reason), or None.
    held_out: str | None = None


@dataclass(frozen=True)
class Decision:
    """Send now, defer until a time, or skip; and why."""

    verdict: Verdict
    reason: str
    until: dt.datetime | None = None


def decide(message: Message, recipient: Recipient, now: dt.datetime, caps: Caps) -> Decision:
    """Whether `message` may go to `recipient` at `now`, and why."""
    blocked = sorted(recipient.suppressed & UNDELIVERABLE)
    if blocked:
        return Decision("skip", f"suppressed on {message.channel}: {', '.join(blocked)}")
    if not message.marketing:
        return Decision("send", "transactional")
    if "unsubscribe" in recipient.suppressed or recipient.consent == "denied":
        return Decision("skip", f"no marketing consent on {message.channel} (opted out)")
    if recipient.consent == "unknown" and caps.require_opt_in:
        return Decision("skip", f"no marketing consent on {message.channel} (never given)")
    if recipient.held_out is not None:
        # After consent: a held-out send is one that would have gone, the control's record.
        return Decision("skip", recipient.held_out)
    capped = _capped(recipient.marketing_sent, now, caps)
    if capped is not None:
        return Decision("skip", capped)
    quiet_until = quiet_hours_end(now, recipient.time_zone, caps)
    if quiet_until is not None:
        return Decision("defer", "quiet hours in the customer's time zone", quiet_until)
    return Decision("send", "allowed")


def _capped(sent: Sequence[dt.datetime], now: dt.datetime, caps: Caps) -> str | None:
    windows: Mapping[str, tuple[dt.timedelta, int]] = {
        "day": (dt.timedelta(days=1), caps.per_day),
        "week": (dt.timedelta(days=7), caps.per_week),
    }
    for name, (span, limit) in windows.items():
        recent = sum(1 for at in sent if now - span < at <= now)
        if recent >= limit:
            return (
                f"frequency cap: {recent} marketing message(s) in the last {name} (limit {limit})"
            )
    return None


def quiet_hours_end(now: dt.datetime, time_zone: str | None, caps: Caps) -> dt.datetime | None:
    """When quiet hours end for the customer, if `now` falls inside them; else None."""
    if caps.quiet_start is None or caps.quiet_end is None:
        return None
    try:
        zone = ZoneInfo(time_zone) if time_zone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    local = now.astimezone(zone)
    clock = local.time()
    start, end = caps.quiet_start, caps.quiet_end
    inside = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=zone).astimezone(dt.UTC)
