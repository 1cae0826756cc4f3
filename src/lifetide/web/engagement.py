"""The public links a message carries: open pixel, click redirect, unsubscribe, preferences.

No sign-in and no CSRF token: the signed token in the path is the authority, and it says which
send, profile, channel and address it is for (see messaging/tokens.py). These routes never use
the Studio's viewer dependencies, so the session and CSRF checks do not apply to them.
- The pixel always answers the same GIF, valid token or not: no way to probe tokens.
- A click goes only to the http(s) address its token signed; anything else is a 404 page, so
  the redirect can never be pointed elsewhere.
- `POST /u/{token}` with `List-Unsubscribe=One-Click` is RFC 8058's one-click unsubscribe, which
  mail clients send without cookies.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from lifetide.context import Lifetide
from lifetide.messaging import feedback
from lifetide.messaging.suppressions import CHANNELS
from lifetide.messaging.tokens import BadToken, LinkSigner
from lifetide.web.templating import render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
# The smallest transparent GIF: 1x1, one transparent colour.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}
ONE_CLICK = "One-Click"
CHANNEL_NAMES = {"email": "E-mail", "sms": "Text messages (SMS)", "push": "Push notifications"}


@dataclass(frozen=True)
class UnsubscribeLink:
    """What an unsubscribe token stands for."""

    key: str | None
    profile_id: int
    channel: str
    address: str | None


def _lifetide(request: Request) -> Lifetide:
    lifetide: Lifetide = request.app.state.lifetide
    return lifetide


def signer_of(request: Request) -> LinkSigner:
    """The link signer of the app serving `request` (its secret key)."""
    return LinkSigner(_lifetide(request).settings.secret_key.get_secret_value())


def _unsubscribe_link(request: Request, token: str) -> UnsubscribeLink | None:
    try:
        data = signer_of(request).verify("unsubscribe", token)
    except BadToken:
        return None
    profile, channel = data.get("p"), data.get("c")
    key, address = data.get("k"), data.get("a")
    if not isinstance(profile, int) or isinstance(profile, bool) or channel not in CHANNELS:
        return None
    return UnsubscribeLink(
        key=key if isinstance(key, str) else None,
        profile_id=profile,
        channel=str(channel),
        address=address if isinstance(address, str) and address else None,
    )


def _public_page(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    response = render(
        request,
        template,
        None,
        status_code=status_code,
        # The sender's name, as the customer knows the shop from its e-mails.
        shop_name=_lifetide(request).settings.shop_display_name or "Our shop",
        channel_names=CHANNEL_NAMES,
        **context,
    )
    response.headers.update(NO_STORE)
    return response


def _gone(request: Request) -> HTMLResponse:
    return _public_page(
        request,
        "public/message.html",
        status_code=404,
        heading="This link does not work",
        text="It may have been copied incompletely. Open it again from the message itself.",
    )


@router.get("/t/o/{token}")
def open_pixel(request: Request, token: str) -> Response:
    """A 1x1 transparent GIF; a valid token records that the message was opened."""
    try:
        key = signer_of(request).verify("open", token).get("k")
    except BadToken:
        key = None
    if isinstance(key, str):
        try:
            feedback.record_open(_lifetide(request), key)
        except Exception:
            # The image must load either way; a failure here is ours to fix, not the reader's.
            log.exception("recording the open of send %s failed", key)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


def _safe_target(url: Any) -> str | None:
    if not isinstance(url, str) or any(c in url for c in "\r\n\t"):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


@router.get("/t/c/{token}", response_model=None)
def click(request: Request, token: str) -> Response:
    """Record the click and redirect (302) to the address the token signed."""
    try:
        data = signer_of(request).verify("click", token)
    except BadToken:
        return _gone(request)
    target = _safe_target(data.get("u"))
    if target is None:
        return _gone(request)
    key = data.get("k")
    if isinstance(key, str):
        try:
            feedback.record_click(_lifetide(request), key, target)
        except Exception:
            # The customer still gets to the shop; the click is lost, and logged.
            log.exception("recording a click of send %s failed", key)
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


def _preferences_page(
    request: Request,
    token: str,
    link: UnsubscribeLink,
    *,
    saved: bool = False,
    unsubscribed: bool = False,
) -> HTMLResponse:
    choices = feedback.preferences(_lifetide(request), link.profile_id, link.channel, link.address)
    return _public_page(
        request,
        "public/preferences.html",
        token=token,
        link=link,
        choices=choices,
        saved=saved,
        unsubscribed=unsubscribed,
    )


@router.get("/u/{token}", response_model=None)
def preference_page(request: Request, token: str) -> Response:
    """The preference page: the customer's channels, to turn on or off."""
    link = _unsubscribe_link(request, token)
    if link is None:
        return _gone(request)
    return _preferences_page(request, token, link)


@router.post("/u/{token}", response_model=None)
async def one_click_unsubscribe(request: Request, token: str) -> Response:
    """RFC 8058 one-click unsubscribe from the link's channel: 200, and again 200."""
    link = _unsubscribe_link(request, token)
    if link is None:
        return _gone(request)
    form = await request.form()
    if form.get("List-Unsubscribe") != ONE_CLICK:
        return _public_page(
            request,
            "public/message.html",
            status_code=400,
            heading="Nothing was changed",
            text="A one-click unsubscribe sends the form field List-Unsubscribe=One-Click.",
        )
    await run_in_threadpool(
        feedback.unsubscribe,
        _lifetide(request),
        link.profile_id,
        link.channel,
        link.address,
        source="one-click",
        key=link.key,
    )
    return _public_page(
        request,
        "public/message.html",
        heading="You are unsubscribed",
        text=f"You will get no more marketing {_channel_words(link.channel)} from us.",
    )


def _channel_words(channel: str) -> str:
    return {"email": "e-mail", "sms": "text messages", "push": "notifications"}.get(
        channel, channel
    )


@router.post("/u/{token}/preferences", response_model=None)
async def save_preferences(request: Request, token: str) -> Response:
    """Apply the preference page's choices, then show the page again with a confirmation."""
    link = _unsubscribe_link(request, token)
    if link is None:
        return _gone(request)
    form = await request.form()
    shown = [c for c in str(form.get("channels") or "").split(",") if c in CHANNELS]
    if link.channel not in shown:
        shown.insert(0, link.channel)
    everything_off = form.get("all") == "unsubscribe"
    wanted = {c: not everything_off and form.get(f"channel_{c}") == "on" for c in shown}
    await run_in_threadpool(
        feedback.set_preferences,
        _lifetide(request),
        link.profile_id,
        link.channel,
        link.address,
        wanted,
        source="preference page",
        key=link.key,
    )
    return await run_in_threadpool(
        _preferences_page, request, token, link, saved=True, unsubscribed=everything_off
    )
