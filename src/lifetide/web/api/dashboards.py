"""Routes of the dashboards: overview, one journey, one experiment, as JSON or one chart as CSV.

Every route takes the period as `range` (today, 7d, 30d, 90d) or `start` and `end` dates, and
`format=csv&chart=<name>` for one chart's table as a download. Reading needs any signed-in user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from lifetide.journeys.stats import journey_counts
from lifetide.journeys.store import JourneyNotFound, JourneyStore
from lifetide.measure.dashboards import Dashboards
from lifetide.measure.experiment_report import (
    UnknownExperiment,
    experiment,
    experiment_keys,
    report,
)
from lifetide.web.api.dashboard_payloads import (
    BadRange,
    Chosen,
    chart_csv,
    choose_period,
    dashboard_payload,
    experiment_payload,
)
from lifetide.web.api.journeys import lifetide_of
from lifetide.web.ids import RowId
from lifetide.web.security import ApiViewer

router = APIRouter(prefix="/api/dashboards", tags=["dashboards"])

Range = Annotated[str | None, Query(alias="range", description="today, 7d, 30d or 90d")]
Day = Annotated[str | None, Query(description="YYYY-MM-DD, inclusive")]
Format = Annotated[str, Query(alias="format", pattern="^(json|csv)$")]
Chart = Annotated[str | None, Query(max_length=32)]


@dataclass(frozen=True)
class BoardQuery:
    """What every dashboard route is asked: the period, and JSON or one chart as CSV."""

    range: str | None
    start: str | None
    end: str | None
    format: str
    chart: str | None

    @property
    def names_a_period(self) -> bool:
        """Whether the request names a period at all."""
        return bool(self.range or self.start or self.end)


def board_query(
    range_: Range = None,
    start: Day = None,
    end: Day = None,
    format_: Format = "json",
    chart: Chart = None,
) -> BoardQuery:
    """The dashboard parameters of a request."""
    return BoardQuery(range_, start, end, format_, chart)


Board = Annotated[BoardQuery, Depends(board_query)]


def _chosen(request: Request, query: BoardQuery) -> Chosen:
    try:
        now = lifetide_of(request).clock.now()
        return choose_period(now, query.range, query.start, query.end)
    except BadRange as err:
        raise HTTPException(422, str(err)) from None


def _reply(payload: dict[str, Any], query: BoardQuery, name: str) -> Response:
    if query.format == "json":
        return JSONResponse(payload)
    chart = query.chart
    if not chart or chart not in payload["charts"]:
        known = ", ".join(payload["charts"])
        raise HTTPException(422, f"format=csv needs chart, one of: {known}")
    return Response(
        chart_csv(payload, chart),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{chart}.csv"'},
    )


@router.get("/overview", response_model=None)
def overview(request: Request, viewer: ApiViewer, query: Board) -> Response:
    """Every journey: funnel, attributed and incremental revenue, revenue by journey."""
    chosen = _chosen(request, query)
    board = Dashboards(lifetide_of(request)).overview(chosen.period)
    return _reply(dashboard_payload(board, chosen, "journey_id"), query, "overview")


@router.get("/journeys/{journey_id}", response_model=None)
def journey(request: Request, viewer: ApiViewer, journey_id: RowId, query: Board) -> Response:
    """One journey: customers per step now, funnel and revenue by step, its experiments."""
    app = lifetide_of(request)
    store = JourneyStore(app.sessions, app.clock)
    try:
        record = store.get(journey_id)
    except JourneyNotFound as err:
        raise HTTPException(404, str(err)) from None
    chosen = _chosen(request, query)
    payload = dashboard_payload(Dashboards(app).journey(journey_id, chosen.period), chosen, "step")
    counts = journey_counts(app.sessions, app.clock.now(), [journey_id])[journey_id]
    payload["journey"] = {"id": record.id, "name": record.name, "status": record.status}
    payload["charts"]["steps_now"] = {
        "title": "Customers per step now",
        "columns": ["step", "active", "waiting", "ended_here"],
        "rows": [[step, c.active, c.waiting, c.done] for step, c in counts.steps.items()],
    }
    experiments = []
    for key, customers in experiment_keys(app, journey_id):
        try:
            title = experiment(app, key).title
        except UnknownExperiment:
            title = key  # a split step since removed from the journey
        experiments.append({"key": key, "title": title, "customers": customers})
    payload["experiments"] = experiments
    return _reply(payload, query, f"journey-{journey_id}")


@router.get("/experiments/{key}", response_model=None)
def experiment_route(
    request: Request, viewer: ApiViewer, key: Annotated[str, Path(max_length=200)], query: Board
) -> Response:
    """One experiment: arms, conversion and revenue per customer, verdict, progress."""
    app = lifetide_of(request)
    # Without a period: since the experiment started.
    chosen = _chosen(request, query) if query.names_a_period else None
    try:
        result = report(app, key, chosen.period if chosen else None)
    except UnknownExperiment as err:
        raise HTTPException(404, str(err)) from None
    payload = experiment_payload(result, chosen.label if chosen else "Since it started")
    payload["query"] = chosen.query if chosen else {}
    return _reply(payload, query, key)
