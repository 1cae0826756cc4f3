"""The Studio's segment pages: the list, the builder, and one segment with its insights.

Pages render what the services give; what must react as the marketer works (the live count,
the charts, overlap, pushes) their scripts fetch from the JSON API under /api/segments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifetide.segments.activation import SegmentActivation
from lifetide.segments.describe import describe
from lifetide.segments.export import EXPORT_COLUMNS
from lifetide.segments.service import SegmentDetail, SegmentError, SegmentNotFound, SegmentService
from lifetide.segments.validate import InvalidDefinition, validated
from lifetide.web.api.segments import service_of
from lifetide.web.ids import RowId
from lifetide.web.pages.uploads import forget_unmatched, unmatched_of
from lifetide.web.security import PageViewer, Viewer, require
from lifetide.web.templating import flash, render

router = APIRouter(include_in_schema=False)
Writer = Annotated[Viewer, Depends(require("segments.write", page=True))]
DEFAULT_EXPORT = ("profile_id", "email", "first_name", "last_name")
SAMPLE_SIZE = 8
HISTORY_SHOWN = 20
NO_LONGER_VALID = "(uses a field that no longer exists)"


@dataclass(frozen=True)
class HistoryEntry:
    """One saved version of a segment as the History card shows it."""

    version: int
    name: str
    author_email: str | None
    created_at: dt.datetime
    sentence: str
    valid: bool


def _not_found(request: Request, viewer: Viewer, segment_id: int) -> HTMLResponse:
    return render(
        request,
        "not_found.html",
        viewer,
        status_code=404,
        message=f"There is no segment {segment_id}",
        back_href="/segments",
        back_label="All segments",
    )


def member_sample(service: SegmentService, segment_id: int) -> list[dict[str, Any]]:
    """A few members of the segment with their names and e-mails, lowest profile ids first."""
    rows = service.sample(segment_id, SAMPLE_SIZE)
    for row in rows:
        full = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
        row["name"] = full or None
    return rows


def version_history(service: SegmentService, segment_id: int) -> list[HistoryEntry]:
    """Every version of the segment, newest first, with its rules in English.

    A version whose rules use a field the warehouse no longer has says so instead of failing.
    """
    versions = service.versions(segment_id)
    catalog = service.catalog()
    names = service.store.names(archived=True)
    entries = []
    for v in versions:
        if v.definition is None:
            sentence, valid = "An uploaded list.", True
        else:
            try:
                sentence = describe(validated(v.definition, catalog, names).root, catalog, names)
                valid = True
            except InvalidDefinition:
                sentence, valid = NO_LONGER_VALID, False
        entries.append(
            HistoryEntry(v.version, v.name, v.author_email, v.created_at, sentence, valid)
        )
    return entries


@router.get("/segments", response_class=HTMLResponse)
def segment_list(request: Request, viewer: PageViewer, q: str = "") -> HTMLResponse:
    """Every segment with its size and share of all profiles; `q` filters by name."""
    service = service_of(request)
    segments = service.list()
    query = q.strip().lower()
    shown = [
        s
        for s in segments
        if not query or query in s.name.lower() or query in (s.description or "").lower()
    ]
    return render(
        request,
        "segments/list.html",
        viewer,
        segments=shown,
        all_count=len(segments),
        total=service.total_profiles(),
        q=q,
    )


def _builder(request: Request, viewer: Viewer, segment: SegmentDetail | None) -> HTMLResponse:
    data = {
        "segment_id": segment.id if segment else None,
        "name": segment.name if segment else "",
        "description": (segment.description or "") if segment else "",
        "refresh_minutes": (segment.refresh_minutes or 0) if segment else 60,
        "definition": segment.definition if segment else None,
        "readonly": not viewer.can("segments.write"),
    }
    return render(
        request,
        "segments/builder.html",
        viewer,
        segment=segment,
        builder_data=data,
        can_write=viewer.can("segments.write"),
    )


@router.get("/segments/new", response_class=HTMLResponse)
def new_segment(request: Request, viewer: PageViewer) -> HTMLResponse:
    """The builder on an empty definition (read-only for analysts)."""
    return _builder(request, viewer, None)


@router.get("/segments/{segment_id}/edit", response_model=None)
def edit_segment(request: Request, viewer: PageViewer, segment_id: RowId) -> Response:
    """The builder on a saved segment (read-only for analysts); uploaded lists have no rules."""
    try:
        segment = service_of(request).get(segment_id)
    except SegmentNotFound:
        return _not_found(request, viewer, segment_id)
    if segment.kind != "rules":
        return RedirectResponse(f"/segments/{segment_id}", status_code=303)
    return _builder(request, viewer, segment)


@router.get("/segments/{segment_id}", response_class=HTMLResponse)
def segment_page(request: Request, viewer: PageViewer, segment_id: RowId) -> HTMLResponse:
    """One segment: its rules in English, size, insights, overlap, export and members."""
    service = service_of(request)
    try:
        segment = service.get(segment_id)
    except SegmentNotFound:
        return _not_found(request, viewer, segment_id)
    total = service.total_profiles()
    can_export = viewer.can("segments.export")
    activation = SegmentActivation(request.app.state.lifetide)
    destinations = activation.deliveries.list_destinations() if can_export else []
    unmatched = unmatched_of(request, segment_id)
    response = render(
        request,
        "segments/detail.html",
        viewer,
        segment=segment,
        total=total,
        share=(segment.size or 0) / total if total else None,
        others=[s for s in service.list() if s.id != segment_id],
        export_columns=activation.export_columns() if can_export else [],
        default_columns=DEFAULT_EXPORT,
        contact_columns=EXPORT_COLUMNS,
        sample=member_sample(service, segment_id),
        history=version_history(service, segment_id),
        history_shown=HISTORY_SHOWN,
        unmatched=unmatched,
        page_data={
            "segment_id": segment.id,
            "can_export": can_export,
            "destinations": [{"id": d.id, "name": d.name} for d in destinations],
        },
    )
    if unmatched is not None:
        forget_unmatched(request, response, segment_id)
    return response


@router.post("/segments/{segment_id}/refresh", response_model=None)
def refresh_segment(request: Request, viewer: Writer, segment_id: RowId) -> Response:
    """Recompute the segment's members now, then show the segment again."""
    service = service_of(request)
    response = RedirectResponse(f"/segments/{segment_id}", status_code=303)
    try:
        result = service.refresh(segment_id, "manual", viewer.user)
    except SegmentNotFound:
        return _not_found(request, viewer, segment_id)
    # An uploaded list has no rules to recompute.
    except SegmentError as err:
        flash(request, response, f"The segment was not refreshed: {err}", "error")
        return response
    if result.error:
        flash(request, response, f"The refresh failed: {result.error}", "error")
    else:
        flash(
            request,
            response,
            f"Refreshed: {result.size or 0:,} members, {result.entered:,} entered, "
            f"{result.exited:,} left.",
        )
    return response
