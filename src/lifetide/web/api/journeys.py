"""`/api/journeys`: journeys, their versions, live counts, instances; start, pause and stop.

Reading needs a sign-in; creating, editing, starting, pausing and stopping need
`segments.write` (admins and marketers: the people who build audiences also run the journeys
that message them). A definition that does not fit answers 422 with the path to the problem,
`{"detail": [{"loc": ["definition", "steps", "first_email", "template"], "msg": ...}]}`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import ValidationError

from lifetide.context import Lifetide
from lifetide.journeys.definition import Journey, Send, graph_problems
from lifetide.journeys.stats import (
    PAGE_MAX,
    JourneyCounts,
    instances_page,
    journey_counts,
    step_order,
    version_history,
)
from lifetide.journeys.store import (
    INSTANCE_STATUSES,
    JourneyError,
    JourneyNotFound,
    JourneyStore,
)
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.models import JourneyRecord
from lifetide.web.api.journey_schemas import (
    InstanceOut,
    InstancesOut,
    JourneyChange,
    JourneyDetailOut,
    JourneyOut,
    NewJourney,
    StepOut,
    VersionOut,
)
from lifetide.web.ids import RowId
from lifetide.web.security import ApiViewer, Viewer, require

router = APIRouter(prefix="/api/journeys", tags=["journeys"])
WRITE_ACTION = "segments.write"
Writer = Annotated[Viewer, Depends(require(WRITE_ACTION))]
# What each control does to the journey's status.
CONTROLS = {"start": "live", "pause": "paused", "stop": "stopped"}


def lifetide_of(request: Request) -> Lifetide:
    """The Lifetide of the app serving `request`."""
    lifetide: Lifetide = request.app.state.lifetide
    return lifetide


def store_of(request: Request) -> JourneyStore:
    """A journey store on the app's operational database."""
    lifetide = lifetide_of(request)
    return JourneyStore(lifetide.sessions, lifetide.clock)


Store = Annotated[JourneyStore, Depends(store_of)]


def parse_definition(definition: dict[str, Any]) -> Journey:
    """`definition` as a Journey; 422 with each problem's path (under "definition") if not."""
    try:
        return Journey.model_validate(definition)
    except ValidationError as err:
        problems = [
            {
                "loc": ["definition", *error["loc"]],
                "msg": str(error["msg"]).removeprefix("Value error, "),
                "type": error["type"],
            }
            for error in err.errors(include_url=False, include_context=False)
        ]
        raise HTTPException(422, jsonable_encoder(problems)) from None


def _refused(err: Exception) -> HTTPException:
    if isinstance(err, JourneyNotFound):
        return HTTPException(404, str(err))
    if isinstance(err, CannotStart):
        return HTTPException(409, f"the journey cannot start: {err}")
    if isinstance(err, JourneyError) and "already exists" in str(err):
        return HTTPException(409, str(err))
    return HTTPException(422, str(err))


def journey_detail(lifetide: Lifetide, store: JourneyStore, journey_id: int) -> JourneyDetailOut:
    """One journey in full: current definition, versions, and counts per step."""
    record = store.get(journey_id)
    definition = store.definition_of(journey_id, record.version)
    counts = journey_counts(lifetide.sessions, lifetide.clock.now(), [journey_id])[journey_id]
    order = step_order(definition)
    steps = [StepOut.of(s, definition.steps[s].type, counts.step(s)) for s in order]
    # Customers on an older version may be at a step this version no longer has.
    others = [
        StepOut.of(s, "older version", c) for s, c in counts.steps.items() if s not in set(order)
    ]
    versions = [
        VersionOut(version=v.version, author_email=v.author_email, created_at=v.created_at)
        for v in version_history(lifetide.sessions, journey_id)
    ]
    return JourneyDetailOut(
        **JourneyOut.fields_of(record, counts),
        definition=definition.model_dump(mode="json", exclude_none=True),
        versions=versions,
        steps=steps,
        problems=graph_problems(definition),
        other_steps=others,
    )


@router.get("")
def list_journeys(request: Request, store: Store, _viewer: ApiViewer) -> list[JourneyOut]:
    """Every journey by name, with in-flight and done counts and sends by status."""
    lifetide = lifetide_of(request)
    records = store.list()
    counts = journey_counts(lifetide.sessions, lifetide.clock.now(), [r.id for r in records])
    return [JourneyOut(**JourneyOut.fields_of(r, counts[r.id])) for r in records]


