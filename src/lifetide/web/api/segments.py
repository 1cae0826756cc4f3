"""`/api/segments`: the builder's fields, suggestions and live counts; saved segments and members.

Reading needs a sign-in; saving, refreshing, archiving and uploading need `segments.write`
(admins and marketers). A definition that does not fit answers 422 with
`{"detail": [{"loc": ["root", "children", 1, "value"], "msg": ...}]}`, the path to the node.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from lifetide.segments.service import (
    SegmentConflict,
    SegmentError,
    SegmentNotFound,
    SegmentService,
    SuggestionError,
)
from lifetide.segments.store import UNSET
from lifetide.segments.suggestions import SOURCES
from lifetide.segments.upload import identifiers_from_csv
from lifetide.segments.validate import InvalidDefinition
from lifetide.web.api.segment_schemas import (
    UNMATCHED_SHOWN,
    ChangeOut,
    ChangesOut,
    CountOut,
    DefinitionIn,
    DescriptionOut,
    NewSegment,
    NewStaticSegment,
    RefreshResultOut,
    SegmentChange,
    SegmentDetailOut,
    SegmentOut,
    StaticOut,
    SuggestionOut,
    SuggestionsOut,
    VersionOut,
)
from lifetide.web.ids import RowId
from lifetide.web.security import ApiViewer, Viewer, require

router = APIRouter(prefix="/api/segments", tags=["segments"])
Writer = Annotated[Viewer, Depends(require("segments.write"))]
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def service_of(request: Request) -> SegmentService:
    """The segment service of the app serving `request`."""
    return SegmentService(request.app.state.lifetide)


Service = Annotated[SegmentService, Depends(service_of)]


def _refused(err: Exception) -> HTTPException:
    if isinstance(err, InvalidDefinition):
        return HTTPException(422, err.to_json())
    if isinstance(err, SegmentNotFound):
        return HTTPException(404, str(err))
    if isinstance(err, SegmentConflict):
        return HTTPException(409, str(err))
    return HTTPException(422, str(err))


REFUSED = (InvalidDefinition, SegmentError, SegmentNotFound, SuggestionError)


@router.get("/fields")
def fields(service: Service, _viewer: ApiViewer) -> dict[str, Any]:
    """The field catalog: every field by group, its type and operators, operator labels."""
    return service.catalog().to_json()


@router.get("/suggestions")
def suggestions(
    service: Service,
    _viewer: ApiViewer,
    source: Annotated[str, Query(description=f"One of: {', '.join(SOURCES)}.")],
    prefix: Annotated[str, Query(max_length=200)] = "",
    field: Annotated[str | None, Query(description="The profile field, for 'values'.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SuggestionsOut:
    """Values starting with `prefix` (any case), most frequent first."""
    try:
        found = service.suggest(source, prefix, field, limit)
    except REFUSED as err:
        raise _refused(err) from None
    return SuggestionsOut(
        source=source, suggestions=[SuggestionOut.model_validate(s) for s in found]
    )


@router.post("/count")
async def count(
    request: Request, body: DefinitionIn, service: Service, _viewer: ApiViewer
) -> CountOut:
    """How many profiles the definition matches now, of how many, and the sentence.

    The Studio aborts a count when a newer edit supersedes it; the query is then interrupted
    here instead of running on for an answer nobody will read.
    """
    backend, cursor = request.app.state.lifetide.warehouse.private_backend()
    try:
        result = await _unless_abandoned(
            request, cursor, lambda: service.count(body.definition, backend)
        )
    except REFUSED as err:
        raise _refused(err) from None
    finally:
        if cursor is not None:
            cursor.close()
    if result is None:
        # The client is gone; this answer is never read.
        raise HTTPException(499, "the count was cancelled")
    return CountOut.model_validate(result)


async def _unless_abandoned(request: Request, cursor: Any, work: Any) -> Any:
    """`work()` in a thread; None, with its query interrupted, if the client disconnects."""
    abandoned = False

    async def watch(scope: anyio.CancelScope) -> None:
        nonlocal abandoned
        while True:
            await anyio.sleep(0.05)
            if await request.is_disconnected():
                abandoned = True
                if cursor is not None:
                    cursor.interrupt()
                scope.cancel()
                return

    result: Any = None
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(watch, group.cancel_scope)
        try:
            result = await anyio.to_thread.run_sync(work, abandon_on_cancel=False)
        except Exception as err:  # re-raised below, outside the task group
            failure = err
        group.cancel_scope.cancel()
    if abandoned:
        return None
    if failure is not None:
        raise failure
    return None if abandoned else result


@router.post("/describe")
def describe(body: DefinitionIn, service: Service, _viewer: ApiViewer) -> DescriptionOut:
    """The definition in English."""
    try:
        return DescriptionOut(description=service.describe(body.definition))
    except REFUSED as err:
        raise _refused(err) from None


@router.get("")
def list_segments(service: Service, _viewer: ApiViewer) -> list[SegmentOut]:
    """Every active segment, by name."""
    return [SegmentOut.model_validate(s) for s in service.list()]


@router.post("", status_code=201)
def create_segment(body: NewSegment, service: Service, viewer: Writer) -> SegmentDetailOut:
    """Save a rules segment (version 1) and compute its members; 409 if the name is taken."""
    try:
        detail = service.create(
            body.name, body.definition, viewer.user, body.description, body.refresh_minutes
        )
    except REFUSED as err:
        raise _refused(err) from None
    return SegmentDetailOut.model_validate(detail)


@router.post(
    "/static",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": NewStaticSegment.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["name", "file"],
                        "properties": {
                            "name": {"type": "string"},
                            "description": {"type": "string"},
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "CSV with a column 'identifier' or 'email'.",
                            },
                        },
                    }
                },
            },
        }
    },
)
async def create_static(request: Request, viewer: Writer) -> StaticOut:
    """A static segment from identifiers: JSON `{name, identifiers}` or a CSV file upload."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        upload = await _upload(request)
    else:
        try:
            upload = NewStaticSegment.model_validate_json(await request.body())
        except ValidationError as err:
            errors = err.errors(include_url=False, include_context=False)
            raise HTTPException(422, jsonable_encoder(errors)) from None
    service = service_of(request)
    try:
        result = await run_in_threadpool(
            service.create_static, upload.name, upload.identifiers, viewer.user, upload.description
        )
    except REFUSED as err:
        raise _refused(err) from None
    return StaticOut(
        segment=SegmentDetailOut.model_validate(result.segment),
        identifiers=result.identifiers,
        matched=result.matched,
        unmatched_count=len(result.unmatched),
        unmatched=result.unmatched[:UNMATCHED_SHOWN],
    )


