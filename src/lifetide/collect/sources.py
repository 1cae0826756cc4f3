"""Tracking sources and write keys: created, listed, revoked, and checked on every request."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock
from lifetide.ops.database import transaction
from lifetide.ops.models import Source

KEY_PREFIX = "lt_wk_"


MAX_NAME = 100  # the width of sources.name


class SourceError(ValueError):
    """A source operation that cannot be done as asked."""


class SourceExists(SourceError):
    """A source with that name exists already."""


class SourceNotFound(SourceError):
    """No source has that name."""


@dataclass(frozen=True)
class NewSource:
    """A source just created, with its write key: shown once, never stored in the clear."""

    id: int
    name: str
    write_key: str
    hint: str
    created_at: dt.datetime


def check_name(name: str) -> str:
    """`name` without surrounding spaces, if it can name a source; a SourceError otherwise."""
    name = name.strip()
    if not name:
        raise SourceError("a source needs a name")
    if len(name) > MAX_NAME:
        raise SourceError(f"a source name has at most {MAX_NAME} characters, not {len(name)}")
    if any(not ch.isprintable() for ch in name):
        raise SourceError(
            "a source name cannot hold line breaks, tabs or other invisible characters"
        )
    return name


def hash_key(key: str) -> str:
    """The stored form of a write key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Sources:
    """Sources in the operational database."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def create(self, name: str) -> NewSource:
        """Create a source called `name` and its write key."""
        name = check_name(name)
        key = KEY_PREFIX + secrets.token_urlsafe(24)
        with transaction(self._sessions) as session:
            if session.scalars(select(Source).where(Source.name == name)).first():
                raise SourceExists(f"a source called {name!r} exists already")
            source = Source(
                name=name,
                write_key_hash=hash_key(key),
                write_key_hint=key[: len(KEY_PREFIX) + 4],
                created_at=self._clock.now(),
            )
            session.add(source)
            session.flush()
            return NewSource(source.id, name, key, source.write_key_hint, source.created_at)

    def revoke(self, name: str) -> int:
        """Revoke the write key of `name` (again is a no-op); gives the source's id."""
        with transaction(self._sessions) as session:
            source = session.scalars(select(Source).where(Source.name == name)).first()
            if source is None:
                raise SourceNotFound(f"no source called {name!r}")
            if source.revoked_at is None:
                source.revoked_at = self._clock.now()
            return source.id

    def list(self) -> list[Source]:
        """Every source, oldest first."""
        with self._sessions() as session:
            return list(session.scalars(select(Source).order_by(Source.id)))

    def active_id(self, key: str) -> int | None:
        """The id of the active source whose write key is `key`, or None."""
        with self._sessions() as session:
            return session.scalars(
                select(Source.id).where(
                    Source.write_key_hash == hash_key(key), Source.revoked_at.is_(None)
                )
            ).first()


class WriteKeyCache:
    """Write-key checks for the request path: answers kept for `ttl` seconds.

    A revoked key therefore stops working within `ttl` seconds in every API process.
    """

    def __init__(self, sources: Sources, ttl: float = 5.0) -> None:
        self._sources = sources
        self._ttl = ttl
        self._answers: dict[str, tuple[float, int | None]] = {}
        self._lock = threading.Lock()

    def source_id(self, key: str) -> int | None:
        """The source for `key`, or None if it is unknown or revoked."""
        now = time.monotonic()
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        answer = self._sources.active_id(key)
        with self._lock:
            if len(self._answers) > 10_000:  # bound memory against random-key floods
                self._answers.clear()
            self._answers[key] = (now, answer)
        return answer

    def forget_source(self, source_id: int) -> None:
        """Drop the kept answers for `source_id`: its revocation counts here at once."""
        with self._lock:
            self._answers = {k: v for k, v in self._answers.items() if v[1] != source_id}
