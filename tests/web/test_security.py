"""Who may ask what: sessions, API tokens, CSRF, redirects and security headers, in process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Form, Response
from fastapi.testclient import TestClient

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.settings import Settings, load_settings
from lifetide.web.app import create_app
from lifetide.web.security import (
    SESSION_COOKIE,
    ApiViewer,
    LoginRequired,
    Viewer,
    app_accounts,
    clear_session_cookie,
    page_viewer,
    require,
    safe_next,
    set_session_cookie,
)
from tests.web.helpers import signed_in

Users = dict[str, tuple[str, str]]
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-eval'"
)


def with_test_routes(web: FastAPI) -> FastAPI:
    """Routes using the dependencies the way pages and forms will."""

    @web.post("/test/form")
    def form(viewer: ApiViewer, note: Annotated[str, Form()]) -> dict[str, str]:
        return {"email": viewer.user.email, "note": note}

    @web.get("/test/page")
    def page(viewer: Annotated[Viewer, Depends(page_viewer)]) -> dict[str, str]:
        return {"email": viewer.user.email}

    @web.post("/test/page")
    def page_form(viewer: Annotated[Viewer, Depends(page_viewer)]) -> dict[str, str]:
        return {"email": viewer.user.email}

    @web.get("/test/export")
    def export(viewer: Annotated[Viewer, Depends(require("segments.export"))]) -> dict[str, str]:
        return {"email": viewer.user.email}

    @web.get("/test/export-page")
    def export_page(
        viewer: Annotated[Viewer, Depends(require("segments.export", page=True))],
    ) -> dict[str, str]:
        return {"email": viewer.user.email}

    @web.post("/test/sign-out")
    def sign_out(viewer: ApiViewer) -> Response:
        response = Response(status_code=204)
        clear_session_cookie(response)
        return response

    return web


@pytest.fixture
def client(app: Lifetide) -> Iterator[TestClient]:
    with TestClient(with_test_routes(create_app(app))) as test_client:
        yield test_client


@pytest.fixture
def token(client: TestClient, studio_users: Users) -> str:
    email, password = studio_users["marketer"]
    csrf = signed_in(client, email, password)
    created = client.post("/api/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf})
    client.cookies.clear()
    return str(created.json()["token"])


def test_health_answers_without_sign_in_and_carries_security_headers(client: TestClient) -> None:
    reply = client.get("/health")
    assert reply.status_code == 200 and reply.json()["status"] == "ok"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["referrer-policy"] == "same-origin"
    assert reply.headers["content-security-policy"] == CSP


def test_the_api_and_its_description_need_a_sign_in(client: TestClient) -> None:
    for path in ("/api/users", "/api/tokens", "/openapi.json"):
        reply = client.get(path)
        assert reply.status_code == 401, path
        assert reply.json() == {"detail": "sign in or send an API token"}
        assert reply.headers["www-authenticate"] == "Bearer"
        assert reply.headers["x-frame-options"] == "DENY"
    assert client.post("/api/tokens", json={"name": "x"}).status_code == 401
    for path in ("/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404


def test_pages_redirect_to_login_with_where_to_go_next(client: TestClient) -> None:
    reply = client.get("/docs", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/login?next=/docs"
    reply = client.get("/test/page?segment=3&tab=a b", follow_redirects=False)
    assert reply.status_code == 303
    location = httpx.URL(reply.headers["location"])
    assert location.path == "/login"
    assert location.params["next"] == "/test/page?segment=3&tab=a%20b"  # the URL as asked
    reply = client.get("/test/export-page", follow_redirects=False)
    assert reply.headers["location"] == "/login?next=/test/export-page"


def test_signed_in_users_read_the_api_description(client: TestClient, studio_users: Users) -> None:
    signed_in(client, *studio_users["analyst"])
    schema = client.get("/openapi.json").json()
    assert "/api/users" in schema["paths"] and "/api/tokens/{token_id}" in schema["paths"]
    assert not any(path.startswith(("/v1/", "/docs", "/openapi")) for path in schema["paths"])
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/users/{user_id}" in page.text and "<script" not in page.text
    assert "href=/openapi.json" in page.text


def test_cookie_changes_need_the_csrf_token(client: TestClient, studio_users: Users) -> None:
    csrf = signed_in(client, *studio_users["analyst"])
    refused = client.post("/api/tokens", json={"name": "x"})
    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF token missing or wrong"}
    wrong = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf[:-1]})
    assert wrong.status_code == 403
    odd = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "é".encode()})
    assert odd.status_code == 403
    assert (
        client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code
        == 201
    )
    # Reading needs none.
    assert client.get("/api/tokens").status_code == 200


def test_forms_may_send_the_csrf_token_as_a_field(client: TestClient, studio_users: Users) -> None:
    csrf = signed_in(client, *studio_users["analyst"])
    assert client.post("/test/form", data={"note": "hi"}).status_code == 403
    assert client.post("/test/form", data={"note": "hi", "csrf_token": "nope"}).status_code == 403
    posted = client.post("/test/form", data={"note": "hi", "csrf_token": csrf})
    assert posted.status_code == 200 and posted.json() == {
        "email": "analyst@example.com",
        "note": "hi",
    }
    assert client.post("/test/page", data={"csrf_token": "nope"}).status_code == 403
    assert client.post("/test/page", data={"csrf_token": csrf}).status_code == 200
    multipart = client.post(
        "/test/form", data={"note": "hi", "csrf_token": csrf}, files={"f": ("a.txt", b"x")}
    )
    assert multipart.status_code == 200


def test_bearer_tokens_need_no_csrf_token(client: TestClient, token: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    posted = client.post("/test/form", data={"note": "hi"}, headers=bearer)
    assert posted.status_code == 200
    assert "set-cookie" not in posted.headers
    # Past the CSRF check; refused only because minting tokens needs a Studio sign-in.
    refused = client.post("/api/tokens", json={"name": "from a script"}, headers=bearer)
    assert refused.status_code == 403
    assert "CSRF" not in refused.json()["detail"]


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        ("Bearer ltk_unknown", "API token unknown or revoked"),
        ("Bearer lt_wk_a-write-key", "API token unknown or revoked"),
        ("Basic dXNlcjpwdw==", "Authorization must be 'Bearer <API token>'"),
        ("Bearer ", "Authorization must be 'Bearer <API token>'"),
    ],
)
def test_bad_authorization_is_refused(client: TestClient, authorization: str, detail: str) -> None:
    reply = client.get("/api/tokens", headers={"Authorization": authorization})
    assert reply.status_code == 401 and reply.json() == {"detail": detail}


def test_a_revoked_token_is_refused(client: TestClient, token: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    [listed] = client.get("/api/tokens", headers=bearer).json()
    assert client.delete(f"/api/tokens/{listed['id']}", headers=bearer).status_code == 204
    assert client.get("/api/tokens", headers=bearer).status_code == 401


def test_role_checks_name_the_refused_action(client: TestClient, studio_users: Users) -> None:
    signed_in(client, *studio_users["analyst"])
    refused = client.get("/test/export")
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "your role, analyst, may not export segments or push them to destinations"
    }
    signed_in(client, *studio_users["marketer"])
    assert client.get("/test/export").json() == {"email": "marketer@example.com"}
    assert client.get("/test/export-page").status_code == 200


def test_require_refuses_unknown_actions() -> None:
    with pytest.raises(ValueError, match=r"unknown action 'segments\.delete'"):
        require("segments.delete")


def test_each_use_refreshes_the_session_cookie(client: TestClient, studio_users: Users) -> None:
    csrf = signed_in(client, *studio_users["analyst"])
    cookie = client.get("/api/tokens").headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for part in ("HttpOnly", "Max-Age=43200", "Path=/", "SameSite=lax"):
        assert part in cookie
    assert "Secure" not in cookie
    assert len(client.cookies.jar) == 1  # the refreshed cookie replaced the helper's
    # A response that clears the cookie itself is left alone.
    out = client.post("/test/sign-out", headers={"X-CSRF-Token": csrf})
    [cleared] = out.headers.get_list("set-cookie")
    assert cleared.startswith(f'{SESSION_COOKIE}="";') and "Max-Age=0" in cleared
    assert len(client.cookies.jar) == 0
    assert client.get("/health").headers.get("set-cookie") is None


def test_sessions_expire_and_disabled_users_are_signed_out(
    settings: Settings, studio_users: Users
) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 22, 9, tzinfo=dt.UTC))
    with Lifetide(settings, clock) as lifetide, TestClient(create_app(lifetide)) as client:
        signed_in(client, *studio_users["analyst"])
        assert client.get("/api/tokens").status_code == 200
        clock.advance(dt.timedelta(hours=11, minutes=59))
        assert client.get("/api/tokens").status_code == 200  # slides
        clock.advance(dt.timedelta(hours=12))
        assert client.get("/api/tokens").status_code == 401
        assert client.get("/docs", follow_redirects=False).status_code == 303
        signed_in(client, *studio_users["analyst"])
        accounts = app_accounts(client.app)  # type: ignore[arg-type]
        user = accounts.user_by_email(studio_users["analyst"][0])
        assert user is not None
        accounts.disable(user.id)
        assert client.get("/api/tokens").status_code == 401


def test_cookie_flags_follow_the_settings() -> None:
    cases = [
        (load_settings(env="test"), False),
        (load_settings(env="test", cookie_secure=True), True),
        (load_settings(env="production", secret_key="s" * 40), True),
        (load_settings(env="production", secret_key="s" * 40, cookie_secure=False), False),
        (load_settings(env="development", session_hours=2), False),
    ]
    for settings, secure in cases:
        response = Response()
        set_session_cookie(response, "tok", settings)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=tok;")
        assert ("; Secure" in cookie) is secure
        assert f"Max-Age={settings.session_hours * 3600}" in cookie
    with pytest.raises(ValueError, match="session_hours"):
        load_settings(session_hours=0)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/segments/3?tab=members", "/segments/3?tab=members"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("segments", "/"),
    ],
)
def test_safe_next_keeps_redirects_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_login_required_names_the_page() -> None:
    assert LoginRequired("/segments").next_url == "/segments"
