"""Studio accounts: users, passwords, sign-in with throttling, browser sessions, API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lifetide.accounts.errors import (
    AccountError,
    EmailTaken,
    LastAdmin,
    NotFound,
    SignInRefused,
    Throttled,
)
from lifetide.accounts.passwords import Passwords, check_password
from lifetide.accounts.roles import ROLES
from lifetide.accounts.throttle import EMAIL_LIMIT, IP_LIMIT, WINDOW, retry_after
from lifetide.clock import Clock
from lifetide.ops.database import transaction
from lifetide.ops.models import ApiToken, LoginAttempt, User, UserSession

if TYPE_CHECKING:
    from lifetide.context import Lifetide

__all__ = [
    "TOKEN_PREFIX",
    "AccountError",
    "Accounts",
    "EmailTaken",
    "LastAdmin",
    "NotFound",
    "SignInRefused",
    "Throttled",
    "accounts_for",
    "hash_token",
    "normalize_email",
]

# Tells API tokens apart from tracking write keys (lt_wk_).
TOKEN_PREFIX = "ltk_"  # noqa: S105 (a prefix, not a secret)
# Sessions and tokens record use at most this often: a write per request would be wasteful.
TOUCH_EVERY = dt.timedelta(minutes=1)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+$")


def hash_token(token: str) -> str:
    """The stored form of a session or API token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalize_email(email: str) -> str:
    """`email` as stored: stripped and lower-cased."""
    return email.strip().lower()


def _valid_email(email: str) -> str:
    clean = normalize_email(email)
    if not EMAIL_PATTERN.match(clean):
        raise AccountError(f"{email.strip()!r} is not an e-mail address")
    if len(clean) > 320:
        raise AccountError("an e-mail address has at most 320 characters")
    return clean


def _valid_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    return role


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back without a zone; every stored time is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


