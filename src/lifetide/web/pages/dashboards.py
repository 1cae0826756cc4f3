"""The Studio's dashboards: the overview, one journey's and one experiment's.

The pages are shells: the browser fetches the figures from /api/dashboards (the same JSON
anyone can read with a token), draws them, and fetches again every few seconds, so a page is
never more than a few seconds behind the data.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from lifetide.journeys.store import JourneyNotFound, JourneyStore
from lifetide.measure.experiment_report import UnknownExperiment, experiment
from lifetide.web.api.journeys import lifetide_of
from lifetide.web.ids import RowId
from lifetide.web.pages.journeys import journey_not_found
from lifetide.web.security import PageViewer
from lifetide.web.templating import render

router = APIRouter(include_in_schema=False)
# Seconds between fetches: the data is at most this far behind, plus one worker round.
REFRESH_SECONDS = 3


@router.get("/dashboards", response_class=HTMLResponse)
def overview_page(request: Request, viewer: PageViewer) -> HTMLResponse:
    """Every journey's figures together."""
    return render(
        request,
        "dashboards/board.html",
        viewer,
        title="Dashboards",
        source="/api/dashboards/overview",
        kind="overview",
        journey=None,
        refresh=REFRESH_SECONDS,
    )


@router.get("/dashboards/journeys/{journey_id}", response_class=HTMLResponse)
def journey_page(request: Request, viewer: PageViewer, journey_id: RowId) -> HTMLResponse:
    """One journey's figures, step by step, and its experiments."""
    app = lifetide_of(request)
    try:
        record = JourneyStore(app.sessions, app.clock).get(journey_id)
    except JourneyNotFound:
        return journey_not_found(request, viewer, journey_id, ("/dashboards", "Dashboards"))
    return render(
        request,
        "dashboards/board.html",
        viewer,
        title=record.name,
        source=f"/api/dashboards/journeys/{record.id}",
        kind="journey",
        journey=record,
        refresh=REFRESH_SECONDS,
    )


@router.get("/dashboards/experiments/{key}", response_class=HTMLResponse)
def experiment_page(
    request: Request, viewer: PageViewer, key: Annotated[str, Path(max_length=200)]
) -> HTMLResponse:
    """One experiment: its arms, intervals, verdict and progress."""
    try:
        about = experiment(lifetide_of(request), key)
    except UnknownExperiment:
        return render(
            request,
            "not_found.html",
            viewer,
            status_code=404,
            message="There is no such experiment",
            back_href="/dashboards",
            back_label="Dashboards",
        )
    return render(
        request,
        "dashboards/experiment.html",
        viewer,
        title=about.title,
        source=f"/api/dashboards/experiments/{about.key}",
        about=about,
        refresh=REFRESH_SECONDS,
    )