async def _upload(request: Request) -> NewStaticSegment:
    form = await request.form()
    name, description, file = form.get("name"), form.get("description"), form.get("file")
    if not isinstance(name, str) or not name.strip():
        raise HTTPException(422, "the upload needs a form field 'name'")
    if not isinstance(file, UploadFile):
        raise HTTPException(422, "the upload needs a CSV file in the form field 'file'")
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        return NewStaticSegment(
            name=name,
            identifiers=identifiers_from_csv(content),
            description=description if isinstance(description, str) and description else None,
        )
    except ValueError as err:
        raise HTTPException(422, str(err)) from None


@router.get("/{segment_id}")
def get_segment(segment_id: RowId, service: Service, _viewer: ApiViewer) -> SegmentDetailOut:
    """One segment with its definition, sentence and latest refreshes."""
    try:
        return SegmentDetailOut.model_validate(service.get(segment_id))
    except REFUSED as err:
        raise _refused(err) from None


@router.patch("/{segment_id}")
def update_segment(
    segment_id: RowId, body: SegmentChange, service: Service, viewer: Writer
) -> SegmentDetailOut:
    """Change a segment: a new version if the name or definition changes (then refreshed)."""
    given = body.model_fields_set
    try:
        detail = service.update(
            segment_id,
            viewer.user,
            name=body.name,
            definition=body.definition,
            description=body.description if "description" in given else UNSET,
            refresh_minutes=body.refresh_minutes if "refresh_minutes" in given else UNSET,
        )
    except REFUSED as err:
        raise _refused(err) from None
    return SegmentDetailOut.model_validate(detail)


@router.delete("/{segment_id}", status_code=204)
def archive_segment(segment_id: RowId, service: Service, viewer: Writer) -> Response:
    """Archive a segment (kept, hidden); 409 while another segment uses it."""
    try:
        service.archive(segment_id, viewer.user)
    except REFUSED as err:
        raise _refused(err) from None
    return Response(status_code=204)


@router.get("/{segment_id}/versions")
def versions(segment_id: RowId, service: Service, _viewer: ApiViewer) -> list[VersionOut]:
    """Every saved version, newest first."""
    try:
        return [VersionOut.model_validate(v) for v in service.versions(segment_id)]
    except REFUSED as err:
        raise _refused(err) from None


@router.post("/{segment_id}/refresh")
def refresh(segment_id: RowId, service: Service, viewer: Writer) -> RefreshResultOut:
    """Recompute the members now; 409 with the reason if it fails (the old members stay)."""
    try:
        result = service.refresh(segment_id, "manual", viewer.user)
    except REFUSED as err:
        raise _refused(err) from None
    if result.error is not None:
        raise HTTPException(409, f"the refresh failed, the members are unchanged: {result.error}")
    return RefreshResultOut.model_validate(result)


@router.get("/{segment_id}/changes")
def changes(
    segment_id: RowId,
    service: Service,
    _viewer: ApiViewer,
    since: Annotated[dt.datetime | None, Query(description="Only changes from then (UTC).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ChangesOut:
    """Who entered and who exited, newest first, a page at a time."""
    try:
        found = service.changes(segment_id, since, limit + 1, offset)
    except REFUSED as err:
        raise _refused(err) from None
    more = len(found) > limit
    return ChangesOut(
        changes=[ChangeOut.model_validate(c) for c in found[:limit]],
        next_offset=offset + limit if more else None,
    )
