"""Installing the bundled templates, segments and journeys, ready to start, never twice.

The bundled journeys that start from a segment name it (`segment: "Lapsing customers"`), since
the segment's id is only known once it is saved here. Installing saves each bundled segment
that no segment of that name exists for, then stores each journey with the segment's id, as a
draft, unless a journey of that name exists already. A segment that cannot be saved yet (its
rules ask for predictions before `lifetide score` has run) is reported, and the journeys that
need it with it; installing again later picks them up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lifetide.context import Lifetide
from lifetide.journeys.definition import Branch, Journey, SegmentTrigger
from lifetide.journeys.files import bundled_journeys
from lifetide.journeys.store import JourneyError, JourneyStore
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.models import User
from lifetide.segments.rules import Definition, referenced_segments
from lifetide.segments.service import SegmentError, SegmentService
from lifetide.segments.validate import InvalidDefinition

BUNDLED_SEGMENTS = Path(__file__).resolve().parents[1] / "segments" / "bundled"


class BundledSegment(BaseModel):
    """A segment shipped with Lifetide: its name, what it is for, its rules and refresh interval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    refresh_minutes: int | None = Field(60, ge=5, le=43_200)
    definition: Definition


class UnknownSegment(ValueError):
    """A journey names a segment (by name or id) that is not an active saved segment."""


@dataclass(frozen=True)
class InstalledSegment:
    """What installing did with one bundled segment.

    `created` is False when a segment of that name existed already (then `segment_id` is its
    id) or when it could not be saved (then `problem` says why and `segment_id` is None).
    """

    name: str
    segment_id: int | None
    created: bool
    size: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class InstalledJourney:
    """What installing did with one bundled journey (from the file `file`.yaml).

    `created` is False when a journey of that name existed already (`journey_id` and `status`
    are then its own) or when it could not be saved (`problem` says why).
    """

    name: str
    file: str
    journey_id: int | None
    created: bool
    status: str | None = None
    problem: str | None = None


def bundled_segments() -> list[BundledSegment]:
    """The segments shipped with Lifetide, in file-name order."""
    found: list[BundledSegment] = []
    for path in sorted(BUNDLED_SEGMENTS.glob("*.yaml")):
        try:
            found.append(BundledSegment.model_validate(yaml.safe_load(path.read_text("utf-8"))))
        except (yaml.YAMLError, ValidationError) as err:
            # Shipped files are tested; this names the file if one is edited in place.
            raise ValueError(f"bundled segment {path.name}: {err}") from err
    return found


def _key(name: str) -> str:
    # Names are unique ignoring case and runs of spaces, as the stores compare them.
    return " ".join(name.split()).lower()


def resolve_segments(journey: Journey, segments: Mapping[int, str]) -> Journey:
    """`journey` with its trigger's segment name replaced by that segment's id.

    `segments` maps the ids of the active saved segments to their names. A trigger's name or
    id, or a branch condition's segment, that is not among them raises UnknownSegment naming
    the place in the journey.
    """
    for step_id, step in journey.steps.items():
        if isinstance(step, Branch):
            missing = sorted(referenced_segments(step.condition) - set(segments))
            if missing:
                raise UnknownSegment(
                    f"steps.{step_id}.condition: there is no saved segment {missing[0]}"
                )
    trigger = journey.trigger
    if not isinstance(trigger, SegmentTrigger):
        return journey
    if trigger.segment_id is not None:
        if trigger.segment_id not in segments:
            raise UnknownSegment(
                f"trigger.segment_id: there is no saved segment {trigger.segment_id}"
            )
        return journey
    assert trigger.segment is not None
    ids = {_key(name): segment_id for segment_id, name in segments.items()}
    found = ids.get(_key(trigger.segment))
    if found is None:
        raise UnknownSegment(
            f"trigger.segment: there is no saved segment named {trigger.segment!r}"
        )
    resolved = SegmentTrigger(segment_id=found, on=trigger.on)
    return journey.model_copy(update={"trigger": resolved})


def install_bundled_segments(
    lifetide: Lifetide, owner_id: int | None = None
) -> list[InstalledSegment]:
    """Save each bundled segment that no segment (active or archived) has the name of."""
    service = SegmentService(lifetide)
    active = {_key(name): i for i, name in service.store.names().items()}
    archived = {_key(name) for name in service.store.names(archived=True).values()} - set(active)
    owner = _user(lifetide, owner_id)
    out: list[InstalledSegment] = []
    for bundled in bundled_segments():
        segment_id = active.get(_key(bundled.name))
        if segment_id is not None:
            out.append(InstalledSegment(bundled.name, segment_id, created=False))
            continue
        if _key(bundled.name) in archived:
            # Names stay taken by archived segments; someone archived this one on purpose.
            problem = "an archived segment has this name, so it is not installed again"
            out.append(InstalledSegment(bundled.name, None, created=False, problem=problem))
            continue
        try:
            saved = service.create(
                bundled.name,
                bundled.definition.model_dump(mode="json"),
                owner,
                bundled.description,
                bundled.refresh_minutes,
            )
        except (InvalidDefinition, SegmentError) as err:
            out.append(InstalledSegment(bundled.name, None, created=False, problem=str(err)))
            continue
        out.append(InstalledSegment(bundled.name, saved.id, created=True, size=saved.size))
    return out


def install_bundled_templates(lifetide: Lifetide) -> list[str]:
    """Save the bundled message templates that are missing (never an existing one); their names."""
    return TemplateStore(lifetide.sessions, lifetide.clock).ensure_bundled()


def install_bundled(lifetide: Lifetide, owner_id: int | None = None) -> list[InstalledJourney]:
    """Install the bundled templates and segments, then each journey not there yet, as a draft."""
    install_bundled_templates(lifetide)
    segments = install_bundled_segments(lifetide, owner_id)
    problems = {_key(s.name): s.problem for s in segments if s.problem is not None}
    active = SegmentService(lifetide).store.names()
    store = JourneyStore(lifetide.sessions, lifetide.clock)
    existing = {_key(record.name): record for record in store.list()}
    out: list[InstalledJourney] = []
    for stem, journey in bundled_journeys().items():
        record = existing.get(_key(journey.name))
        if record is not None:
            out.append(InstalledJourney(journey.name, stem, record.id, False, record.status))
            continue
        try:
            resolved = resolve_segments(journey, active)
        except UnknownSegment as err:
            out.append(
                InstalledJourney(
                    journey.name, stem, None, False, problem=_why(journey, err, problems)
                )
            )
            continue
        try:
            record = store.create(journey.name, resolved, owner_id)
        except JourneyError as err:
            # Installed by someone else between the list and the create.
            out.append(InstalledJourney(journey.name, stem, None, False, problem=str(err)))
            continue
        out.append(InstalledJourney(journey.name, stem, record.id, True, record.status))
    return out


def _why(journey: Journey, err: UnknownSegment, problems: Mapping[str, str]) -> str:
    trigger = journey.trigger
    if isinstance(trigger, SegmentTrigger) and trigger.segment is not None:
        problem = problems.get(_key(trigger.segment))
        if problem is not None:
            return f"needs the segment {trigger.segment!r}, which could not be saved: {problem}"
    return str(err)


def _user(lifetide: Lifetide, owner_id: int | None) -> User | None:
    if owner_id is None:
        return None
    with lifetide.sessions() as session:
        return session.get(User, owner_id)