@router.post("", status_code=201)
def create_journey(
    request: Request, body: NewJourney, store: Store, viewer: Writer
) -> JourneyDetailOut:
    """Save a journey as a draft (version 1); 409 if the name is taken."""
    journey = parse_definition(body.definition)
    try:
        record = store.create(body.name or journey.name, journey, viewer.user.id)
    except JourneyError as err:
        raise _refused(err) from None
    return journey_detail(lifetide_of(request), store, record.id)


@router.get("/{journey_id}")
def get_journey(
    request: Request, journey_id: RowId, store: Store, _viewer: ApiViewer
) -> JourneyDetailOut:
    """One journey: current definition, versions, each step's live counts, graph problems."""
    try:
        return journey_detail(lifetide_of(request), store, journey_id)
    except JourneyNotFound as err:
        raise _refused(err) from None


@router.put("/{journey_id}")
def update_journey(
    request: Request, journey_id: RowId, body: JourneyChange, store: Store, viewer: Writer
) -> JourneyDetailOut:
    """Save a new version (none if unchanged); running instances stay on their version."""
    journey = parse_definition(body.definition)
    try:
        store.update(journey_id, journey, viewer.user.id)
        return journey_detail(lifetide_of(request), store, journey_id)
    except (JourneyError, JourneyNotFound) as err:
        raise _refused(err) from None


def missing_templates(lifetide: Lifetide, journey: Journey) -> list[str]:
    """The templates the journey's send steps name that do not exist, by name."""
    named = {s.template for s in journey.steps.values() if isinstance(s, Send)}
    found = TemplateStore(lifetide.sessions, lifetide.clock).get_many(named)
    return sorted(named - set(found))


class CannotStart(JourneyError):
    """A journey that would fail on its first send: a template it names is missing."""


def set_status(
    lifetide: Lifetide, store: JourneyStore, journey_id: int, action: str
) -> JourneyRecord:
    """Start, pause or stop a journey; CannotStart if a template it sends is missing."""
    if action == "start":
        record = store.get(journey_id)
        missing = missing_templates(lifetide, store.definition_of(journey_id, record.version))
        if missing:
            raise CannotStart(f"it sends templates that do not exist: {', '.join(missing)}")
    return store.set_status(journey_id, CONTROLS[action])


def _control(request: Request, store: JourneyStore, journey_id: int, action: str) -> JourneyOut:
    lifetide = lifetide_of(request)
    try:
        record = set_status(lifetide, store, journey_id, action)
    except (JourneyError, JourneyNotFound) as err:
        raise _refused(err) from None
    counts: JourneyCounts = journey_counts(lifetide.sessions, lifetide.clock.now(), [record.id])[
        record.id
    ]
    return JourneyOut(**JourneyOut.fields_of(record, counts))


@router.post("/{journey_id}/start")
def start_journey(request: Request, journey_id: RowId, store: Store, _viewer: Writer) -> JourneyOut:
    """Make the journey live (from now on its trigger starts instances).

    409 if a template it sends does not exist.
    """
    return _control(request, store, journey_id, "start")


@router.post("/{journey_id}/pause")
def pause_journey(request: Request, journey_id: RowId, store: Store, _viewer: Writer) -> JourneyOut:
    """Pause it: no new instances, and instances in it wait where they are until it resumes."""
    return _control(request, store, journey_id, "pause")


@router.post("/{journey_id}/stop")
def stop_journey(request: Request, journey_id: RowId, store: Store, _viewer: Writer) -> JourneyOut:
    """Stop it: no new instances, and the engine ends the running ones."""
    return _control(request, store, journey_id, "stop")


@router.get("/{journey_id}/instances")
def list_instances(
    request: Request,
    journey_id: RowId,
    store: Store,
    _viewer: ApiViewer,
    status: Annotated[
        str | None, Query(description=f"One of: {', '.join(INSTANCE_STATUSES)}.")
    ] = None,
    step: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> InstancesOut:
    """A page of the journey's instances, newest first, at one status or step if asked."""
    try:
        store.get(journey_id)
        rows = instances_page(
            lifetide_of(request).sessions,
            journey_id,
            status=status,
            step=step,
            limit=limit + 1,
            offset=offset,
        )
    except JourneyNotFound as err:
        raise _refused(err) from None
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    more = len(rows) > limit
    return InstancesOut(
        instances=[InstanceOut.of(r) for r in rows[:limit]],
        next_offset=offset + limit if more else None,
    )
