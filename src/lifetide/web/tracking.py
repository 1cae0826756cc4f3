"""`/v1/*`: the Segment-compatible tracking API. Thin: the Intake decides.

These are plain Starlette routes, not FastAPI endpoints: at 500+ requests a second the
dependency injection and parameter validation FastAPI adds cost CPU the ingest path needs.
The API is Segment's and is documented in docs/api.md rather than in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lifetide.collect.intake import Intake

CALL_TYPES = ("track", "identify", "page", "screen", "group", "alias")


def _endpoint(call_type: str | None) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        intake: Intake = request.app.state.intake
        reply = await intake.receive(
            await request.body(),
            call_type=call_type,
            authorization=request.headers.get("authorization"),
            content_encoding=request.headers.get("content-encoding"),
        )
        return Response(reply.json(), status_code=reply.status, media_type="application/json")

    return receive


routes = [
    Route("/v1/batch", _endpoint(None), methods=["POST"]),
    *(Route(f"/v1/{call}", _endpoint(call), methods=["POST"]) for call in CALL_TYPES),
]
