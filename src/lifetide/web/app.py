"""The FastAPI application: routers mounted on one Lifetide."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lifetide import __version__
from lifetide.collect.intake import Intake
from lifetide.collect.sources import WriteKeyCache
from lifetide.context import Lifetide
from lifetide.web import engagement, tracking
from lifetide.web.api import customers as customers_api
from lifetide.web.api import dashboards as dashboards_api
from lifetide.web.api import docs as docs_api
from lifetide.web.api import exports as exports_api
from lifetide.web.api import inbound as inbound_api
from lifetide.web.api import journeys as journeys_api
from lifetide.web.api import segments as segments_api
from lifetide.web.api import sources as sources_api
from lifetide.web.api import templates as templates_api
from lifetide.web.api import users as users_api
from lifetide.web.pages import studio_router
from lifetide.web.security import install_security


def create_app(lifetide: Lifetide) -> FastAPI:
    """The web application for `lifetide`; its stores open when it starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.lifetide = lifetide
        app.state.intake = Intake(lifetide.journal, WriteKeyCache(lifetide.sources), lifetide.clock)
        yield

    # The API's description needs a sign-in: docs_api serves it instead of FastAPI's routes.
    app = FastAPI(
        title="Lifetide",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_security(app)
    app.router.routes.extend(tracking.routes)
    app.include_router(docs_api.router)
    app.include_router(users_api.router)
    app.include_router(segments_api.router)
    app.include_router(sources_api.router)
    app.include_router(exports_api.router)
    app.include_router(customers_api.router)
    app.include_router(journeys_api.router)
    app.include_router(dashboards_api.router)
    app.include_router(templates_api.router)
    app.include_router(inbound_api.router)
    # Public: a message's open pixel, click redirect, unsubscribe and preference links.
    app.include_router(engagement.router)
    app.include_router(studio_router())

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Liveness: answers without authentication."""
        return {"status": "ok", "version": __version__}

    return app