class Accounts:
    """Users, sessions and API tokens in the operational database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        session_hours: int = 12,
        passwords: Passwords | None = None,
    ) -> None:
        if session_hours < 1:
            raise ValueError("session_hours must be at least 1")
        self._sessions = sessions
        self._clock = clock
        self._session_length = dt.timedelta(hours=session_hours)
        self._passwords = passwords or Passwords()

    # Users

    def create_user(self, email: str, password: str, role: str, name: str | None = None) -> User:
        """A new user; AccountError for a bad e-mail, role or password, EmailTaken if taken."""
        email = _valid_email(email)
        _valid_role(role)
        check_password(password, email)
        clean_name = (name or "").strip() or None
        if clean_name is not None and len(clean_name) > 200:
            raise AccountError("a name has at most 200 characters")
        if self.user_by_email(email) is not None:
            raise EmailTaken(f"a user with e-mail {email} exists already")
        password_hash = self._passwords.hash(password)  # slow: outside the transaction
        try:
            with transaction(self._sessions) as session:
                user = User(
                    email=email,
                    name=clean_name,
                    role=role,
                    password_hash=password_hash,
                    created_at=self._clock.now(),
                )
                session.add(user)
                session.flush()
        except IntegrityError:  # created by someone else since the check above
            raise EmailTaken(f"a user with e-mail {email} exists already") from None
        return user

    def list_users(self) -> list[User]:
        """Every user, oldest first."""
        with self._sessions() as session:
            return list(session.scalars(select(User).order_by(User.id)))

    def get_user(self, user_id: int) -> User:
        """The user with `user_id`; NotFound if there is none."""
        with self._sessions() as session:
            user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return user

    def user_by_email(self, email: str) -> User | None:
        """The user with `email` (any case), or None."""
        with self._sessions() as session:
            return session.scalars(select(User).where(User.email == normalize_email(email))).first()

    def set_role(self, user_id: int, role: str) -> User:
        """Give the user `role`; LastAdmin if that would leave no active admin."""
        _valid_role(role)
        with transaction(self._sessions) as session:
            user = self._user_in(session, user_id)
            if user.role == "admin" and role != "admin" and user.disabled_at is None:
                self._keep_an_admin(session, user)
            user.role = role
        return user

    def disable(self, user_id: int) -> User:
        """Stop the user signing in and end their sessions; their API tokens stop working too."""
        with transaction(self._sessions) as session:
            user = self._user_in(session, user_id)
            if user.disabled_at is None:
                if user.role == "admin":
                    self._keep_an_admin(session, user)
                user.disabled_at = self._clock.now()
            session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        return user

    def enable(self, user_id: int) -> User:
        """Let a disabled user sign in again (their API tokens work again too)."""
        with transaction(self._sessions) as session:
            user = self._user_in(session, user_id)
            user.disabled_at = None
        return user

    def _user_in(self, session: Session, user_id: int) -> User:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return user

    def _keep_an_admin(self, session: Session, leaving: User) -> None:
        others = session.scalar(
            select(func.count(User.id)).where(
                User.role == "admin", User.disabled_at.is_(None), User.id != leaving.id
            )
        )
        if not others:
            raise LastAdmin(
                f"{leaving.email} is the only active admin; make someone else admin first"
            )

    # Signing in

    def authenticate(self, email: str, password: str, ip: str | None) -> User:
        """The user whose e-mail and password these are; SignInRefused or Throttled otherwise.

        Every attempt that is not throttled is recorded. An unknown e-mail costs as much time
        as a wrong password, so timing does not tell which e-mails have accounts.
        """
        # One sign-in at a time: the check of recent failures, the password check and the
        # record of the attempt must not interleave, or parallel guesses all pass the check
        # before any is counted. Argon2 makes this about five sign-ins a second per process.
        with _SIGNING_IN:
            return self._authenticate(email, password, ip)

    def _authenticate(self, email: str, password: str, ip: str | None) -> User:
        email = _clip(normalize_email(email), 320) or ""
        ip = _clip(ip, 64)
        now = self._clock.now()
        with self._sessions() as session:
            wait = self._throttled_for(session, email, ip, now)
            user = session.scalars(select(User).where(User.email == email)).first()
        if wait is not None:
            raise Throttled(wait)
        if user is None:
            self._passwords.waste_a_check(password)
            ok = False
        else:
            ok = self._passwords.verify(user.password_hash, password)
            ok = ok and user.disabled_at is None
        renewed = None
        if ok and user is not None and self._passwords.needs_rehash(user.password_hash):
            renewed = self._passwords.hash(password)
        with transaction(self._sessions) as session:
            session.add(LoginAttempt(email=email, ip=ip, at=now, succeeded=ok))
            signed_in = session.get(User, user.id) if ok and user is not None else None
            if signed_in is not None:
                signed_in.last_login_at = now
                if renewed is not None:
                    signed_in.password_hash = renewed
        if signed_in is None:
            raise SignInRefused()
        return signed_in

    def _throttled_for(
        self, session: Session, email: str, ip: str | None, now: dt.datetime
    ) -> int | None:
        since = now - WINDOW
        # A success ends the run of failures for that e-mail (only its owner can succeed);
        # not for the address, where one attacker's own account could otherwise reset it.
        last_success = session.scalar(
            select(func.max(LoginAttempt.id)).where(
                LoginAttempt.email == email,
                LoginAttempt.succeeded.is_(True),
                LoginAttempt.at > since,
            )
        )
        by_email = LoginAttempt.email == email
        if last_success is not None:
            by_email = by_email & (LoginAttempt.id > last_success)
        waits = [retry_after(self._failures(session, since, by_email), EMAIL_LIMIT, now)]
        if ip is not None:
            by_ip = LoginAttempt.ip == ip
            waits.append(retry_after(self._failures(session, since, by_ip), IP_LIMIT, now))
        found = [wait for wait in waits if wait is not None]
        return max(found) if found else None

    def _failures(
        self, session: Session, since: dt.datetime, who: ColumnElement[bool]
    ) -> list[dt.datetime]:
        times = session.scalars(
            select(LoginAttempt.at)
            .where(who, LoginAttempt.succeeded.is_(False), LoginAttempt.at > since)
            .order_by(LoginAttempt.at)
        )
        return [_utc(at) for at in times]

    # Browser sessions

    def start_session(
        self, user: User, ip: str | None, user_agent: str | None
    ) -> tuple[str, UserSession]:
        """A new session for `user`: the token for the cookie, and the row (with csrf_token)."""
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        row = UserSession(
            token_hash=hash_token(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + self._session_length,
            last_seen_at=now,
            ip=_clip(ip, 64),
            user_agent=_clip(user_agent, 512),
        )
        with transaction(self._sessions) as session:
            # Tidy this user's expired sessions while we are here.
            session.execute(
                delete(UserSession).where(
                    UserSession.user_id == user.id, UserSession.expires_at <= now
                )
            )
            session.add(row)
        return token, row

    def session_user(self, token: str) -> tuple[User, UserSession] | None:
        """The signed-in user and session for a cookie token; None if unknown, expired or disabled.

        Each use moves the expiry to session_hours from now (recorded at most once a minute).
        """
        if not token:
            return None
        now = self._clock.now()
        with self._sessions() as session:
            found = session.execute(
                select(UserSession, User)
                .join(User, User.id == UserSession.user_id)
                .where(UserSession.token_hash == hash_token(token))
            ).first()
            if found is None:
                return None
            row, user = found
            if _utc(row.expires_at) <= now or user.disabled_at is not None:
                return None
            if now - _utc(row.last_seen_at) >= TOUCH_EVERY:
                row.last_seen_at = now
                row.expires_at = now + self._session_length
                session.commit()
            return user, row

    def end_session(self, token: str) -> None:
        """Sign the session with this token out (nothing happens if there is none)."""
        with transaction(self._sessions) as session:
            session.execute(delete(UserSession).where(UserSession.token_hash == hash_token(token)))

    # API tokens

    def create_token(self, user: User, name: str) -> str:
        """A new API token for `user` called `name`: returned here once, stored only hashed."""
        return self.issue_token(user, name)[0]

    def issue_token(self, user: User, name: str) -> tuple[str, ApiToken]:
        """Like create_token, also giving the stored row (with id and hint)."""
        clean = name.strip()
        if not clean:
            raise AccountError("an API token needs a name")
        if len(clean) > 100:
            raise AccountError("an API token's name has at most 100 characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            user_id=user.id,
            name=clean,
            token_hash=hash_token(token),
            token_hint=token[:8],
            created_at=self._clock.now(),
        )
        with transaction(self._sessions) as session:
            session.add(row)
        return token, row

    def list_tokens(self, user: User) -> list[ApiToken]:
        """The user's API tokens, revoked ones included, oldest first."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
                )
            )

    def revoke_token(self, token_id: int, user: User) -> None:
        """Revoke the user's token `token_id`; NotFound if they have no such token."""
        with transaction(self._sessions) as session:
            token = session.get(ApiToken, token_id)
            if token is None or token.user_id != user.id:
                raise NotFound(f"you have no API token with id {token_id}")
            if token.revoked_at is None:
                token.revoked_at = self._clock.now()

    def token_user(self, token: str) -> User | None:
        """The user an API token acts for; None if unknown, revoked or the user is disabled."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        now = self._clock.now()
        with self._sessions() as session:
            found = session.execute(
                select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == hash_token(token))
            ).first()
            if found is None:
                return None
            row, user = found
            if row.revoked_at is not None or user.disabled_at is not None:
                return None
            if row.last_used_at is None or now - _utc(row.last_used_at) >= TOUCH_EVERY:
                row.last_used_at = now
                session.commit()
            return user


# Shared by every Accounts of the process: each request may build its own.
_SIGNING_IN = threading.Lock()


def accounts_for(lifetide: Lifetide) -> Accounts:
    """Accounts on `lifetide`'s operational database, clock and session length."""
    settings = lifetide.settings
    return Accounts(
        lifetide.sessions,
        lifetide.clock,
        session_hours=settings.session_hours,
        passwords=Passwords.for_env(settings.env),
    )
