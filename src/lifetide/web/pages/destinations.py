"""The Studio's webhook destinations: where segments are pushed, with their recent pushes.

For roles that may export (`segments.export`). A new destination's signing secret is shown on
the page that created it, this once, like a new API token; deleting one also deletes its
delivery history, so the form asks first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from lifetide.segments.activation import SegmentActivation
from lifetide.segments.delivery import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DestinationError,
    NotFound,
)
from lifetide.segments.store import utc, utc_or_none
from lifetide.web.ids import RowId
from lifetide.web.pages.uploads import as_sentence
from lifetide.web.security import Viewer, require
from lifetide.web.templating import flash, render

router = APIRouter(include_in_schema=False)
Exporter = Annotated[Viewer, Depends(require("segments.export", page=True))]
RECENT_PUSHES = 3


@dataclass(frozen=True)
class Push:
    """A recent delivery of a segment to a destination, as the page shows it."""

    segment_id: int
    segment_name: str
    status: str
    members: int
    pages: int
    pages_sent: int
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


@dataclass(frozen=True)
class DestinationRow:
    """A destination with who added it and its latest pushes (never its secret)."""

    id: int
    name: str
    url: str
    created_at: dt.datetime
    created_by: str | None
    pushes: list[Push]


@dataclass(frozen=True)
class CreatedDestination:
    """The destination just added and its secret, shown once."""

    name: str
    secret: str


def activation_of(request: Request) -> SegmentActivation:
    """Destinations and pushes of the app serving `request` (with its private-address setting)."""
    return SegmentActivation(request.app.state.lifetide)


def destination_rows(activation: SegmentActivation) -> list[DestinationRow]:
    """Every destination by name, with its last few pushes."""
    deliveries = activation.deliveries
    destinations = deliveries.list_destinations()
    creators = activation.store.emails(
        {d.created_by_id for d in destinations if d.created_by_id is not None}
    )
    names = activation.store.names(archived=True)
    rows = []
    for d in destinations:
        pushes = [
            Push(
                segment_id=p.segment_id,
                segment_name=names.get(p.segment_id, f"Segment {p.segment_id}"),
                status=p.status,
                members=p.members,
                pages=p.pages,
                pages_sent=p.pages_sent,
                error=p.error,
                started_at=utc(p.started_at),
                finished_at=utc_or_none(p.finished_at),
            )
            for p in deliveries.destination_deliveries(d.id, RECENT_PUSHES)
        ]
        creator = creators.get(d.created_by_id) if d.created_by_id is not None else None
        rows.append(DestinationRow(d.id, d.name, d.url, utc(d.created_at), creator, pushes))
    return rows


def _page(
    request: Request,
    viewer: Viewer,
    *,
    created: CreatedDestination | None = None,
    error: str = "",
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    activation = activation_of(request)
    return render(
        request,
        "destinations/list.html",
        viewer,
        status_code=422 if error else 200,
        destinations=destination_rows(activation),
        created=created,
        error=error,
        form=form or {"name": "", "url": ""},
        allow_private=activation.deliveries.allow_private,
        signature_header=SIGNATURE_HEADER,
        timestamp_header=TIMESTAMP_HEADER,
    )


@router.get("/destinations", response_class=HTMLResponse)
def destinations_page(request: Request, viewer: Exporter) -> HTMLResponse:
    """Every webhook destination with its recent pushes, and a form to add one."""
    return _page(request, viewer)


@router.post("/destinations", response_class=HTMLResponse)
def create_destination(
    request: Request,
    viewer: Exporter,
    name: Annotated[str, Form(max_length=200)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    """Add a destination and show its signing secret this once; the form again, 422, if refused."""
    form = {"name": name, "url": url}
    if not url.strip():
        return _page(request, viewer, error="Give the address the members are sent to.", form=form)
    try:
        made = activation_of(request).deliveries.create_destination(name, url, viewer.user)
    except DestinationError as err:
        return _page(request, viewer, error=as_sentence(str(err)), form=form)
    created = CreatedDestination(made.destination.name, made.secret)
    response = _page(request, viewer, created=created)
    # The secret is in this page: no browser or proxy may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/destinations/{destination_id}/delete")
def delete_destination(
    request: Request, viewer: Exporter, destination_id: RowId
) -> RedirectResponse:
    """Delete a destination and its delivery history."""
    deliveries = activation_of(request).deliveries
    response = RedirectResponse("/destinations", status_code=303)
    try:
        name = deliveries.get_destination(destination_id).name
        deliveries.delete_destination(destination_id)
    except NotFound:
        flash(request, response, f"There is no destination {destination_id}.", "error")
        return response
    flash(request, response, f"Deleted “{name}” and its delivery history.")
    return response
