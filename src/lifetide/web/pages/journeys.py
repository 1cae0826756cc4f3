"""The Studio's journey pages: every journey with its live counts, and one journey read aloud.

The journey page shows the graph as a marketer reads it: the trigger as a sentence, then each
step as a card in the order the journey walks them (from `start`, each path to its end), with
how many customers wait there now and what its messages did. Start, pause and stop are forms
with the session's CSRF token, for those who may change journeys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifetide.journeys.definition import (
    EXIT,
    AbsenceTrigger,
    Branch,
    DateTrigger,
    EventTrigger,
    Journey,
    Send,
    Split,
    Step,
    UpdateProfile,
    Wait,
    WaitForEvent,
)
from lifetide.journeys.stats import JourneyCounts, journey_counts, step_order, version_history
from lifetide.journeys.store import JourneyError, JourneyNotFound
from lifetide.segments.describe import describe
from lifetide.segments.fields import OPERATOR_LABELS
from lifetide.segments.rules import EventSpec, PropertyFilter
from lifetide.segments.service import SegmentService
from lifetide.segments.store import SegmentStore
from lifetide.web.api.journeys import CONTROLS, WRITE_ACTION, lifetide_of, set_status, store_of
from lifetide.web.ids import RowId
from lifetide.web.security import PageViewer, Viewer, require, safe_next
from lifetide.web.templating import flash, render

router = APIRouter(include_in_schema=False)
Writer = Annotated[Viewer, Depends(require(WRITE_ACTION, page=True))]
CHANNEL_WORDS = {"email": "e-mail", "sms": "SMS", "push": "push notification"}
STEP_LABELS = {
    "wait": "Wait",
    "wait_for_event": "Wait for an event",
    "branch": "Branch",
    "split": "Random split",
    "send": "Send",
    "update_profile": "Update profile",
    "exit": "Exit",
}
# Which controls make sense in each status.
CONTROLS_BY_STATUS = {
    "draft": ("start",),
    "live": ("pause", "stop"),
    "paused": ("start", "stop"),
    "stopped": ("start",),
}
CONTROL_WORDS = {"start": "started", "pause": "paused", "stop": "stopped"}


@dataclass(frozen=True)
class Way:
    """One way out of a step: its label and where it leads (None: the journey ends)."""

    label: str
    target: str | None


@dataclass
class StepCard:
    """A step as its card shows it."""

    id: str
    type: str
    label: str
    sentence: str
    exits: list[Way] = field(default_factory=list)
    channel: str | None = None


def duration(minutes: int) -> str:
    """Minutes in the largest whole unit: '90 minutes', '1 hour', '2 days'."""
    for size, unit in ((10080, "week"), (1440, "day"), (60, "hour")):
        if minutes % size == 0:
            n = minutes // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def event_words(spec: EventSpec) -> str:
    """An event with its property filters: “Product Added” where category is shoes."""
    text = f"\u201c{spec.event}\u201d"
    if spec.where:
        text += " where " + " and ".join(_property(p) for p in spec.where)
    return text


def _property(condition: PropertyFilter) -> str:
    name = condition.property.removeprefix("properties.")
    label = OPERATOR_LABELS.get(condition.op, condition.op)
    if condition.value is None or condition.op in ("is_set", "is_not_set", "is_true", "is_false"):
        return f"{name} {label}"
    value = condition.value
    shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return f"{name} {label} {shown}"


def trigger_sentence(journey: Journey, segment_names: dict[int, str]) -> str:
    """What starts the journey, as a sentence."""
    trigger = journey.trigger
    if isinstance(trigger, EventTrigger):
        text = f"When a customer does {event_words(trigger.event)}"
        if trigger.key:
            text += f", one journey per {trigger.key}"
        if trigger.ends_on is not None:
            text += f"; {event_words(trigger.ends_on)} for the same {trigger.key or 'customer'}"
            text += " ends it"
        return text + "."
    if isinstance(trigger, AbsenceTrigger):
        return (
            f"When a customer does {event_words(trigger.did)} and not "
            f"{event_words(trigger.not_followed_by)} within {duration(trigger.within_minutes)}."
        )
    if isinstance(trigger, DateTrigger):
        what = "predicted date" if trigger.source == "prediction" else "date"
        when = f"On the customer's {what} {trigger.field}"
        if trigger.offset_days:
            days = abs(trigger.offset_days)
            side = "before" if trigger.offset_days < 0 else "after"
            when = f"{days} day{'' if days == 1 else 's'} {side} the customer's {what} "
            when += trigger.field
        return when + (", every year." if trigger.yearly else ".")
    named = getattr(trigger, "segment", None)
    segment_id = getattr(trigger, "segment_id", None)
    name = named or segment_names.get(segment_id or 0) or f"#{segment_id}"
    verb = "enters" if trigger.on == "entered" else "leaves"
    return f"When a customer {verb} the segment \u201c{name}\u201d."


def _offer(step: Send) -> str:
    offer = step.offer
    if offer is None:
        return ""
    if offer.kind == "percent_off":
        what = f"{offer.value:g}% off"
    elif offer.kind == "amount_off":
        what = f"{offer.value:g} off"
    else:
        what = "free shipping"
    days = offer.valid_days
    return f" with {what} (a single-use code, valid {days} day{'' if days == 1 else 's'})"


def _nxt(target: str) -> str | None:
    return None if target == EXIT else target


def step_card(step_id: str, step: Step, condition_words: Callable[[Any], str]) -> StepCard:
    """The card of one step: what it does in words and where it leads."""
    card = StepCard(step_id, step.type, STEP_LABELS.get(step.type, step.type), "")
    if isinstance(step, Wait):
        if step.minutes is not None:
            card.sentence = f"Wait {duration(step.minutes)}."
        else:
            clock = step.until_local_time.strftime("%H:%M") if step.until_local_time else "?"
            card.sentence = f"Wait until {clock} in the customer's time zone."
        card.exits = [Way("then", _nxt(step.next))]
    elif isinstance(step, WaitForEvent):
        card.sentence = (
            f"Wait up to {duration(step.timeout_minutes)} for {event_words(step.event)}."
        )
        card.exits = [
            Way("if it happens", _nxt(step.on_event)),
            Way("if not", _nxt(step.on_timeout)),
        ]
    elif isinstance(step, Branch):
        card.sentence = f"Are they {condition_words(step.condition)}?"
        card.exits = [Way("yes", _nxt(step.yes)), Way("no", _nxt(step.no))]
    elif isinstance(step, Split):
        total = sum(p.weight for p in step.paths) or 1
        card.sentence = "Split customers at random (always the same way for a customer)."
        card.exits = [
            Way(f"{p.label or f'path {i + 1}'} ({p.weight / total:.0%})", _nxt(p.next))
            for i, p in enumerate(step.paths)
        ]
    elif isinstance(step, Send):
        kind = "" if step.marketing else "transactional "
        words = CHANNEL_WORDS.get(step.channel, step.channel)
        card.sentence = f"Send the {kind}{words} \u201c{step.template}\u201d{_offer(step)}."
        card.channel = step.channel
        card.exits = [Way("then", _nxt(step.next))]
        if step.fallback is not None:
            card.exits.append(Way("if they cannot get it", _nxt(step.fallback)))
    elif isinstance(step, UpdateProfile):
        pairs = ", ".join(f"{k} = {v}" for k, v in step.traits.items())
        card.sentence = f"Set {pairs} on the profile."
        card.exits = [Way("then", _nxt(step.next))]
    else:
        card.sentence = "The journey ends."
    return card


def goal_sentence(journey: Journey) -> str:
    """The goal and the re-entry rule, in words."""
    parts = []
    if journey.goal is not None:
        days = journey.goal.within_days
        parts.append(
            f"Goal: {event_words(journey.goal.event)} within {days} day"
            f"{'' if days == 1 else 's'}; reaching it ends the journey wherever the customer is."
        )
    else:
        parts.append("No goal: customers leave at the end of a path.")
    if journey.reentry.kind == "never":
        parts.append("A customer goes through it once.")
    else:
        days = journey.reentry.days or 0
        parts.append(f"A customer may start again {days} day{'' if days == 1 else 's'} later.")
    return " ".join(parts)


def journey_not_found(
    request: Request,
    viewer: Viewer,
    journey_id: int,
    back: tuple[str, str] = ("/journeys", "All journeys"),
) -> HTMLResponse:
    """The 404 page for a journey that does not exist, with a link back to `back`."""
    return render(
        request,
        "not_found.html",
        viewer,
        status_code=404,
        message=f"There is no journey {journey_id}",
        back_href=back[0],
        back_label=back[1],
    )


@router.get("/journeys", response_class=HTMLResponse)
def journey_list(request: Request, viewer: PageViewer) -> HTMLResponse:
    """Every journey with its status, version, customers in flight and what it sent."""
    lifetide = lifetide_of(request)
    records = store_of(request).list()
    counts = journey_counts(lifetide.sessions, lifetide.clock.now(), [r.id for r in records])
    return render(
        request,
        "journeys/list.html",
        viewer,
        journeys=[(r, counts[r.id]) for r in records],
        controls=CONTROLS_BY_STATUS,
        can_write=viewer.can(WRITE_ACTION),
    )


@router.get("/journeys/{journey_id}", response_model=None)
def journey_page(request: Request, viewer: PageViewer, journey_id: RowId) -> Response:
    """One journey: trigger, steps in order with their live counts, goal, versions."""
    lifetide = lifetide_of(request)
    store = store_of(request)
    try:
        record = store.get(journey_id)
        definition = store.definition_of(journey_id, record.version)
    except JourneyNotFound:
        return journey_not_found(request, viewer, journey_id)
    counts: JourneyCounts = journey_counts(lifetide.sessions, lifetide.clock.now(), [journey_id])[
        journey_id
    ]
    names = SegmentStore(lifetide.sessions, lifetide.clock).names(archived=True)
    catalog: list[Any] = []

    def condition_words(rule: Any) -> str:
        # The warehouse's field catalog is read only for journeys that branch.
        if not catalog:
            catalog.append(SegmentService(lifetide).catalog())
        sentence = describe(rule, catalog[0], names)
        return sentence.removeprefix("Customers ").removesuffix(".")

    order = step_order(definition)
    cards = [step_card(s, definition.steps[s], condition_words) for s in order]
    older = [c for s, c in counts.steps.items() if s not in set(order) and (c.here or c.done)]
    return render(
        request,
        "journeys/detail.html",
        viewer,
        journey=record,
        definition=definition,
        counts=counts,
        cards=cards,
        older=older,
        trigger=trigger_sentence(definition, names),
        goal=goal_sentence(definition),
        versions=version_history(lifetide.sessions, journey_id),
        controls=CONTROLS_BY_STATUS,
        can_write=viewer.can(WRITE_ACTION),
    )


@router.post("/journeys/{journey_id}/{action}", response_model=None)
def control_journey(
    request: Request,
    viewer: Writer,
    journey_id: RowId,
    action: str,
    back: Annotated[str, Form()] = "",
) -> Response:
    """Start, pause or stop a journey, then go back to the page the form was on."""
    if action not in CONTROLS:
        return journey_not_found(request, viewer, journey_id)
    # Only a page of this site; anything else goes to the journey's own page.
    target = back if back and safe_next(back) == back else f"/journeys/{journey_id}"
    response = RedirectResponse(target, status_code=303)
    try:
        record = set_status(lifetide_of(request), store_of(request), journey_id, action)
    except JourneyNotFound:
        return journey_not_found(request, viewer, journey_id)
    except JourneyError as err:
        flash(request, response, f"The journey was not {CONTROL_WORDS[action]}: {err}", "error")
        return response
    flash(request, response, f"\u201c{record.name}\u201d is {CONTROL_WORDS[action]}.")
    return response
