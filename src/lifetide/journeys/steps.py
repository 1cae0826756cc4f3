"""The journey step function: (instance, input) -> (instance, actions), with no I/O.

The engine (later) loads an instance, calls `advance` with what happened (time passed, an event
of the customer's, a stop), performs the actions it returns (send, update the profile) and
stores the new instance. Everything here is a pure function of its arguments, so a week of
journeys runs in a test in milliseconds. As in Dittofeed's interpreter the walk is a bounded
loop, and a step that does not exist ends the instance instead of failing it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lifetide.journeys.definition import (
    EXIT,
    AbsenceTrigger,
    Branch,
    EventTrigger,
    Exit,
    Journey,
    Send,
    Split,
    Step,
    UpdateProfile,
    Wait,
    WaitForEvent,
)
from lifetide.segments.compiler import bucket_of
from lifetide.segments.rules import EventSpec, PropertyFilter, Rule
from lifetide.segments.values import BadValue, property_ref, typed

# More transitions than this in one call means the graph loops without waiting.
MAX_TRANSITIONS = 100
# Where an instance of an absence-triggered journey waits to see whether the follow-up event
# comes (no step id can hold parentheses).
ABSENCE_GATE = "(waiting for absence)"

Status = Literal["active", "waiting", "done"]
Outcome = Literal["completed", "goal", "ended", "stopped", "missing_step", "loop"]


@dataclass(frozen=True)
class Instance:
    """One customer's place in one journey."""

    instance_id: int
    profile_id: int
    journey_id: int
    step: str
    status: Status
    entered_at: dt.datetime
    step_started_at: dt.datetime
    wake_at: dt.datetime | None = None
    outcome: Outcome | None = None
    # How many times each step was entered: part of each send's idempotency key, so a
    # step visited twice (a loop through a wait) sends twice, and a replay never does.
    visits: Mapping[str, int] = field(default_factory=dict)
    # The trigger's key (a cart id): an `ends_on` event must carry the same one.
    instance_key: str | None = None


@dataclass(frozen=True)
class Tick:
    """Time has passed: it is now `now`."""

    now: dt.datetime


@dataclass(frozen=True)
class Seen:
    """An event of the customer's, at `at`."""

    event: str
    properties: Mapping[str, Any]
    at: dt.datetime


@dataclass(frozen=True)
class Stop:
    """The journey was stopped for this customer (journey stopped, customer opted out)."""

    now: dt.datetime
    reason: str = "stopped"


@dataclass(frozen=True)
class Bounced:
    """A message sent by `step` could not be delivered on its channel (a hard bounce)."""

    step: str
    at: dt.datetime


Input = Tick | Seen | Stop | Bounced


@dataclass(frozen=True)
class SendMessage:
    """Send a message; `key` makes the send and its record happen exactly once."""

    key: str
    step: str
    channel: str
    template: str
    offer: Any
    marketing: bool


@dataclass(frozen=True)
class Skipped:
    """A send that could not go out on its channel and had no fallback (recorded, not sent)."""

    step: str
    channel: str
    reason: str
    key: str = ""
    template: str = ""
    marketing: bool = True


@dataclass(frozen=True)
class UpdateTraits:
    """Set these traits on the profile."""

    traits: Mapping[str, Any]


@dataclass(frozen=True)
class Exposed:
    """The customer passed a random split: she met `arm` of the split's experiment."""

    experiment: str
    arm: str


@dataclass(frozen=True)
class Finished:
    """The instance ended, and how."""

    outcome: Outcome
    detail: str = ""


Action = SendMessage | Skipped | UpdateTraits | Exposed | Finished


@dataclass(frozen=True)
class Facts:
    """What the step function may ask about the customer, answered by the engine."""

    time_zone: str | None = None
    matches: Callable[[Rule], bool] = lambda _rule: False
    # Whether the customer can be reached on a channel now: an address that takes mail and,
    # for marketing (the second argument), consent. Transactional messages need no consent.
    reachable: Callable[[str, bool], bool] = lambda _channel, _marketing: True


def start(
    journey: Journey,
    instance_id: int,
    profile_id: int,
    journey_id: int,
    now: dt.datetime,
    facts: Facts,
    key: str | None = None,
) -> tuple[Instance, list[Action]]:
    """A new instance at the journey's first step, walked until it waits or ends.

    An absence-triggered journey first waits at `ABSENCE_GATE` for the follow-up event.
    """
    instance = Instance(
        instance_id,
        profile_id,
        journey_id,
        journey.start,
        "active",
        now,
        now,
        visits={},
        instance_key=key,
    )
    trigger = journey.trigger
    if isinstance(trigger, AbsenceTrigger):
        wake = now + dt.timedelta(minutes=trigger.within_minutes)
        gate = replace(instance, step=ABSENCE_GATE, status="waiting", wake_at=wake)
        return gate, []
    return _walk(journey, _enter(instance, journey.start, now), now, facts, [])


