"""What a dispatcher's round is made of: plain data, and the small functions that shape it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lifetide.context import Lifetide
from lifetide.journeys.facts import Person
from lifetide.journeys.outbox import Claimed
from lifetide.journeys.policy import Caps
from lifetide.messaging.builder import Built
from lifetide.messaging.templates import TemplateSpec
from lifetide.ops.models import MessageTemplate


@dataclass(frozen=True)
class DispatchResult:
    """What one round did."""

    claimed: int
    sent: int
    skipped: int
    deferred: int
    failed: int
    bounced: int
    retried: int


@dataclass
class Round:
    """One claim, gated and prepared: what is left to deliver, and the counts so far."""

    claimed: int
    now: dt.datetime
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Marketing sends that passed the gate, as (send id, profile, channel): for the caps of
    # the round prepared while this one is delivered.
    marketing: list[tuple[int, int, str]] = field(default_factory=list)
    texts: list[tuple[Claimed, Person]] = field(default_factory=list)
    held: dict[str, tuple[Claimed, str]] = field(default_factory=dict)
    # The promo code issued to each e-mail, by send id: written with the send's result.
    codes: dict[int, str] = field(default_factory=dict)
    built: Iterator[list[Built]] | None = None


def template_spec(template: MessageTemplate) -> TemplateSpec:
    """A stored template as plain data, which can cross to the builder process."""
    return TemplateSpec(
        template.name, template.channel, template.subject, template.body, template.text_body
    )


def caps_of(lifetide: Lifetide) -> Caps:
    """The policy gate's caps and quiet hours from the settings."""
    s = lifetide.settings
    quiet_start = quiet_end = None
    if s.quiet_hours:
        start, end = s.quiet_hours.split("-")
        quiet_start, quiet_end = dt.time.fromisoformat(start), dt.time.fromisoformat(end)
    return Caps(
        per_day=s.marketing_per_day,
        per_week=s.marketing_per_week,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        require_opt_in=s.require_opt_in,
    )


def with_codes(rows: list[dict[str, Any]], codes: Mapping[int, str]) -> None:
    """Each row of a send that was issued a promo code records the code."""
    for row in rows:
        code = codes.get(row["id"])
        if code is not None:
            row["promo_code"] = code
