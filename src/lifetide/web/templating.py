"""Rendering the Studio's pages: one Jinja environment, the layout's context, flash messages.

`render` gives every page what the layout needs (who is signed in, the CSRF token for forms and
for scripts, the left navigation, messages carried over a redirect), so page routes pass only
their own data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from lifetide.accounts.roles import can

if TYPE_CHECKING:
    from lifetide.web.security import Viewer

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
FLASH_COOKIE = "lifetide_flash"
FLASH_KINDS = ("success", "error", "info")


@dataclass(frozen=True)
class NavItem:
    """One entry of the left navigation."""

    label: str
    href: str
    icon: str
    section: str = ""
    active: bool = False


@dataclass(frozen=True)
class Flash:
    """A message shown once, on the page after a redirect."""

    kind: str
    text: str


def relative_time(when: dt.datetime | None, now: dt.datetime) -> str:
    """`when` as people say it: 'just now', '5 minutes ago', 'in 2 hours', 'never'."""
    if when is None:
        return "never"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    for size, unit in (
        (86400 * 365, "year"),
        (86400 * 30, "month"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if seconds >= size:
            n = round(seconds / size)
            text = f"{n} {unit}{'' if n == 1 else 's'}"
            return f"in {text}" if future else f"{text} ago"
    return "in a minute" if future else "a minute ago"


def number(value: float | int | None, digits: int = 0) -> str:
    """A number with thousands separators, or an em dash when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    """A share from 0 to 1 as a percentage."""
    if value is None or math.isnan(value):
        return "—"
    return f"{value * 100:.{digits}f}%"


def money(value: float | int | None, currency: str = "$") -> str:
    """An amount of money, with cents."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    return f"{sign}{currency}{abs(float(value)):,.2f}"


def schedule(minutes: int | None) -> str:
    """A refresh interval in words: '15 minutes', 'hour', '6 hours', 'day'."""
    if not minutes:
        return "never"
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "day" if days == 1 else f"{days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def _timestamp(value: dt.datetime | dt.date | None, fmt: str = "%b %-d, %Y %H:%M") -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime(fmt if isinstance(value, dt.datetime) else "%b %-d, %Y")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=number, percent=percent, money=money, timestamp=_timestamp, schedule=schedule
    )
    return env


templates = Jinja2Templates(env=_environment())


def navigation(path: str, role: str) -> list[NavItem]:
    """The left navigation for a viewer with `role`, marking the section `path` is in."""
    items = [
        NavItem("Segments", "/segments", "segments"),
        NavItem("Customers", "/customers", "customers"),
        NavItem("Journeys", "/journeys", "send"),
        NavItem("Dashboards", "/dashboards", "chart"),
    ]
    if can(role, "segments.export"):
        items.append(NavItem("Destinations", "/destinations", "webhook"))
    if can(role, "users.manage"):
        items.append(NavItem("Users", "/admin/users", "users", "Admin"))
    if can(role, "sources.manage"):
        items.append(NavItem("Tracking sources", "/admin/sources", "source", "Admin"))
    # Last, below any admin section: everyone's own API tokens.
    items.append(NavItem("Account", "/account", "account", "Settings"))
    return [
        NavItem(i.label, i.href, i.icon, i.section, path == i.href or path.startswith(i.href + "/"))
        for i in items
    ]


def _cookie_secure(request: Request) -> bool:
    """Whether the app's cookies are HTTPS only: the session cookie's setting."""
    return bool(request.app.state.lifetide.settings.resolved_cookie_secure)


def flash(request: Request, response: Response, text: str, kind: str = "success") -> None:
    """Show `text` once on the next page this browser renders (after a redirect).

    The cookie is HttpOnly and SameSite=Lax, and Secure when the session cookie is.
    """
    if kind not in FLASH_KINDS:
        raise ValueError(f"unknown flash kind {kind!r}; use one of {', '.join(FLASH_KINDS)}")
    payload = quote(json.dumps({"kind": kind, "text": text[:500]}))
    response.set_cookie(
        FLASH_COOKIE,
        payload,
        max_age=60,
        secure=_cookie_secure(request),
        httponly=True,
        samesite="lax",
    )


def _flashes(request: Request) -> list[Flash]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        data = json.loads(unquote(raw))
        kind, text = str(data["kind"]), str(data["text"])
    except (ValueError, KeyError, TypeError):
        return []
    return [Flash(kind if kind in FLASH_KINDS else "info", text)]


def now_of(request: Request) -> dt.datetime:
    """The current time on the app's clock."""
    clock = request.app.state.lifetide.clock
    now: dt.datetime = clock.now()
    return now


def render(
    request: Request,
    name: str,
    viewer: Viewer | None,
    /,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The template `name` rendered with the layout's context and this page's `context`."""
    now = now_of(request)
    role = viewer.user.role if viewer is not None else ""
    flashes = _flashes(request)
    base: dict[str, Any] = {
        "viewer": viewer,
        "user": viewer.user if viewer is not None else None,
        "role": role,
        "csrf_token": (viewer.csrf_token or "") if viewer is not None else "",
        "nav": navigation(request.url.path, role) if viewer is not None else [],
        "flashes": flashes,
        "now": now,
        "ago": lambda when: relative_time(when, now),
        "can": lambda action: viewer is not None and can(role, action),
    }
    response = templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code
    )
    if flashes:
        response.delete_cookie(
            FLASH_COOKIE, secure=_cookie_secure(request), httponly=True, samesite="lax"
        )
    return response
