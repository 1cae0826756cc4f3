"""What journeys would have sent: the step function and the policy gate over past events (pure).

Events are replayed in time order; before each one, every instance whose wait ended is moved
on, so a week of a shop's events runs in seconds. Nothing is stored or sent: each send goes
through the same policy gate as in production (consent, suppressions, caps, quiet hours) and is
counted with its verdict. Event and absence triggers are replayed; segment and date triggers
depend on state at the time (segment membership, predictions) that past events do not carry,
so they are reported as not simulated.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lifetide.journeys.definition import AbsenceTrigger, EventTrigger, Journey
from lifetide.journeys.facts import Person
from lifetide.journeys.policy import Caps, Message, Recipient, decide
from lifetide.journeys.steps import (
    Action,
    Facts,
    Finished,
    Input,
    Instance,
    Seen,
    SendMessage,
    Skipped,
    Tick,
    advance,
    entry_key,
    start,
)


@dataclass(frozen=True)
class PastEvent:
    """An event of a profile, as the warehouse holds it."""

    profile_id: int
    event: str
    properties: Mapping[str, Any]
    at: dt.datetime


@dataclass
class JourneyReport:
    """What one journey would have done."""

    name: str
    simulated: bool = True
    entered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    # (step, channel) -> verdict -> count; the verdict is send, defer or skip.
    sends: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    # (verdict, reason) -> count, for the sends not sent at once.
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    conversions: int = 0
    revenue: float = 0.0

    def count(self, step: str, channel: str, verdict: str, reason: str) -> None:
        """Count one send's verdict and, unless it was sent, its reason."""
        self.sends.setdefault((step, channel), Counter())[verdict] += 1
        if verdict != "send":
            self.reasons[(verdict, reason)] += 1


@dataclass
class _Running:
    journey_index: int
    instance: Instance


def simulate(
    journeys: Sequence[Journey],
    events: Iterable[PastEvent],
    people: Mapping[int, Person],
    caps: Caps,
    until: dt.datetime,
) -> list[JourneyReport]:
    """Replay `events` (oldest first) through `journeys` and report each one's sends."""
    reports = [
        JourneyReport(j.name, isinstance(j.trigger, EventTrigger | AbsenceTrigger))
        for j in journeys
    ]
    wakes: list[tuple[dt.datetime, int]] = []  # (wake_at, instance id), a heap
    running: dict[int, _Running] = {}
    open_by: dict[tuple[int, int, str | None], int] = {}
    last_entry: dict[tuple[int, int], dt.datetime] = {}
    sent: dict[tuple[int, str], list[dt.datetime]] = defaultdict(list)
    by_profile: dict[int, set[int]] = defaultdict(set)
    next_id = 1

    def facts_for(profile_id: int) -> Facts:
        person = people.get(profile_id, Person(profile_id))
        return Facts(time_zone=person.time_zone, reachable=person.reachable)

    def perform(
        run: _Running, actions: Sequence[Action], now: dt.datetime, goal: Seen | None
    ) -> None:
        report = reports[run.journey_index]
        person = people.get(run.instance.profile_id, Person(run.instance.profile_id))
        for action in actions:
            if isinstance(action, SendMessage):
                recipient = Recipient(
                    consent=person.consent(action.channel),
                    suppressed=person.suppressed.get(action.channel, frozenset()),
                    marketing_sent=sent[(person.profile_id, action.channel)],
                    time_zone=person.time_zone,
                )
                decision = decide(Message(action.channel, action.marketing), recipient, now, caps)
                if person.address(action.channel) is None:
                    why = f"no {action.channel} address on the profile"
                    report.count(action.step, action.channel, "skip", why)
                    continue
                report.count(action.step, action.channel, decision.verdict, decision.reason)
                if decision.verdict != "skip" and action.marketing:
                    sent[(person.profile_id, action.channel)].append(decision.until or now)
            elif isinstance(action, Skipped):
                why = person.unreachable_because(action.channel, action.marketing) or action.reason
                report.count(action.step, action.channel, "skip", why)
            elif isinstance(action, Finished):
                report.outcomes[action.outcome] += 1
                if action.outcome == "goal" and goal is not None:
                    report.conversions += 1
                    report.revenue += _amount(goal.properties)
        instance = run.instance
        if instance.status == "done":
            running.pop(instance.instance_id, None)
            by_profile[instance.profile_id].discard(instance.instance_id)
            for key, value in list(open_by.items()):
                if value == instance.instance_id:
                    del open_by[key]
        elif instance.wake_at is not None:
            heapq.heappush(wakes, (instance.wake_at, instance.instance_id))

    def step(run: _Running, happened: Input) -> None:
        journey = journeys[run.journey_index]
        before = run.instance
        after, actions = advance(journey, before, happened, facts_for(before.profile_id))
        run.instance = after
        now = happened.at if isinstance(happened, Seen) else getattr(happened, "now", until)
        goal = happened if isinstance(happened, Seen) else None
        if after != before or actions:
            perform(run, actions, now, goal)

    def wake_until(moment: dt.datetime) -> None:
        while wakes and wakes[0][0] <= moment:
            at, instance_id = heapq.heappop(wakes)
            run = running.get(instance_id)
            if run is None or run.instance.wake_at != at:
                continue  # ended or rescheduled since
            step(run, Tick(at))

    for event in events:
        wake_until(event.at)
        seen = Seen(event.event, event.properties, event.at)
        for instance_id in sorted(by_profile.get(event.profile_id, ())):
            run = running.get(instance_id)
            if run is not None:
                step(run, seen)
        for index, journey in enumerate(journeys):
            key = entry_key(journey, seen)
            if key is False:
                continue
            slot = (index, event.profile_id, key if isinstance(key, str) else None)
            if slot in open_by or not _may_enter(journey, last_entry.get(slot[:2]), event.at):
                continue
            instance, actions = start(
                journey,
                next_id,
                event.profile_id,
                index,
                event.at,
                facts_for(event.profile_id),
                slot[2],
            )
            run = _Running(index, instance)
            running[next_id] = run
            open_by[slot] = next_id
            by_profile[event.profile_id].add(next_id)
            last_entry[slot[:2]] = event.at
            reports[index].entered += 1
            next_id += 1
            perform(run, actions, event.at, None)
    wake_until(until)
    return reports


def _may_enter(journey: Journey, last: dt.datetime | None, at: dt.datetime) -> bool:
    if last is None:
        return True
    if journey.reentry.kind == "never":
        return False
    return last + dt.timedelta(days=journey.reentry.days or 0) <= at


def _amount(properties: Mapping[str, Any]) -> float:
    value = properties.get("revenue", properties.get("total"))
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
