"""A journey definition: an entry trigger, named steps, a goal and a re-entry rule (pure).

A journey is a typed graph: each step names the step that follows it, so the graph can be drawn,
checked for steps that lead nowhere, and walked by the step function (`journeys.steps`) without
I/O. Triggers and steps are unions keyed on `type`, like segment rules.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lifetide.segments.rules import EventSpec, Rule

STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
EXIT = "exit"


class Strict(BaseModel):
    """Unknown keys are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Triggers: what starts an instance of the journey for a customer.
class EventTrigger(Strict):
    """An event starts an instance; with `key`, one instance per value of that property.

    `Product Added` keyed on `cart_id` starts one instance per cart, and `ends_on` (an
    `Order Completed` with the same cart) ends it.
    """

    type: Literal["event"] = "event"
    event: EventSpec
    key: str | None = Field(None, max_length=64)
    ends_on: EventSpec | None = None


class AbsenceTrigger(Strict):
    """An event not followed by another within a time: viewed, no add to cart in 2 hours."""

    type: Literal["absence"] = "absence"
    did: EventSpec
    not_followed_by: EventSpec
    within_minutes: int = Field(ge=1, le=60 * 24 * 90)


class SegmentTrigger(Strict):
    """Entering (or leaving) a saved segment at one of its refreshes.

    The segment is named by id, or by name (`segment: "Lapsing customers"`) in files written
    before the segment exists, such as the bundled journeys; installing such a journey looks
    the name up and stores the id.
    """

    type: Literal["segment"] = "segment"
    segment_id: int | None = Field(None, ge=1)
    segment: str | None = Field(None, min_length=1, max_length=200)
    on: Literal["entered", "exited"] = "entered"

    @model_validator(mode="after")
    def _one_segment(self) -> SegmentTrigger:
        if (self.segment_id is None) == (self.segment is None):
            raise ValueError(
                "a segment trigger names its segment by segment_id or by segment (its name), "
                "exactly one of the two"
            )
        return self


class DateTrigger(Strict):
    """A date of the customer's: a prediction (replenishment due) or a trait (birthday)."""

    type: Literal["date"] = "date"
    source: Literal["prediction", "trait"]
    field: str = Field(min_length=1, max_length=64)
    offset_days: int = Field(0, ge=-365, le=365)
    # Birthdays come round every year; a replenishment date once.
    yearly: bool = False


Trigger = Annotated[
    EventTrigger | AbsenceTrigger | SegmentTrigger | DateTrigger, Field(discriminator="type")
]


