"""Admin pages (users, tracking sources) and every user's own account page (API tokens).

Forms post back here with the session's CSRF token; each change redirects with a message, except
a new API token or write key, which is shown on the page this once and never again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from lifetide.accounts.errors import AccountError
from lifetide.accounts.roles import ROLES
from lifetide.collect.sources import MAX_NAME, NewSource, SourceError
from lifetide.web.api.sources import revoke_source, sources_of
from lifetide.web.api.users import SIGN_IN_NEEDED
from lifetide.web.ids import RowId
from lifetide.web.security import PageViewer, Viewer, accounts_of, require
from lifetide.web.templating import flash, render

router = APIRouter(include_in_schema=False)
Admin = Annotated[Viewer, Depends(require("users.manage", page=True))]
SourcesAdmin = Annotated[Viewer, Depends(require("sources.manage", page=True))]


def _back(request: Request, path: str, message: str, kind: str = "success") -> RedirectResponse:
    response = RedirectResponse(path, status_code=303)
    flash(request, response, message, kind)
    return response


def _users_page(
    request: Request, viewer: Viewer, error: str = "", form: dict[str, str] | None = None
) -> HTMLResponse:
    return render(
        request,
        "admin/users.html",
        viewer,
        status_code=422 if error else 200,
        users=accounts_of(request).list_users(),
        roles=ROLES,
        error=error,
        form=form or {"email": "", "name": "", "role": "marketer"},
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, viewer: Admin) -> HTMLResponse:
    """Every Studio user, with forms to add one, change a role or disable an account."""
    return _users_page(request, viewer)


@router.post("/admin/users", response_model=None)
def create_user(
    request: Request,
    viewer: Admin,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[str, Form(max_length=16)],
    name: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse | RedirectResponse:
    """Add a user; the form comes back with the reason when the input is refused."""
    try:
        user = accounts_of(request).create_user(email, password, role, name or None)
    except AccountError as err:
        return _users_page(request, viewer, str(err), {"email": email, "name": name, "role": role})
    return _back(request, "/admin/users", f"Added {user.email} as {user.role}.")


@router.post("/admin/users/{user_id}/role")
def change_role(
    request: Request, viewer: Admin, user_id: RowId, role: Annotated[str, Form(max_length=16)]
) -> RedirectResponse:
    """Give a user another role."""
    try:
        user = accounts_of(request).set_role(user_id, role)
    except AccountError as err:
        return _back(request, "/admin/users", str(err), "error")
    return _back(request, "/admin/users", f"{user.email} is now {user.role}.")


@router.post("/admin/users/{user_id}/disable")
def disable_user(request: Request, viewer: Admin, user_id: RowId) -> RedirectResponse:
    """Stop a user signing in (their sessions end and their API tokens stop working)."""
    try:
        user = accounts_of(request).disable(user_id)
    except AccountError as err:
        return _back(request, "/admin/users", str(err), "error")
    return _back(request, "/admin/users", f"{user.email} can no longer sign in.")


@router.post("/admin/users/{user_id}/enable")
def enable_user(request: Request, viewer: Admin, user_id: RowId) -> RedirectResponse:
    """Let a disabled user sign in again."""
    try:
        user = accounts_of(request).enable(user_id)
    except AccountError as err:
        return _back(request, "/admin/users", str(err), "error")
    return _back(request, "/admin/users", f"{user.email} can sign in again.")


def _sources_page(
    request: Request,
    viewer: Viewer,
    created: NewSource | None = None,
    error: str = "",
    name: str = "",
) -> HTMLResponse:
    response = render(
        request,
        "admin/sources.html",
        viewer,
        status_code=422 if error else 200,
        sources=sources_of(request).list(),
        created=created,
        # Where the SDKs should send: this server as the browser reached it.
        base_url=str(request.base_url).rstrip("/"),
        max_name=MAX_NAME,
        error=error,
        name=name,
    )
    if created is not None:
        # The write key is in this page: no browser or proxy may keep a copy.
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/admin/sources", response_class=HTMLResponse)
def sources_page(request: Request, viewer: SourcesAdmin) -> HTMLResponse:
    """Every tracking source with the start of its write key, and a form to add one."""
    return _sources_page(request, viewer)


@router.post("/admin/sources", response_class=HTMLResponse)
def create_source(
    request: Request, viewer: SourcesAdmin, name: Annotated[str, Form(max_length=1000)] = ""
) -> HTMLResponse:
    """Create a source; its write key and SDK set-up are shown this once."""
    try:
        created = sources_of(request).create(name)
    except SourceError as err:
        return _sources_page(request, viewer, error=str(err), name=name)
    return _sources_page(request, viewer, created=created)


@router.post("/admin/sources/revoke")
def revoke_source_form(
    request: Request, viewer: SourcesAdmin, name: Annotated[str, Form(max_length=1000)]
) -> RedirectResponse:
    """Revoke a source's write key (the name comes in the form, as names may hold a '/')."""
    try:
        revoke_source(request, name)
    except SourceError as err:
        return _back(request, "/admin/sources", str(err), "error")
    return _back(
        request,
        "/admin/sources",
        f"The write key of {name} is revoked: events sent with it are refused from now on.",
    )


def _account_page(
    request: Request, viewer: Viewer, new_token: str = "", error: str = ""
) -> HTMLResponse:
    return render(
        request,
        "admin/account.html",
        viewer,
        status_code=422 if error else 200,
        tokens=accounts_of(request).list_tokens(viewer.user),
        new_token=new_token,
        error=error,
    )


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, viewer: PageViewer) -> HTMLResponse:
    """Your account and your API tokens."""
    return _account_page(request, viewer)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request, viewer: PageViewer, name: Annotated[str, Form(max_length=100)] = ""
) -> HTMLResponse:
    """Create an API token and show it this once; only for a Studio sign-in (403 otherwise)."""
    if viewer.session is None:
        raise HTTPException(403, SIGN_IN_NEEDED)
    try:
        token, _row = accounts_of(request).issue_token(viewer.user, name)
    except AccountError as err:
        return _account_page(request, viewer, error=str(err))
    response = _account_page(request, viewer, new_token=token)
    # The token is in this page: no browser or proxy may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, viewer: PageViewer, token_id: RowId) -> RedirectResponse:
    """Revoke one of your API tokens."""
    try:
        accounts_of(request).revoke_token(token_id, viewer.user)
    except AccountError as err:
        return _back(request, "/account", str(err), "error")
    return _back(
        request, "/account", "The token is revoked: requests with it are refused from now on."
    )
