"""Helpers for tests of the Studio's web layer."""

from __future__ import annotations

from typing import cast

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lifetide.web.security import SESSION_COOKIE, app_accounts


def signed_in(client: TestClient, email: str, password: str) -> str:
    """Sign `email` in on `client` (a started TestClient): sets the cookie, gives the CSRF token."""
    accounts = app_accounts(cast(FastAPI, client.app))
    user = accounts.authenticate(email, password, ip="testclient")
    token, session = accounts.start_session(user, "testclient", "pytest")
    # The domain the cookie jar gives cookies the server sets, so a refreshed cookie replaces
    # this one instead of sitting beside it.
    host = client.base_url.host
    client.cookies.set(SESSION_COOKIE, token, domain=host if "." in host else f"{host}.local")
    return session.csrf_token
