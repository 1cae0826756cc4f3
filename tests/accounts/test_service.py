"""Accounts on a real operational database: users, sign-in and throttling, sessions, tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
import threading
import time

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select

from lifetide.accounts.passwords import Passwords, cheap_hasher
from lifetide.accounts.service import (
    AccountError,
    Accounts,
    EmailTaken,
    LastAdmin,
    NotFound,
    SignInRefused,
    Throttled,
)
from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.ops.database import session_factory, upgrade
from lifetide.ops.models import ApiToken, LoginAttempt, User, UserSession

START = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
PASSWORD = "a long password"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def accounts(app: Lifetide, clock: ManualClock) -> Accounts:
    return Accounts(app.sessions, clock, session_hours=2, passwords=Passwords(cheap_hasher()))


@pytest.fixture
def ana(accounts: Accounts) -> User:
    return accounts.create_user("  Ana@Example.COM ", PASSWORD, "admin", name=" Ana ")


def attempts(app: Lifetide) -> list[tuple[str, str | None, bool]]:
    with app.sessions() as session:
        rows = session.scalars(select(LoginAttempt).order_by(LoginAttempt.id))
        return [(row.email, row.ip, row.succeeded) for row in rows]


# Users


def test_create_user_stores_a_clean_email_and_only_a_hash(
    app: Lifetide, accounts: Accounts, ana: User
) -> None:
    assert (ana.email, ana.name, ana.role, ana.created_at) == (
        "ana@example.com",
        "Ana",
        "admin",
        START,
    )
    assert ana.last_login_at is None and ana.disabled_at is None
    assert PASSWORD not in ana.password_hash and ana.password_hash.startswith("$argon2id$")
    assert [u.email for u in accounts.list_users()] == ["ana@example.com"]
    found = accounts.user_by_email("ANA@example.com ")
    assert found is not None and found.id == ana.id
    assert accounts.get_user(ana.id).email == "ana@example.com"
    assert accounts.user_by_email("bob@example.com") is None


@pytest.mark.parametrize(
    ("email", "password", "role", "name", "error", "message"),
    [
        ("ana example.com", PASSWORD, "admin", None, AccountError, "'ana example.com' is not an"),
        ("", PASSWORD, "admin", None, AccountError, "'' is not an e-mail address"),
        ("a@" + "b" * 320, PASSWORD, "admin", None, AccountError, "at most 320 characters"),
        ("bob@example.com", PASSWORD, "owner", None, AccountError, "unknown role 'owner'; the"),
        ("bob@example.com", "too short", "admin", None, AccountError, "at least 10 characters"),
        ("bob@example.com", "BOB@example.com", "analyst", None, AccountError, "not be the e-mail"),
        ("bob@example.com", PASSWORD, "analyst", "x" * 201, AccountError, "at most 200 char"),
        ("ANA@example.com", PASSWORD, "analyst", None, EmailTaken, "ana@example.com exists"),
    ],
)
def test_create_user_refuses(
    accounts: Accounts,
    ana: User,
    email: str,
    password: str,
    role: str,
    name: str | None,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        accounts.create_user(email, password, role, name)
    assert len(accounts.list_users()) == 1


def test_roles_change_but_one_active_admin_always_remains(accounts: Accounts, ana: User) -> None:
    with pytest.raises(LastAdmin, match=r"ana@example\.com is the only active admin"):
        accounts.set_role(ana.id, "marketer")
    with pytest.raises(LastAdmin):
        accounts.disable(ana.id)
    bob = accounts.create_user("bob@example.com", PASSWORD, "analyst")
    assert accounts.set_role(bob.id, "admin").role == "admin"
    assert accounts.set_role(ana.id, "marketer").role == "marketer"
    with pytest.raises(LastAdmin):
        accounts.disable(bob.id)
    with pytest.raises(AccountError, match="unknown role 'boss'"):
        accounts.set_role(ana.id, "boss")
    with pytest.raises(NotFound, match="no user with id 99"):
        accounts.set_role(99, "analyst")
    with pytest.raises(NotFound):
        accounts.disable(99)
    with pytest.raises(NotFound):
        accounts.get_user(99)


def test_disabled_admins_do_not_count_as_the_remaining_admin(accounts: Accounts, ana: User) -> None:
    bob = accounts.create_user("bob@example.com", PASSWORD, "admin")
    accounts.disable(bob.id)
    with pytest.raises(LastAdmin):
        accounts.set_role(ana.id, "analyst")
    accounts.enable(bob.id)
    assert accounts.disable(ana.id).disabled_at == START


# Signing in


def test_authenticate_checks_the_password_and_records_attempts(
    app: Lifetide, accounts: Accounts, clock: ManualClock, ana: User
) -> None:
    clock.advance(dt.timedelta(minutes=1))
    user = accounts.authenticate(" ANA@example.com", PASSWORD, "10.0.0.1")
    assert user.id == ana.id and user.last_login_at == START + dt.timedelta(minutes=1)
    with pytest.raises(SignInRefused, match="wrong e-mail or password"):
        accounts.authenticate("ana@example.com", PASSWORD.upper(), "10.0.0.1")
    with pytest.raises(SignInRefused, match="wrong e-mail or password"):
        accounts.authenticate("nobody@example.com", PASSWORD, None)
    assert attempts(app) == [
        ("ana@example.com", "10.0.0.1", True),
        ("ana@example.com", "10.0.0.1", False),
        ("nobody@example.com", None, False),
    ]


def test_a_disabled_user_cannot_sign_in(accounts: Accounts, ana: User) -> None:
    bob = accounts.create_user("bob@example.com", PASSWORD, "analyst")
    accounts.disable(bob.id)
    with pytest.raises(SignInRefused):
        accounts.authenticate("bob@example.com", PASSWORD, None)
    accounts.enable(bob.id)
    assert accounts.authenticate("bob@example.com", PASSWORD, None).id == bob.id


def test_a_weaker_hash_is_renewed_at_sign_in(
    app: Lifetide, clock: ManualClock, accounts: Accounts, ana: User
) -> None:
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    upgraded = Accounts(app.sessions, clock, passwords=stronger)
    user = upgraded.authenticate("ana@example.com", PASSWORD, None)
    assert user.password_hash != ana.password_hash and "m=2048,t=2" in user.password_hash
    with app.sessions() as session:
        stored = session.get(User, ana.id)
        assert stored is not None and stored.password_hash == user.password_hash
    assert not stronger.needs_rehash(user.password_hash)
    assert upgraded.authenticate("ana@example.com", PASSWORD, None).id == ana.id


def test_an_unknown_email_takes_as_long_as_a_wrong_password(
    app: Lifetide, clock: ManualClock
) -> None:
    # Costly enough that skipping the check would show: about 10-30 ms a check.
    slow = Accounts(
        app.sessions,
        clock,
        passwords=Passwords(PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1)),
    )
    slow.create_user("ana@example.com", PASSWORD, "admin")

    def seconds(email: str) -> float:
        began = time.perf_counter()
        with pytest.raises(SignInRefused):
            slow.authenticate(email, "wrong password", None)
        return time.perf_counter() - began

    seconds("warm-up@example.com")  # builds the dummy hash
    unknown, known = [], []
    for i in range(4):  # 4 failures each: not yet throttled
        unknown.append(seconds(f"nobody{i}@example.com"))
        known.append(seconds("ana@example.com"))
    assert statistics.median(unknown) > 0.5 * statistics.median(known)


def test_five_failures_throttle_the_email_for_fifteen_minutes(
    app: Lifetide, accounts: Accounts, clock: ManualClock, ana: User
) -> None:
    for _ in range(5):
        with pytest.raises(SignInRefused):
            accounts.authenticate("ana@example.com", "wrong password", "10.0.0.1")
        clock.advance(dt.timedelta(minutes=1))
    # The oldest failure was 5 minutes ago: it leaves the window in 10.
    with pytest.raises(Throttled, match="try again in 600 seconds") as caught:
        accounts.authenticate("ana@example.com", PASSWORD, "10.0.0.2")
    assert caught.value.retry_after == 600
    assert len(attempts(app)) == 5  # throttled attempts are not checked, nor recorded
    clock.advance(dt.timedelta(seconds=599))
    with pytest.raises(Throttled) as caught:
        accounts.authenticate("ANA@example.com", PASSWORD, "10.0.0.2")
    assert caught.value.retry_after == 1
    clock.advance(dt.timedelta(seconds=1))
    assert accounts.authenticate("ana@example.com", PASSWORD, "10.0.0.2").id == ana.id


def test_unknown_emails_are_throttled_alike(accounts: Accounts) -> None:
    for _ in range(5):
        with pytest.raises(SignInRefused):
            accounts.authenticate("nobody@example.com", PASSWORD, None)
    with pytest.raises(Throttled) as caught:
        accounts.authenticate("nobody@example.com", PASSWORD, None)
    assert caught.value.retry_after == 900


def test_a_success_ends_the_emails_run_of_failures(
    accounts: Accounts, clock: ManualClock, ana: User
) -> None:
    def fail(times: int) -> None:
        for _ in range(times):
            with pytest.raises(SignInRefused):
                accounts.authenticate("ana@example.com", "wrong password", None)
            clock.advance(dt.timedelta(seconds=10))

    fail(4)
    accounts.authenticate("ana@example.com", PASSWORD, None)
    clock.advance(dt.timedelta(seconds=10))
    fail(4)
    accounts.authenticate("ana@example.com", PASSWORD, None)  # 8 failures, but 4 since success
    fail(5)
    with pytest.raises(Throttled):
        accounts.authenticate("ana@example.com", PASSWORD, None)


def test_twenty_failures_from_one_address_throttle_it(
    accounts: Accounts, clock: ManualClock, ana: User
) -> None:
    for i in range(20):
        with pytest.raises(SignInRefused):
            accounts.authenticate(f"guess{i}@example.com", PASSWORD, "203.0.113.9")
    # Even the right password, from that address; from another it works.
    with pytest.raises(Throttled) as caught:
        accounts.authenticate("ana@example.com", PASSWORD, "203.0.113.9")
    assert caught.value.retry_after == 900
    assert accounts.authenticate("ana@example.com", PASSWORD, "203.0.113.10").id == ana.id
    # A success does not reset an address.
    with pytest.raises(Throttled):
        accounts.authenticate("ana@example.com", PASSWORD, "203.0.113.9")
    clock.advance(dt.timedelta(minutes=15))
    assert accounts.authenticate("ana@example.com", PASSWORD, "203.0.113.9").id == ana.id


def test_long_inputs_are_clipped_in_the_attempt_log(app: Lifetide, accounts: Accounts) -> None:
    with pytest.raises(SignInRefused):
        accounts.authenticate("x" * 1000 + "@example.com", PASSWORD, "1" * 100)
    [(email, ip, succeeded)] = attempts(app)
    assert len(email) == 320 and ip is not None and len(ip) == 64 and not succeeded


# Sessions


def test_a_session_is_found_by_its_token_stored_only_hashed(
    app: Lifetide, accounts: Accounts, ana: User
) -> None:
    token, row = accounts.start_session(ana, "10.0.0.1", "Firefox")
    assert len(token) >= 43 and len(row.csrf_token) >= 43 and token != row.csrf_token
    assert row.expires_at == START + dt.timedelta(hours=2)
    found = accounts.session_user(token)
    assert found is not None
    user, session = found
    assert user.id == ana.id and session.csrf_token == row.csrf_token
    with app.sessions() as db:
        stored = db.scalars(select(UserSession)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (stored.ip, stored.user_agent) == ("10.0.0.1", "Firefox")
    assert accounts.session_user(token + "x") is None
    assert accounts.session_user("") is None


def test_sessions_expire_unless_used(accounts: Accounts, clock: ManualClock, ana: User) -> None:
    idle, _ = accounts.start_session(ana, None, None)
    busy, _ = accounts.start_session(ana, None, None)
    clock.advance(dt.timedelta(minutes=90))
    assert accounts.session_user(busy) is not None  # slides to 2 hours from now
    clock.advance(dt.timedelta(minutes=30))
    assert accounts.session_user(idle) is None
    clock.advance(dt.timedelta(minutes=89))
    assert accounts.session_user(busy) is not None
    clock.advance(dt.timedelta(hours=2))
    assert accounts.session_user(busy) is None


def test_last_seen_is_recorded_at_most_once_a_minute(
    accounts: Accounts, clock: ManualClock, ana: User
) -> None:
    token, _ = accounts.start_session(ana, None, None)
    clock.advance(dt.timedelta(seconds=30))
    found = accounts.session_user(token)
    assert found is not None and found[1].last_seen_at.replace(tzinfo=dt.UTC) == START
    clock.advance(dt.timedelta(seconds=31))
    found = accounts.session_user(token)
    assert found is not None and found[1].last_seen_at == START + dt.timedelta(seconds=61)


def test_end_session_and_disable_sign_out(
    app: Lifetide, accounts: Accounts, clock: ManualClock, ana: User
) -> None:
    token, _ = accounts.start_session(ana, None, None)
    accounts.end_session(token)
    assert accounts.session_user(token) is None
    accounts.end_session(token)  # twice is fine
    bob = accounts.create_user("bob@example.com", PASSWORD, "analyst")
    first, _ = accounts.start_session(bob, None, None)
    second, _ = accounts.start_session(bob, None, None)
    accounts.disable(bob.id)
    assert accounts.session_user(first) is None and accounts.session_user(second) is None
    with app.sessions() as session:
        left = session.scalar(select(func.count()).select_from(UserSession))
    assert left == 0


def test_expired_sessions_are_tidied_when_the_user_signs_in_again(
    app: Lifetide, accounts: Accounts, clock: ManualClock, ana: User
) -> None:
    accounts.start_session(ana, None, None)
    clock.advance(dt.timedelta(hours=3))
    accounts.start_session(ana, None, None)
    with app.sessions() as session:
        assert session.scalar(select(func.count()).select_from(UserSession)) == 1


def test_session_hours_must_be_positive(app: Lifetide, clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Accounts(app.sessions, clock, session_hours=0)


# API tokens


def test_tokens_are_shown_once_stored_hashed_and_can_be_revoked(
    app: Lifetide, accounts: Accounts, clock: ManualClock, ana: User
) -> None:
    token = accounts.create_token(ana, "  nightly export ")
    assert token.startswith("ltk_") and len(token) > 40
    [listed] = accounts.list_tokens(ana)
    assert (listed.name, listed.token_hint, listed.revoked_at) == (
        "nightly export",
        token[:8],
        None,
    )
    assert listed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    clock.advance(dt.timedelta(minutes=5))
    user = accounts.token_user(token)
    assert user is not None and user.id == ana.id
    with app.sessions() as session:
        stored = session.get(ApiToken, listed.id)
        assert stored is not None and stored.last_used_at is not None
        assert stored.last_used_at.replace(tzinfo=dt.UTC) == START + dt.timedelta(minutes=5)
    accounts.revoke_token(listed.id, ana)
    assert accounts.token_user(token) is None
    accounts.revoke_token(listed.id, ana)  # twice is fine
    [revoked] = accounts.list_tokens(ana)
    assert revoked.revoked_at is not None


def test_tokens_belong_to_their_user(accounts: Accounts, ana: User) -> None:
    bob = accounts.create_user("bob@example.com", PASSWORD, "analyst")
    token, row = accounts.issue_token(bob, "script")
    assert accounts.list_tokens(ana) == []
    with pytest.raises(NotFound, match=f"you have no API token with id {row.id}"):
        accounts.revoke_token(row.id, ana)
    accounts.disable(bob.id)
    assert accounts.token_user(token) is None
    accounts.enable(bob.id)
    found = accounts.token_user(token)
    assert found is not None and found.id == bob.id


def test_unknown_tokens_and_bad_names(accounts: Accounts, ana: User) -> None:
    assert accounts.token_user("ltk_nope") is None
    assert accounts.token_user("lt_wk_abc") is None
    assert accounts.token_user("") is None
    with pytest.raises(AccountError, match="needs a name"):
        accounts.create_token(ana, "   ")
    with pytest.raises(AccountError, match="at most 100 characters"):
        accounts.create_token(ana, "x" * 101)


@pytest.mark.postgres
def test_sign_in_throttling_sessions_and_tokens_on_postgresql(postgres_engine: Engine) -> None:
    upgrade(postgres_engine)
    clock = ManualClock(START)
    accounts = Accounts(
        session_factory(postgres_engine), clock, passwords=Passwords(cheap_hasher())
    )
    ana = accounts.create_user("Ana@Example.com", PASSWORD, "admin")
    with pytest.raises(EmailTaken):
        accounts.create_user("ana@example.com", PASSWORD, "analyst")
    for _ in range(5):
        with pytest.raises(SignInRefused):
            accounts.authenticate("ana@example.com", "wrong password", "10.0.0.1")
    with pytest.raises(Throttled):
        accounts.authenticate("ana@example.com", PASSWORD, "10.0.0.1")
    clock.advance(dt.timedelta(minutes=15))
    user = accounts.authenticate("ana@example.com", PASSWORD, "10.0.0.1")
    token, _ = accounts.start_session(user, "10.0.0.1", None)
    clock.advance(dt.timedelta(hours=11))
    assert accounts.session_user(token) is not None
    clock.advance(dt.timedelta(hours=12, seconds=1))
    assert accounts.session_user(token) is None
    api = accounts.create_token(ana, "script")
    assert accounts.token_user(api) is not None
    accounts.revoke_token(accounts.list_tokens(ana)[0].id, ana)
    assert accounts.token_user(api) is None
    with pytest.raises(LastAdmin):
        accounts.disable(ana.id)


def test_parallel_guesses_cannot_outrun_the_limit(accounts: Accounts) -> None:
    accounts.create_user("target@example.com", "a-strong-password-1", "marketer")
    outcomes: list[str] = []

    def guess(i: int) -> None:
        try:
            accounts.authenticate("target@example.com", f"wrong-guess-{i:04d}", "10.0.0.1")
            outcomes.append("in")
        except Throttled:
            outcomes.append("throttled")
        except SignInRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Only five wrong passwords are ever checked for one e-mail in the window.
    assert outcomes.count("refused") == 5
    assert outcomes.count("throttled") == 7
