"""`/api/users` (admins manage users) and `/api/tokens` (everyone manages their own tokens)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lifetide.accounts.errors import AccountError, EmailTaken, LastAdmin, NotFound
from lifetide.accounts.roles import Role
from lifetide.ops.models import ApiToken, User
from lifetide.web.ids import RowId
from lifetide.web.security import ApiViewer, Viewer, accounts_of, require

router = APIRouter(prefix="/api", tags=["users"])
Admin = Annotated[Viewer, Depends(require("users.manage"))]
# A leaked token must not be able to mint more tokens that outlive its revocation.
SIGN_IN_NEEDED = (
    "API tokens can only be created by a user signed in to the Studio, not with an API token"
)


class UserOut(BaseModel):
    """A Studio user, without their password hash."""

    id: int
    email: str
    name: str | None
    role: str
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    disabled: bool

    @classmethod
    def of(cls, user: User) -> UserOut:
        """The public view of `user`."""
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
            disabled=user.disabled_at is not None,
        )


class NewUser(BaseModel):
    """A user to create."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, description="Stored lower-cased.")
    password: str = Field(description="At least 10 characters, not the e-mail address.")
    role: Role
    name: str | None = Field(None, max_length=200)


class UserChange(BaseModel):
    """Changes to a user; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = Field(None, description="true signs them out and refuses sign-ins.")


class TokenOut(BaseModel):
    """An API token as listed: its start, never the token itself."""

    id: int
    name: str
    hint: str = Field(description="The token's first characters, to tell tokens apart.")
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked: bool

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        """The public view of `token`."""
        return cls(
            id=token.id,
            name=token.name,
            hint=token.token_hint,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked=token.revoked_at is not None,
        )


class NewToken(BaseModel):
    """An API token to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100, description="What it is for, e.g. 'nightly export'.")


class CreatedToken(TokenOut):
    """A token just created: `token` is shown this once and cannot be read again."""

    token: str


def _refused(err: AccountError) -> HTTPException:
    if isinstance(err, NotFound):
        return HTTPException(404, str(err))
    if isinstance(err, EmailTaken | LastAdmin):
        return HTTPException(409, str(err))
    return HTTPException(422, str(err))


@router.get("/users")
def list_users(request: Request, _admin: Admin) -> list[UserOut]:
    """Every user, oldest first (admins only)."""
    return [UserOut.of(user) for user in accounts_of(request).list_users()]


@router.post("/users", status_code=201)
def create_user(request: Request, body: NewUser, _admin: Admin) -> UserOut:
    """Create a user (admins only); 409 if the e-mail is taken, 422 for a weak password."""
    try:
        user = accounts_of(request).create_user(body.email, body.password, body.role, body.name)
    except AccountError as err:
        raise _refused(err) from None
    return UserOut.of(user)


@router.patch("/users/{user_id}")
def change_user(request: Request, user_id: RowId, body: UserChange, _admin: Admin) -> UserOut:
    """Change a user's role or disable/enable them (admins only); 409 to keep one admin."""
    accounts = accounts_of(request)
    try:
        user = accounts.get_user(user_id)
        if body.role is not None:
            user = accounts.set_role(user_id, body.role)
        if body.disabled is True:
            user = accounts.disable(user_id)
        elif body.disabled is False:
            user = accounts.enable(user_id)
    except AccountError as err:
        raise _refused(err) from None
    return UserOut.of(user)


@router.get("/tokens")
def list_tokens(request: Request, viewer: ApiViewer) -> list[TokenOut]:
    """Your API tokens, revoked ones included."""
    return [TokenOut.of(token) for token in accounts_of(request).list_tokens(viewer.user)]


@router.post("/tokens", status_code=201)
def create_token(
    request: Request, response: Response, body: NewToken, viewer: ApiViewer
) -> CreatedToken:
    """Create an API token acting as you; the reply holds the token, shown only this once.

    Needs a Studio sign-in (cookie session): a request with an API token gets 403.
    """
    if viewer.session is None:
        raise HTTPException(403, SIGN_IN_NEEDED)
    response.headers["Cache-Control"] = "no-store"
    try:
        token, row = accounts_of(request).issue_token(viewer.user, body.name)
    except AccountError as err:
        raise _refused(err) from None
    return CreatedToken(**TokenOut.of(row).model_dump(), token=token)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(request: Request, token_id: RowId, viewer: ApiViewer) -> Response:
    """Revoke one of your API tokens; requests with it get 401 from now on."""
    try:
        accounts_of(request).revoke_token(token_id, viewer.user)
    except AccountError as err:
        raise _refused(err) from None
    return Response(status_code=204)
