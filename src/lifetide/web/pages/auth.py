"""Signing in and out of the Studio: the login form and the sign-out button's target.

The login form has its own CSRF protection, as there is no session yet to hold a token: a
random value in a cookie and the same value in a hidden field (double submit). Another site
can make a browser post the form, but cannot read or set the cookie to match.
"""

from __future__ import annotations

import hmac
import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifetide.accounts.errors import SignInRefused, Throttled
from lifetide.web.security import (
    SESSION_COOKIE,
    PageViewer,
    accounts_of,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
    settings_of,
)
from lifetide.web.templating import flash, render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "lifetide_login_csrf"
HOME = "/segments"


def _signed_in(request: Request) -> bool:
    token = request.cookies.get(SESSION_COOKIE)
    return bool(token) and accounts_of(request).session_user(token or "") is not None


def _destination(next_url: str | None) -> str:
    target = safe_next(next_url)
    return HOME if target == "/" else target


def _login_page(
    request: Request, next_url: str | None, email: str = "", error: str = "", status: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        None,
        status_code=status,
        login_csrf=token,
        next_url=safe_next(next_url) if next_url else "",
        email=email,
        error=error,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=settings_of(request).resolved_cookie_secure,
    )
    return response


@router.get("/")
def home() -> RedirectResponse:
    """The Studio opens on the segment list."""
    return RedirectResponse(HOME, status_code=303)


@router.get("/login", response_model=None)
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form; someone already signed in goes straight on."""
    if _signed_in(request):
        return RedirectResponse(_destination(next), status_code=303)
    return _login_page(request, next)


@router.post("/login", response_model=None)
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the e-mail and password; on success start a session and go to `next`."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(
            request, next, email, "The sign-in form expired. Please try again.", status=403
        )
    if not email.strip() or not password:
        return _login_page(request, next, email, "Enter your e-mail and password.", status=400)
    accounts = accounts_of(request)
    ip = request.client.host if request.client else None
    try:
        user = accounts.authenticate(email, password, ip)
    except Throttled as err:
        minutes = max(1, math.ceil(err.retry_after / 60))
        message = f"Too many attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        return _login_page(request, next, email, message, status=429)
    except SignInRefused:
        return _login_page(request, next, email, "Wrong e-mail or password.", status=401)
    token, _session = accounts.start_session(user, ip, request.headers.get("user-agent"))
    response = RedirectResponse(_destination(next), status_code=303)
    set_session_cookie(response, token, settings_of(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, viewer: PageViewer) -> RedirectResponse:
    """End this browser's session (the form carries the session's CSRF token)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts_of(request).end_session(token)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, settings_of(request))
    flash(request, response, "You are signed out.", "info")
    return response
