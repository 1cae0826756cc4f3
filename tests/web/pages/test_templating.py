from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lifetide.accounts.service import accounts_for
from lifetide.context import Lifetide
from lifetide.settings import load_settings
from lifetide.web.app import create_app
from lifetide.web.templating import (
    FLASH_COOKIE,
    money,
    navigation,
    number,
    percent,
    relative_time,
    schedule,
    templates,
)
from tests.web.helpers import signed_in

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def test_relative_time() -> None:
    assert relative_time(None, NOW) == "never"
    assert relative_time(NOW - dt.timedelta(seconds=10), NOW) == "just now"
    assert relative_time(NOW - dt.timedelta(minutes=5), NOW) == "5 minutes ago"
    assert relative_time(NOW - dt.timedelta(hours=1), NOW) == "1 hour ago"
    assert relative_time(NOW - dt.timedelta(days=3), NOW) == "3 days ago"
    assert relative_time(NOW - dt.timedelta(days=400), NOW) == "1 year ago"
    assert relative_time(NOW + dt.timedelta(hours=2), NOW) == "in 2 hours"
    # Naive times from SQLite are UTC.
    assert relative_time(dt.datetime(2026, 6, 1, 11, 0), NOW) == "1 hour ago"


def test_number_formats() -> None:
    assert number(1234567) == "1,234,567"
    assert number(None) == "—"
    assert number(2.345, 2) == "2.35"
    assert percent(0.3701) == "37.0%"
    assert percent(None) == "—"
    assert money(1234.5) == "$1,234.50"
    assert money(-3) == "-$3.00"
    assert schedule(15) == "15 minutes"
    assert schedule(60) == "hour"
    assert schedule(360) == "6 hours"
    assert schedule(1440) == "day"
    assert schedule(None) == "never"


def test_navigation_by_role() -> None:
    admin = navigation("/segments/3", "admin")
    assert [i.label for i in admin] == [
        "Segments",
        "Customers",
        "Journeys",
        "Dashboards",
        "Destinations",
        "Users",
        "Tracking sources",
        "Account",
    ]
    assert [i.active for i in admin] == [True, False, False, False, False, False, False, False]
    assert [i.section for i in admin] == ["", "", "", "", "", "Admin", "Admin", "Settings"]
    assert navigation("/admin/sources", "admin")[6].active
    assert navigation("/dashboards/experiments/global-holdout", "admin")[3].active
    marketer = navigation("/destinations", "marketer")
    assert [i.label for i in marketer] == [
        "Segments",
        "Customers",
        "Journeys",
        "Dashboards",
        "Destinations",
        "Account",
    ]
    assert [i.active for i in marketer] == [False, False, False, False, True, False]
    # Everyone has an account page (their API tokens); analysts cannot push to destinations.
    analyst = navigation("/account/tokens", "analyst")
    assert [i.label for i in analyst] == [
        "Segments",
        "Customers",
        "Journeys",
        "Dashboards",
        "Account",
    ]
    assert [i.active for i in analyst] == [False, False, False, False, True]
    assert navigation("/journeys/4", "analyst")[2].active
    assert navigation("/customers", "analyst")[1].active


@pytest.mark.parametrize("secure", [False, True])
def test_the_flash_cookie_is_short_lived_http_only_and_secure_like_the_session(
    tmp_path: Path, secure: bool
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", env="test", cookie_secure=secure)
    with Lifetide(settings) as app:
        accounts_for(app).create_user("ann@example.com", "ann-password-1", "analyst")
        with TestClient(create_app(app), follow_redirects=False) as client:
            csrf = signed_in(client, "ann@example.com", "ann-password-1")
            # Signing out leaves the message "You are signed out." for the login page.
            response = client.post("/logout", data={"csrf_token": csrf})

    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(FLASH_COOKIE)]
    assert "Max-Age=60" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert ("Secure" in cookie) is secure


def test_templates_escape_what_they_show() -> None:
    assert templates.env.autoescape is not False
    rendered = templates.env.from_string("{{ x }}").render(x="<script>")
    assert rendered == "&lt;script&gt;"