def advance(
    journey: Journey, instance: Instance, happened: Input, facts: Facts
) -> tuple[Instance, list[Action]]:
    """What `happened` does to `instance`: the new instance and the actions to perform."""
    if instance.status == "done":
        return instance, []
    now = happened.now if isinstance(happened, Tick | Stop) else happened.at
    if isinstance(happened, Stop):
        return _finish(instance, "stopped", now, [], happened.reason)
    if isinstance(happened, Seen) and _reaches_goal(journey, instance, happened):
        return _finish(instance, "goal", now, [], happened.event)
    if isinstance(happened, Seen) and _ends(journey, instance, happened):
        return _finish(instance, "ended", now, [], happened.event)
    if isinstance(happened, Bounced):
        return _fall_back(journey, instance, happened, facts)
    if instance.step == ABSENCE_GATE:
        return _pass_gate(journey, instance, happened, facts)
    step = journey.steps.get(instance.step)
    if instance.status != "waiting" or step is None:
        return instance, []
    target: str | None = None
    if isinstance(step, WaitForEvent):
        if isinstance(happened, Seen) and event_matches(step.event, happened):
            target = step.on_event
        elif instance.wake_at is not None and now >= instance.wake_at:
            target = step.on_timeout
    elif isinstance(step, Wait) and instance.wake_at is not None and now >= instance.wake_at:
        target = step.next
    if target is None:
        return instance, []
    return _walk(journey, _enter(instance, target, now), now, facts, [])


def entry_key(journey: Journey, seen: Seen) -> str | bool | None:
    """The instance key `seen` starts `journey` with: a key, None for none, False if it doesn't.

    A keyed trigger (one instance per cart) needs the key in the event's properties.
    """
    trigger = journey.trigger
    if isinstance(trigger, EventTrigger) and event_matches(trigger.event, seen):
        if trigger.key is None:
            return None
        value = seen.properties.get(trigger.key)
        return False if value is None or value == "" else str(value)[:255]
    if isinstance(trigger, AbsenceTrigger) and event_matches(trigger.did, seen):
        return None
    return False


def _ends(journey: Journey, instance: Instance, seen: Seen) -> bool:
    """Whether `seen` is the keyed trigger's end (the order for this very cart)."""
    trigger = journey.trigger
    if not isinstance(trigger, EventTrigger) or trigger.ends_on is None:
        return False
    if not event_matches(trigger.ends_on, seen):
        return False
    if trigger.key is None:
        return True
    return str(seen.properties.get(trigger.key)) == instance.instance_key


def _pass_gate(
    journey: Journey, instance: Instance, happened: Tick | Seen, facts: Facts
) -> tuple[Instance, list[Action]]:
    trigger = journey.trigger
    if isinstance(happened, Seen):
        if isinstance(trigger, AbsenceTrigger) and event_matches(trigger.not_followed_by, happened):
            return _finish(instance, "ended", happened.at, [], happened.event)
        return instance, []
    if instance.wake_at is None or happened.now < instance.wake_at:
        return instance, []
    # The journey starts when the absence was established, not when a worker noticed it.
    at = instance.wake_at
    return _walk(journey, _enter(instance, journey.start, at), at, facts, [])


def _fall_back(
    journey: Journey, instance: Instance, bounced: Bounced, facts: Facts
) -> tuple[Instance, list[Action]]:
    """A bounced send with a fallback moves the instance there (the same message by SMS)."""
    step = journey.steps.get(bounced.step)
    if not isinstance(step, Send) or step.fallback is None or instance.status == "done":
        return instance, []
    return _walk(journey, _enter(instance, step.fallback, bounced.at), bounced.at, facts, [])


def _walk(
    journey: Journey, instance: Instance, now: dt.datetime, facts: Facts, actions: list[Action]
) -> tuple[Instance, list[Action]]:
    for _ in range(MAX_TRANSITIONS):
        if instance.step == EXIT:
            return _finish(instance, "completed", now, actions)
        step = journey.steps.get(instance.step)
        if step is None:
            return _finish(instance, "missing_step", now, actions, instance.step)
        moved = _run(step, instance, now, facts, actions)
        if moved is None:
            return instance, actions
        if isinstance(moved, Instance):
            instance = moved
            if instance.status != "active":
                return instance, actions
            continue
        instance = _enter(instance, moved, now)
    return _finish(instance, "loop", now, actions, f"more than {MAX_TRANSITIONS} steps at once")


def _run(
    step: Step, instance: Instance, now: dt.datetime, facts: Facts, actions: list[Action]
) -> str | Instance | None:
    """Carry out one step: the id to go to next, or the instance now waiting (or done)."""
    if isinstance(step, Exit):
        return EXIT
    if isinstance(step, Wait):
        wake = (
            now + dt.timedelta(minutes=step.minutes)
            if step.minutes is not None
            else next_local_time(now, step.until_local_time, facts.time_zone)
        )
        return replace(instance, status="waiting", wake_at=wake)
    if isinstance(step, WaitForEvent):
        wake = now + dt.timedelta(minutes=step.timeout_minutes)
        return replace(instance, status="waiting", wake_at=wake)
    if isinstance(step, Branch):
        return step.yes if facts.matches(step.condition) else step.no
    if isinstance(step, Split):
        index = split_index(step, instance)
        actions.append(
            Exposed(split_experiment(instance.journey_id, instance.step), arm_name(step, index))
        )
        return step.paths[index].next
    if isinstance(step, UpdateProfile):
        actions.append(UpdateTraits(dict(step.traits)))
        return step.next
    if isinstance(step, Send):
        return _send(step, instance, facts, actions)
    return None


