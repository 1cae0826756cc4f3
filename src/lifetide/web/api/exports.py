"""Segment insights, CSV exports, webhook destinations and pushes.

Insights and delivery history need a sign-in; exporting, pushing and managing destinations
need `segments.export` (admins and marketers). Members are those of the segment's last refresh.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from lifetide.segments.activation import SegmentActivation
from lifetide.segments.delivery import DestinationConflict, DestinationError, NotFound
from lifetide.segments.export import EXPORT_COLUMNS, ExportError
from lifetide.segments.store import SegmentNotFound
from lifetide.web.ids import MAX_ID, RowId
from lifetide.web.security import ApiViewer, Viewer, require

router = APIRouter(tags=["segment activation"])
Exporter = Annotated[Viewer, Depends(require("segments.export"))]


def activation_of(request: Request) -> SegmentActivation:
    """Insights, exports and pushes for the app serving `request`."""
    return SegmentActivation(request.app.state.lifetide)


Activation = Annotated[SegmentActivation, Depends(activation_of)]


class ShareOut(BaseModel):
    """One key of a breakdown: how many, and their share of the whole."""

    key: str
    count: int
    share: float


class RankedOut(BaseModel):
    """A category or brand: the members' spend on it, share of their spend, units bought."""

    key: str
    spend: float
    share: float
    units: int


class PromoOut(BaseModel):
    """Members' orders with a promo code, their share, and the codes used most (by orders)."""

    orders_with_promo: int
    share: float
    top_codes: list[ShareOut]


class OverlapOut(BaseModel):
    """Profiles in both segments, in only one, and the Jaccard index (both / either)."""

    both: int
    only_this: int
    only_other: int
    jaccard: float


class InsightsOut(BaseModel):
    """What a segment's members are like; money in the shop's currency, 12 months = 365 days."""

    size: int
    profiles: int = Field(description="All live profiles.")
    share_of_profiles: float
    window_start: dt.datetime
    window_end: dt.datetime
    orders_12m: int = Field(description="Members' orders (not cancelled) in the window.")
    revenue_12m: float = Field(description="Members' spend on goods: subtotal - discount.")
    revenue_all_12m: float = Field(description="Every profile's spend on goods.")
    revenue_share: float
    average_clv: float | None = Field(description="Mean clv_12m; null before scoring.")
    total_clv: float | None
    lifecycle: list[ShareOut] = Field(description="Members per lifecycle_stage (or unscored).")
    top_categories: list[RankedOut]
    top_brands: list[RankedOut]
    channels: list[ShareOut] = Field(description="Members' orders online and in store.")
    promo: PromoOut
    overlap: OverlapOut | None = Field(description="With the `compare` segment, if given.")


class ColumnsOut(BaseModel):
    """Columns a CSV export may have, and those it has by default."""

    columns: list[str]
    default: list[str]


class DestinationOut(BaseModel):
    """A webhook destination (its secret is shown only when it is created)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    url: str
    created_at: dt.datetime


class NewDestinationIn(BaseModel):
    """A destination to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=2000, description="http:// or https:// address.")


class NewDestinationOut(DestinationOut):
    """The destination created, with the secret its requests are signed with: keep it now."""

    secret: str


class PushIn(BaseModel):
    """Where to push the segment."""

    model_config = ConfigDict(extra="forbid")

    destination_id: int = Field(ge=1, le=MAX_ID)


class DeliveryOut(BaseModel):
    """A push of a segment to a destination and how far it got."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    segment_id: int
    destination_id: int
    user_id: int | None
    status: str = Field(description="running, delivered or failed")
    members: int
    pages: int
    pages_sent: int
    attempts: int
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


def _not_found(err: Exception) -> HTTPException:
    return HTTPException(404, str(err))


@router.get("/api/segments/{segment_id}/insights")
def segment_insights(
    segment_id: RowId,
    activation: Activation,
    _viewer: ApiViewer,
    compare: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Another segment's id.")
    ] = None,
) -> InsightsOut:
    """Size, spend, predicted value, mixes and top lists of the segment's members."""
    try:
        found = activation.insights(segment_id, compare)
    except SegmentNotFound as err:
        raise _not_found(err) from None
    return InsightsOut.model_validate(found.to_json())


@router.get("/api/exports/columns")
def export_columns(activation: Activation, _viewer: Exporter) -> ColumnsOut:
    """The columns an export may ask for."""
    return ColumnsOut(columns=activation.export_columns(), default=list(EXPORT_COLUMNS))


@router.get(
    "/api/segments/{segment_id}/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The members as CSV."}},
)
def export_segment(
    segment_id: RowId,
    activation: Activation,
    _viewer: Exporter,
    columns: Annotated[
        str | None,
        Query(description="Comma-separated columns (see /api/exports/columns); default contact."),
    ] = None,
) -> StreamingResponse:
    """The segment's members as a CSV download, streamed."""
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    try:
        chunks = activation.export(segment_id, wanted)
    except SegmentNotFound as err:
        raise _not_found(err) from None
    except ExportError as err:
        raise HTTPException(422, str(err)) from None
    day = activation.lifetide.clock.now().date().isoformat()
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="segment-{segment_id}-{day}.csv"'},
    )


@router.post("/api/segments/{segment_id}/push", status_code=202)
def push_segment(
    segment_id: RowId,
    body: PushIn,
    activation: Activation,
    viewer: Exporter,
    background: BackgroundTasks,
) -> DeliveryOut:
    """Start pushing the members to a destination; poll the deliveries for the outcome."""
    try:
        delivery = activation.start_push(segment_id, body.destination_id, viewer.user)
    except (SegmentNotFound, NotFound) as err:
        raise _not_found(err) from None
    background.add_task(activation.deliver, delivery.id)
    return DeliveryOut.model_validate(delivery)


@router.get("/api/segments/{segment_id}/deliveries")
def segment_deliveries(
    segment_id: RowId,
    activation: Activation,
    _viewer: ApiViewer,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[DeliveryOut]:
    """The segment's recent pushes, newest first."""
    try:
        activation.store.get(segment_id, archived=True)
    except SegmentNotFound as err:
        raise _not_found(err) from None
    found = activation.deliveries.list_deliveries(segment_id, limit)
    return [DeliveryOut.model_validate(d) for d in found]


@router.get("/api/destinations")
def list_destinations(activation: Activation, _viewer: Exporter) -> list[DestinationOut]:
    """Every destination, by name."""
    return [DestinationOut.model_validate(d) for d in activation.deliveries.list_destinations()]


@router.post("/api/destinations", status_code=201)
def create_destination(
    body: NewDestinationIn, activation: Activation, viewer: Exporter
) -> NewDestinationOut:
    """Create a destination; the answer holds its signing secret, shown this once."""
    try:
        created = activation.deliveries.create_destination(body.name, body.url, viewer.user)
    except DestinationConflict as err:
        raise HTTPException(409, str(err)) from None
    except DestinationError as err:
        raise HTTPException(422, str(err)) from None
    out = DestinationOut.model_validate(created.destination)
    return NewDestinationOut(**out.model_dump(), secret=created.secret)


@router.delete("/api/destinations/{destination_id}", status_code=204)
def delete_destination(
    destination_id: RowId, activation: Activation, _viewer: Exporter
) -> Response:
    """Delete a destination and its delivery history."""
    try:
        activation.deliveries.delete_destination(destination_id)
    except NotFound as err:
        raise _not_found(err) from None
    return Response(status_code=204)
