from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.web.app import create_app
from lifetide.web.pages.auth import LOGIN_CSRF_COOKIE
from lifetide.web.security import SESSION_COOKIE
from tests.web.pages.conftest import SignIn, Users

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def client(app: Lifetide, studio_users: Users) -> Iterator[TestClient]:
    """A Studio on an empty warehouse (signing in needs no shop), its clock standing still."""
    app.clock = ManualClock(T0)
    with TestClient(create_app(app), follow_redirects=False) as test_client:
        yield test_client


def _form_token(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    assert client.cookies.get(LOGIN_CSRF_COOKIE) == found.group(1)
    return found.group(1)


def _log_in(client: TestClient, email: str, password: str, next_url: str = "") -> object:
    token = _form_token(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_url},
    )


def test_home_goes_to_the_segments(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/segments"


def test_the_login_form_has_its_own_csrf_token(client: TestClient) -> None:
    page = client.get("/login?next=/customers")

    assert page.status_code == 200
    assert 'name="password"' in page.text
    assert 'name="next" value="/customers"' in page.text
    cookie = page.headers["set-cookie"]
    assert LOGIN_CSRF_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_signing_in_starts_a_session_and_goes_to_next(
    client: TestClient, studio_users: Users
) -> None:
    response = _log_in(client, *studio_users["marketer"], next_url="/customers?q=ada")

    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == "/customers?q=ada"  # type: ignore[attr-defined]
    assert client.cookies.get(SESSION_COOKIE)
    assert client.get("/segments").status_code == 200
    # Signed in already: the form sends them on.
    assert client.get("/login").headers["location"] == "/segments"


def test_next_must_be_a_path_on_this_site(client: TestClient, studio_users: Users) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client.cookies.clear()
        response = _log_in(client, *studio_users["marketer"], next_url=target)
        assert response.headers["location"] == "/segments"  # type: ignore[attr-defined]


def test_a_wrong_password_says_so(client: TestClient, studio_users: Users) -> None:
    email, _password = studio_users["marketer"]
    response = _log_in(client, email, "not-the-password")

    assert response.status_code == 401  # type: ignore[attr-defined]
    assert "Wrong e-mail or password." in response.text  # type: ignore[attr-defined]
    assert f'value="{email}"' in response.text  # type: ignore[attr-defined]
    assert not client.cookies.get(SESSION_COOKIE)


def test_a_missing_or_wrong_form_token_is_refused(client: TestClient, studio_users: Users) -> None:
    email, password = studio_users["marketer"]
    _form_token(client)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": "forged"}
    )

    assert response.status_code == 403
    assert "The sign-in form expired" in response.text
    client.cookies.clear()
    no_cookie = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": "x"}
    )
    assert no_cookie.status_code == 403
    assert not client.cookies.get(SESSION_COOKIE)


def test_too_many_failures_are_throttled(client: TestClient, studio_users: Users) -> None:
    email, password = studio_users["analyst"]
    for _ in range(5):
        assert _log_in(client, email, "wrong").status_code == 401  # type: ignore[attr-defined]

    response = _log_in(client, email, password)

    assert response.status_code == 429  # type: ignore[attr-defined]
    # The shop's clock stands still: the first failure leaves the window in 15 minutes.
    assert "Too many attempts. Try again in 15 minutes." in response.text  # type: ignore[attr-defined]
    assert not client.cookies.get(SESSION_COOKIE)


def test_sign_out_ends_the_session(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("marketer")
    page = client.get("/segments")
    assert 'action="/logout"' in page.text and csrf in page.text

    response = client.post("/logout", data={"csrf_token": csrf})

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert client.get("/segments").status_code == 303
    assert "You are signed out." in client.get("/login").text


def test_sign_out_needs_the_csrf_token(client: TestClient, sign_in: SignIn) -> None:
    sign_in("marketer")

    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.get("/segments").status_code == 200