def _send(step: Send, instance: Instance, facts: Facts, actions: list[Action]) -> str:
    visit = instance.visits.get(instance.step, 1)
    key = f"{instance.instance_id}:{instance.step}:{visit}"
    if not facts.reachable(step.channel, step.marketing):
        if step.fallback is not None:
            return step.fallback
        reason = "not reachable on this channel"
        actions.append(
            Skipped(instance.step, step.channel, reason, key, step.template, step.marketing)
        )
        return step.next
    actions.append(
        SendMessage(key, instance.step, step.channel, step.template, step.offer, step.marketing)
    )
    return step.next


def split_path(step: Split, instance: Instance) -> str:
    """The path of a random split for this customer: the same on every call."""
    return step.paths[split_index(step, instance)].next


def split_index(step: Split, instance: Instance) -> int:
    """Which of the split's paths this customer takes (by position), the same every time."""
    salt = f"journey:{instance.journey_id}:{instance.step}"
    point = bucket_of(instance.profile_id, salt) / 100 * sum(p.weight for p in step.paths)
    running = 0.0
    for index, path in enumerate(step.paths):
        running += path.weight
        if point < running:
            return index
    return len(step.paths) - 1


def split_experiment(journey_id: int, step_id: str) -> str:
    """The experiment key of a journey's random split step."""
    return f"journey-{journey_id}-split-{step_id}"


def arm_name(step: Split, index: int) -> str:
    """What a split's path is called in its experiment: its label, or the step it leads to."""
    path = step.paths[index]
    return path.label or (path.next if path.next != EXIT else f"path {index + 1}")


def next_local_time(now: dt.datetime, at: dt.time | None, time_zone: str | None) -> dt.datetime:
    """The next moment after `now` when the customer's clock shows `at` (UTC if unknown)."""
    assert at is not None
    try:
        zone = ZoneInfo(time_zone) if time_zone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    local = now.astimezone(zone)
    candidate = dt.datetime.combine(local.date(), at, tzinfo=zone)
    # Compared as instants: on the night the clocks go back, 01:45 comes twice, and a wall-clock
    # comparison would take the one already past.
    if candidate.astimezone(dt.UTC) <= now.astimezone(dt.UTC):
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(dt.UTC)


def event_matches(spec: EventSpec, seen: Seen) -> bool:
    """Whether an event is the one `spec` names, with every property filter holding."""
    if seen.event != spec.event:
        return False
    return all(_property_holds(f, seen.properties) for f in spec.where)


def _property_holds(condition: PropertyFilter, properties: Mapping[str, Any]) -> bool:
    try:
        ref = property_ref(condition.property, condition.value)
        wanted = typed(ref.type, condition.op, condition.value)
    except BadValue:
        return False
    name = ref.column or ref.json_key or ""
    value = properties.get(name)
    if condition.op == "is_set":
        return value is not None
    if condition.op == "is_not_set":
        return value is None
    if value is None:
        return False
    if ref.type == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        return _numeric(condition.op, number, wanted)
    text = str(value).lower()
    return _textual(condition.op, text, wanted)


def _numeric(op: str, x: float, wanted: Any) -> bool:
    if op == "between":
        return bool(wanted[0] <= x <= wanted[1])
    checks: dict[str, Callable[[float, float], bool]] = {
        "eq": lambda a, b: a == b,
        "ne": lambda a, b: a != b,
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return op in checks and checks[op](x, wanted)


def _textual(op: str, text: str, wanted: Any) -> bool:
    if op in ("in", "not_in"):
        hit = text in {str(w).lower() for w in wanted}
        return hit if op == "in" else not hit
    target = str(wanted).lower()
    return {
        "eq": text == target,
        "ne": text != target,
        "contains": target in text,
        "starts_with": text.startswith(target),
    }.get(op, False)


def _reaches_goal(journey: Journey, instance: Instance, seen: Seen) -> bool:
    goal = journey.goal
    if goal is None or not event_matches(goal.event, seen):
        return False
    return seen.at <= instance.entered_at + dt.timedelta(days=goal.within_days)


def _enter(instance: Instance, step: str, now: dt.datetime) -> Instance:
    visits = dict(instance.visits)
    visits[step] = visits.get(step, 0) + 1
    return replace(
        instance, step=step, status="active", step_started_at=now, wake_at=None, visits=visits
    )


def _finish(
    instance: Instance, outcome: Outcome, now: dt.datetime, actions: list[Action], detail: str = ""
) -> tuple[Instance, list[Action]]:
    done = replace(instance, status="done", outcome=outcome, wake_at=None, step_started_at=now)
    return done, [*actions, Finished(outcome, detail)]
