"""`lifetide user` and `lifetide token`: Studio users and their API tokens."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table as RichTable

from lifetide.accounts.errors import AccountError
from lifetide.accounts.service import accounts_for
from lifetide.cli.state import console, fail, state_of

user_app = typer.Typer(help="Studio users: create, list, disable.")
token_app = typer.Typer(help="API tokens for the management API.")


class RoleChoice(StrEnum):
    """The roles a user can have (see lifetide.accounts.roles)."""

    admin = "admin"
    marketer = "marketer"
    analyst = "analyst"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line; only the line break is removed, spaces are part of the password.
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Their e-mail address, used to sign in.")],
    role: Annotated[RoleChoice, typer.Option(help="What they may do.")],
    name: Annotated[str | None, typer.Option(help="Their name, as the Studio shows it.")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from standard input, not a prompt."
        ),
    ] = False,
) -> None:
    """Create a Studio user; the password is asked twice (hidden) unless --password-stdin."""
    password = _read_password(password_stdin)
    with state_of(ctx).lifetide() as app:
        try:
            user = accounts_for(app).create_user(email, password, role.value, name)
        except AccountError as err:
            fail(str(err))
    console.print(f"user {user.email} created ({user.role})", highlight=False)


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """List users with their role, last sign-in and whether they are disabled."""
    with state_of(ctx).lifetide() as app:
        users = accounts_for(app).list_users()
    table = RichTable(title="Users")
    for column in ("id", "e-mail", "name", "role", "last sign-in", "disabled"):
        table.add_column(column)
    for user in users:
        table.add_row(
            str(user.id),
            user.email,
            user.name or "",
            user.role,
            f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never",
            f"{user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else "",
        )
    console.print(table)


@user_app.command("disable")
def user_disable(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="The user to disable.")]
) -> None:
    """Disable a user: signed out now, sign-ins and their API tokens refused."""
    with state_of(ctx).lifetide() as app:
        accounts = accounts_for(app)
        user = accounts.user_by_email(email)
        if user is None:
            fail(f"no user with e-mail {email.strip().lower()}")
        try:
            accounts.disable(user.id)
        except AccountError as err:
            fail(str(err))
    console.print(f"user {user.email} disabled", highlight=False)


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Argument(help="What it is for, e.g. 'nightly export'.")],
) -> None:
    """Create an API token for a user and print it (shown only this once)."""
    with state_of(ctx).lifetide() as app:
        accounts = accounts_for(app)
        user = accounts.user_by_email(email)
        if user is None:
            fail(f"no user with e-mail {email.strip().lower()}")
        if user.disabled_at is not None:
            fail(f"{user.email} is disabled; a token of theirs would be refused")
        try:
            token = accounts.create_token(user, name)
        except AccountError as err:
            fail(str(err))
    console.print(
        f"API token {name.strip()!r} for {user.email} ({user.role}); "
        "keep it, it is not shown again:",
        highlight=False,
    )
    console.print(token, highlight=False, soft_wrap=True)
