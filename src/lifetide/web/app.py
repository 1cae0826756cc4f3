"""The FastAPI application: routers mounted on one Lifetide."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lifetide import __version__
from lifetide.collect.intake import Intake
from lifetide.collect.sources import WriteKeyCache
from lifetide.context import Lifetide
from lifetide.web import tracking


def create_app(lifetide: Lifetide) -> FastAPI:
    """The web application for `lifetide`; its stores open when it starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.lifetide = lifetide
        app.state.intake = Intake(lifetide.journal, WriteKeyCache(lifetide.sources), lifetide.clock)
        yield

    app = FastAPI(title="Lifetide", version=__version__, lifespan=lifespan)
    app.router.routes.extend(tracking.routes)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Liveness: answers without authentication."""
        return {"status": "ok", "version": __version__}

    return app
