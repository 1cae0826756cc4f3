"""`/v1/*`: the Segment-compatible tracking API. Thin: the Intake decides."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from lifetide.collect.intake import Intake

router = APIRouter(prefix="/v1", tags=["tracking"])


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def _receive(
    request: Request,
    call_type: str | None,
    authorization: str | None,
    content_encoding: str | None,
) -> Response:
    reply = await _intake(request).receive(
        await request.body(),
        call_type=call_type,
        authorization=authorization,
        content_encoding=content_encoding,
    )
    return Response(reply.json(), status_code=reply.status, media_type="application/json")


AuthHeader = Annotated[str | None, Header()]
EncodingHeader = Annotated[str | None, Header()]


@router.post("/batch", summary="Send a batch of Segment messages")
async def batch(
    request: Request, authorization: AuthHeader = None, content_encoding: EncodingHeader = None
) -> Response:
    """Accept `{"batch": [...]}`; 200 once every message is durable."""
    return await _receive(request, None, authorization, content_encoding)


def _single(call_type: str) -> Callable[..., Awaitable[Response]]:
    async def endpoint(
        request: Request, authorization: AuthHeader = None, content_encoding: EncodingHeader = None
    ) -> Response:
        return await _receive(request, call_type, authorization, content_encoding)

    endpoint.__doc__ = f"Accept one {call_type} call; 200 once it is durable."
    endpoint.__name__ = call_type
    return endpoint


for _call in ("track", "identify", "page", "screen", "group", "alias"):
    router.add_api_route(
        f"/{_call}", _single(_call), methods=["POST"], summary=f"Send a {_call} call"
    )  # type: ignore[arg-type]