# Steps: what happens to an instance, one after the other.
class Wait(Strict):
    """Wait a duration, or until a time of day in the customer's time zone."""

    type: Literal["wait"] = "wait"
    minutes: int | None = Field(None, ge=1, le=60 * 24 * 365)
    until_local_time: dt.time | None = None
    next: str = EXIT

    @field_validator("until_local_time", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        # People write 9:00; ISO times need 09:00.
        if isinstance(value, str) and re.fullmatch(r"\d:\d\d(:\d\d)?", value.strip()):
            return "0" + value.strip()
        return value

    @model_validator(mode="after")
    def _one_way(self) -> Wait:
        if (self.minutes is None) == (self.until_local_time is None):
            raise ValueError("a wait needs either minutes or until_local_time")
        return self


class WaitForEvent(Strict):
    """Wait for an event (opened, clicked, bought) with a timeout: two ways out."""

    type: Literal["wait_for_event"] = "wait_for_event"
    event: EventSpec
    timeout_minutes: int = Field(ge=1, le=60 * 24 * 365)
    on_event: str = EXIT
    on_timeout: str = EXIT


class Branch(Strict):
    """Go one way or the other on a condition over the customer (any segment rule)."""

    type: Literal["branch"] = "branch"
    condition: Rule
    yes: str = EXIT
    no: str = EXIT


class SplitPath(Strict):
    """One way out of a random split, with its weight."""

    weight: float = Field(gt=0, le=1000)
    next: str = EXIT
    label: str = Field("", max_length=64)


class ExperimentPlan(Strict):
    """What a split test is sized for, before it starts: its horizon per arm comes from this.

    The control's conversion rate (an order after exposure) and the smallest relative lift
    worth finding; the verdict waits until every arm has the size that finds it with `power`.
    """

    baseline_rate: float = Field(gt=0, lt=1)
    minimum_lift: float = Field(gt=0, le=10)
    power: float = Field(0.8, ge=0.5, le=0.99)


class Split(Strict):
    """A random split, the same for a customer every time (A/B tests, holdouts)."""

    type: Literal["split"] = "split"
    paths: list[SplitPath] = Field(min_length=2, max_length=10)
    # The first path is the control, unless one is labelled "control".
    plan: ExperimentPlan | None = None


class Offer(Strict):
    """The incentive a message carries: a percentage off, an amount off, or free shipping."""

    kind: Literal["percent_off", "amount_off", "free_shipping"]
    value: float = Field(0, ge=0, le=1000)
    valid_days: int = Field(7, ge=1, le=365)


class Send(Strict):
    """Send a message on a channel with a template and, optionally, an offer."""

    type: Literal["send"] = "send"
    channel: Literal["email", "sms", "push"] = "email"
    template: str = Field(min_length=1, max_length=200)
    offer: Offer | None = None
    # Marketing messages pass the policy gate (consent, suppression, caps, quiet hours);
    # transactional ones only suppression.
    marketing: bool = True
    # Where to go instead when the customer cannot be reached on `channel` (bounced, no
    # consent): the fallback step, e.g. the same message by SMS.
    fallback: str | None = None
    next: str = EXIT


class UpdateProfile(Strict):
    """Set traits on the customer's profile (e.g. `winback_offered: true`)."""

    type: Literal["update_profile"] = "update_profile"
    traits: dict[str, str | int | float | bool | None] = Field(min_length=1)
    next: str = EXIT


class Exit(Strict):
    """The end of the journey."""

    type: Literal["exit"] = "exit"


Step = Annotated[
    Wait | WaitForEvent | Branch | Split | Send | UpdateProfile | Exit,
    Field(discriminator="type"),
]


class Goal(Strict):
    """What the journey is for: reaching it ends the instance wherever it is."""

    event: EventSpec
    within_days: int = Field(7, ge=1, le=365)


class Reentry(Strict):
    """Whether a customer may go through the journey again: never, or after some days."""

    kind: Literal["never", "after_days"] = "never"
    days: int | None = Field(None, ge=1, le=3650)

    @model_validator(mode="after")
    def _days_when_needed(self) -> Reentry:
        if self.kind == "after_days" and self.days is None:
            raise ValueError("re-entry 'after_days' needs days")
        return self


class Journey(Strict):
    """A whole journey: trigger, the first step, every step by id, goal and re-entry."""

    name: str = Field(min_length=1, max_length=200)
    trigger: Trigger
    start: str
    steps: dict[str, Step] = Field(min_length=1, max_length=200)
    goal: Goal | None = None
    reentry: Reentry = Field(default_factory=Reentry)
    # Percent of entrants kept from its marketing messages, to measure its lift.
    holdout: float = Field(0.0, ge=0, le=50)

    @model_validator(mode="after")
    def _connected(self) -> Journey:
        for problem in graph_problems(self):
            raise ValueError(problem)
        return self


def next_steps(step: Step) -> list[str]:
    """The ids a step can lead to."""
    if isinstance(step, Wait | Send | UpdateProfile):
        found = [step.next]
        if isinstance(step, Send) and step.fallback is not None:
            found.append(step.fallback)
        return found
    if isinstance(step, WaitForEvent):
        return [step.on_event, step.on_timeout]
    if isinstance(step, Branch):
        return [step.yes, step.no]
    if isinstance(step, Split):
        return [path.next for path in step.paths]
    return []


def graph_problems(journey: Journey) -> list[str]:
    """What is wrong with the graph: bad ids, steps that lead nowhere or are never reached."""
    problems: list[str] = []
    for step_id in journey.steps:
        if step_id == EXIT or not STEP_ID.match(step_id):
            problems.append(
                f"step id {step_id!r} must be lower case letters, digits and _ (and not 'exit')"
            )
    if journey.start not in journey.steps:
        problems.append(f"the start step {journey.start!r} is not one of the steps")
    for step_id, step in journey.steps.items():
        for target in next_steps(step):
            if target != EXIT and target not in journey.steps:
                problems.append(f"step {step_id!r} leads to {target!r}, which is not a step")
    reached = _reachable(journey)
    unreached = [s for s in journey.steps if s not in reached]
    if journey.start in journey.steps and unreached:
        problems.append(f"steps never reached from {journey.start!r}: {', '.join(unreached)}")
    return problems


def _reachable(journey: Journey) -> set[str]:
    seen: set[str] = set()
    todo = [journey.start]
    while todo:
        current = todo.pop()
        if current in seen or current not in journey.steps:
            continue
        seen.add(current)
        todo.extend(next_steps(journey.steps[current]))
    return seen
