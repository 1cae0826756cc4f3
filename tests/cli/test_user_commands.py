"""`lifetide user` and `lifetide token`, as an operator runs them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from lifetide.accounts.service import SignInRefused, accounts_for
from lifetide.cli.app import app
from lifetide.context import Lifetide
from lifetide.settings import load_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each argon2 hash with the production settings costs ~0.2 s on a busy test machine.
    monkeypatch.setenv("LIFETIDE_ENV", "test")


def create(email: str, role: str, password: str = "a long password", *extra: str) -> Result:
    return runner.invoke(
        app,
        ["user", "create", email, "--role", role, "--password-stdin", *extra],
        input=password + "\n",
    )


def test_create_a_user_with_the_password_from_stdin() -> None:
    made = create("Ana@Example.com", "admin", "a long password", "--name", "Ana Lima")
    assert made.exit_code == 0, made.stderr
    assert "user ana@example.com created (admin)" in made.stdout
    with Lifetide(load_settings()) as lifetide:
        user = accounts_for(lifetide).authenticate("ana@example.com", "a long password", None)
    assert (user.name, user.role) == ("Ana Lima", "admin")


def test_spaces_in_a_password_from_stdin_are_kept() -> None:
    assert create("ana@example.com", "analyst", "  spaced out  ").exit_code == 0
    with Lifetide(load_settings()) as lifetide:
        accounts = accounts_for(lifetide)
        with pytest.raises(SignInRefused):
            accounts.authenticate("ana@example.com", "spaced out", None)
        assert accounts.authenticate("ana@example.com", "  spaced out  ", None)


def test_without_stdin_the_password_is_asked_twice() -> None:
    made = runner.invoke(
        app,
        ["user", "create", "bob@example.com", "--role", "marketer"],
        input="first password\nother password\nsecret password\nsecret password\n",
    )
    assert made.exit_code == 0
    assert "do not match" in made.output and "created (marketer)" in made.output
    assert "secret password" not in made.output  # hidden input is not echoed
    with Lifetide(load_settings()) as lifetide:
        assert accounts_for(lifetide).authenticate("bob@example.com", "secret password", None)


def test_create_refusals() -> None:
    assert create("ana@example.com", "admin").exit_code == 0
    taken = create("ANA@example.com", "analyst")
    assert taken.exit_code == 1
    assert "a user with e-mail ana@example.com exists already" in taken.stderr
    weak = create("bob@example.com", "analyst", "short")
    assert weak.exit_code == 1
    assert "at least 10 characters; this one has 5" in weak.stderr
    bad = create("bob", "analyst")
    assert bad.exit_code == 1 and "'bob' is not an e-mail address" in bad.stderr
    role = create("bob@example.com", "owner")
    assert role.exit_code == 2 and "owner" in role.stderr
    missing = runner.invoke(app, ["user", "create", "bob@example.com"], input="x\n")
    assert missing.exit_code == 2 and "--role" in missing.stderr


def test_list_and_disable() -> None:
    create("ana@example.com", "admin", "a long password", "--name", "Ana")
    create("bob@example.com", "analyst")
    listed = runner.invoke(app, ["user", "list"])
    assert listed.exit_code == 0
    assert "ana@example.com" in listed.stdout and "bob@example.com" in listed.stdout
    assert "Ana" in listed.stdout and "never" in listed.stdout
    assert "$argon2" not in listed.stdout
    off = runner.invoke(app, ["user", "disable", "BOB@example.com"])
    assert off.exit_code == 0 and "user bob@example.com disabled" in off.stdout
    with Lifetide(load_settings()) as lifetide, pytest.raises(SignInRefused):
        accounts_for(lifetide).authenticate("bob@example.com", "a long password", None)
    last = runner.invoke(app, ["user", "disable", "ana@example.com"])
    assert last.exit_code == 1 and "the only active admin" in last.stderr
    unknown = runner.invoke(app, ["user", "disable", "nobody@example.com"])
    assert unknown.exit_code == 1 and "no user with e-mail nobody@example.com" in unknown.stderr


def test_token_create_prints_the_token_once() -> None:
    create("ana@example.com", "marketer")
    made = runner.invoke(app, ["token", "create", "Ana@example.com", "nightly export"])
    assert made.exit_code == 0
    assert "'nightly export' for ana@example.com (marketer)" in made.stdout
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("ltk_")
    with Lifetide(load_settings()) as lifetide:
        accounts = accounts_for(lifetide)
        user = accounts.token_user(token)
        assert user is not None and user.email == "ana@example.com"
        [listed] = accounts.list_tokens(user)
        assert listed.name == "nightly export" and listed.token_hint == token[:8]


def test_token_create_refusals() -> None:
    unknown = runner.invoke(app, ["token", "create", "nobody@example.com", "x"])
    assert unknown.exit_code == 1 and "no user with e-mail nobody@example.com" in unknown.stderr
    create("ana@example.com", "admin")
    create("bob@example.com", "analyst")
    runner.invoke(app, ["user", "disable", "bob@example.com"])
    disabled = runner.invoke(app, ["token", "create", "bob@example.com", "x"])
    assert disabled.exit_code == 1 and "bob@example.com is disabled" in disabled.stderr
    blank = runner.invoke(app, ["token", "create", "ana@example.com", "  "])
    assert blank.exit_code == 1 and "an API token needs a name" in blank.stderr
