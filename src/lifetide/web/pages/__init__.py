"""The Studio's HTML pages, and the static files they use."""

from __future__ import annotations

from fastapi import APIRouter

from lifetide.web.pages import (
    admin,
    auth,
    customers,
    dashboards,
    destinations,
    journeys,
    segments,
    uploads,
)
from lifetide.web.pages.assets import assets_router, check_vendor_files


def studio_router() -> APIRouter:
    """Every Studio page and /static; logs what to run if the front-end packages are missing."""
    check_vendor_files()
    router = APIRouter(include_in_schema=False)
    # uploads before segments: /segments/upload is not /segments/{segment_id}.
    parts = (
        auth.router,
        uploads.router,
        segments.router,
        customers.router,
        journeys.router,
        dashboards.router,
        destinations.router,
        admin.router,
    )
    for part in parts:
        router.include_router(part)
    router.include_router(assets_router())
    return router
