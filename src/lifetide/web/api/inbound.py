"""`/inbound/*`: bounce and complaint reports from mail servers and e-mail providers.

`POST /inbound/dsn` takes one raw message as a mail server returns it (an RFC 3464 delivery
status notification, or an RFC 5965 abuse report); `POST /inbound/bounces` takes a provider's
JSON webhook events. Both need an API token (`Authorization: Bearer ltk_...`) of a user who may
manage sources (admins): a mailbox poller or a provider's webhook configuration holds it. Each
answers 202 with how many reports were applied (see messaging/feedback.apply_reports).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from lifetide.channels.bounces import parse_dsn, parse_provider_event
from lifetide.context import Lifetide
from lifetide.messaging.bounce_reports import apply_reports
from lifetide.web.security import Viewer, require

router = APIRouter(prefix="/inbound", tags=["inbound"])
MAX_BYTES = 10 * 1024 * 1024
DSN_TYPES = ("message/rfc822", "text/plain", "multipart/report", "message/delivery-status")


async def token_holder(viewer: Annotated[Viewer, Depends(require("sources.manage"))]) -> Viewer:
    """The API token's user; a browser session is refused: these routes are for machines."""
    if viewer.session is not None:
        raise HTTPException(403, "send an API token (Authorization: Bearer ltk_...)")
    return viewer


Integration = Annotated[Viewer, Depends(token_holder)]


class AppliedOut(BaseModel):
    """How many reports concerned a send or an address and were applied."""

    applied: int
    reports: int


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BYTES:
        raise HTTPException(413, f"the body is larger than {MAX_BYTES // 2**20} MB")
    if not body.strip():
        raise HTTPException(400, "the body is empty")
    return body


async def _apply(request: Request, reports: list[Any], source: str) -> AppliedOut:
    lifetide: Lifetide = request.app.state.lifetide
    applied = await run_in_threadpool(apply_reports, lifetide, reports, source)
    return AppliedOut(applied=applied, reports=len(reports))


@router.post(
    "/dsn",
    status_code=202,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in DSN_TYPES},
        }
    },
)
async def inbound_dsn(request: Request, _viewer: Integration) -> AppliedOut:
    """One raw bounce or complaint message (RFC 3464 DSN, RFC 5965 ARF): suppress and flag."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in DSN_TYPES:
        raise HTTPException(
            415, f"send the raw message as one of: {', '.join(DSN_TYPES)} (got {content_type!r})"
        )
    body = await _body(request)
    try:
        reports = await run_in_threadpool(parse_dsn, body)
    except ValueError as err:  # NotABounce, or a message that cannot be read
        raise HTTPException(422, f"not a bounce or complaint report: {err}") from None
    return await _apply(request, list(reports), "dsn")


@router.post("/bounces", status_code=202)
async def inbound_bounces(request: Request, _viewer: Integration) -> AppliedOut:
    """An e-mail provider's bounce and complaint webhook events (JSON): suppress and flag."""
    body = await _body(request)
    try:
        payload = json.loads(body)
    except UnicodeDecodeError:
        raise HTTPException(400, "the body is not UTF-8 JSON") from None
    except json.JSONDecodeError as err:
        raise HTTPException(
            400, f"the body is not valid JSON: line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None
    try:
        reports = parse_provider_event(payload)
    except ValueError as err:  # NotABounce, or an event missing what a report needs
        raise HTTPException(422, f"not a bounce or complaint event: {err}") from None
    return await _apply(request, list(reports), "provider webhook")
