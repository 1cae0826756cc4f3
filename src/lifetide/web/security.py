"""Who is asking: sessions and API tokens as FastAPI dependencies, CSRF, and security headers.

A browser signs in with a cookie holding a random session token; a script sends
`Authorization: Bearer <API token>`. Cookie requests that change something must also send
the session's CSRF token (header `X-CSRF-Token` or form field `csrf_token`), which a page of
another site cannot read; bearer requests need none, as browsers never add that header.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lifetide.accounts.roles import ACTIONS, can, check_action
from lifetide.accounts.service import Accounts, accounts_for
from lifetide.ops.models import User, UserSession
from lifetide.settings import Settings

SESSION_COOKIE = "lifetide_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    # Alpine.js evaluates its attribute expressions, hence 'unsafe-eval'; nothing off-site.
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-eval'",
    ),
)
# Where a dependency leaves a refreshed session cookie for the middleware to send.
_REFRESH_STATE = "lifetide_session_cookie"
_build_lock = threading.Lock()


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a request; `session` is None when they came with an API token."""

    user: User
    session: UserSession | None
    csrf_token: str | None

    def can(self, action: str) -> bool:
        """Whether this viewer's role allows `action`."""
        return can(self.user.role, action)


class LoginRequired(Exception):
    """A page needs a signed-in user; answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(f"sign in to see {next_url}")
        self.next_url = next_url


def accounts_of(request: Request) -> Accounts:
    """The Accounts of the app serving `request` (built once, from app.state.lifetide)."""
    return app_accounts(request.app)


def app_accounts(app: FastAPI) -> Accounts:
    """The Accounts of `app`, built the first time it is asked for; the app must have started."""
    state = app.state
    accounts: Accounts | None = getattr(state, "accounts", None)
    if accounts is None:
        with _build_lock:
            accounts = getattr(state, "accounts", None)
            if accounts is None:
                accounts = accounts_for(state.lifetide)
                state.accounts = accounts
    return accounts


def settings_of(request: Request) -> Settings:
    """The settings of the app serving `request`."""
    settings: Settings = request.app.state.lifetide.settings
    return settings


async def _viewer(request: Request) -> Viewer | None:
    accounts = accounts_of(request)
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise HTTPException(
                401,
                "Authorization must be 'Bearer <API token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        user = await run_in_threadpool(accounts.token_user, credential.strip())
        if user is None:
            raise HTTPException(
                401, "API token unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
            )
        return Viewer(user, None, None)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found = await run_in_threadpool(accounts.session_user, token)
    if found is None:
        return None
    user, session = found
    if request.method in UNSAFE_METHODS:
        await _check_csrf(request, session.csrf_token)
    # The session's expiry slid forward: so does the cookie's (see SecurityHeaders).
    refreshed = Response()
    set_session_cookie(refreshed, token, settings_of(request))
    setattr(request.state, _REFRESH_STATE, refreshed.headers["set-cookie"])
    return Viewer(user, session, session.csrf_token)


async def _check_csrf(request: Request, expected: str) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(403, "CSRF token missing or wrong")


async def api_viewer(request: Request) -> Viewer:
    """The signed-in user of an API request (cookie session or bearer token); 401 if none."""
    viewer = await _viewer(request)
    if viewer is None:
        raise HTTPException(
            401, "sign in or send an API token", headers={"WWW-Authenticate": "Bearer"}
        )
    return viewer


async def page_viewer(request: Request) -> Viewer:
    """The signed-in user of a page request; LoginRequired (a redirect to /login) if none."""
    viewer = await _viewer(request)
    if viewer is None:
        query = request.url.query
        raise LoginRequired(request.url.path + (f"?{query}" if query else ""))
    return viewer


ApiViewer = Annotated[Viewer, Depends(api_viewer)]
PageViewer = Annotated[Viewer, Depends(page_viewer)]


def require(action: str, *, page: bool = False) -> Callable[..., Awaitable[Viewer]]:
    """A dependency giving the viewer if their role allows `action`, else 403.

    With `page=True` an unauthenticated request is redirected to /login instead of a 401.
    """
    check_action(action)

    def allowed(viewer: Viewer) -> Viewer:
        if not viewer.can(action):
            raise HTTPException(403, f"your role, {viewer.user.role}, may not {ACTIONS[action]}")
        return viewer

    # Module-level aliases in the annotations: FastAPI resolves these postponed annotations
    # in this module's globals, where a local variable would not be found.
    async def allowed_page(viewer: PageViewer) -> Viewer:
        return allowed(viewer)

    async def allowed_api(viewer: ApiViewer) -> Viewer:
        return allowed(viewer)

    return allowed_page if page else allowed_api


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site (for ?next= after sign-in), else "/"."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    """Put the session token in the session cookie: HttpOnly, SameSite=Lax, Secure per settings."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        path="/",
        secure=settings.resolved_cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings | None = None) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=settings.resolved_cookie_secure if settings is not None else False,
        httponly=True,
        samesite="lax",
    )


class SecurityHeaders:
    """ASGI middleware: security headers on every response, and refreshed session cookies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers as the response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                refreshed = state.get(_REFRESH_STATE)
                # A response that sets (or clears) the cookie itself knows better.
                if refreshed and not any(
                    cookie.startswith(f"{SESSION_COOKIE}=")
                    for cookie in headers.getlist("set-cookie")
                ):
                    headers.append("set-cookie", refreshed)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: FastAPI) -> None:
    """Security headers on every response, and /login redirects for pages needing a sign-in."""

    async def to_login(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)

    app.add_exception_handler(LoginRequired, to_login)
    app.add_middleware(SecurityHeaders)
