"""Tracking sources and write keys: created, listed, revoked, and checked on every request."""

from __future__ import annotations

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


class SourceError(ValueError):
    """A source operation that cannot be done as asked."""


@dataclass(frozen=True)
class NewSource:
    """A source just created, with its write key: shown once, never stored in the clear."""

    id: int
    name: str
    write_key: str


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
        name = name.strip()
        if not name:
            raise SourceError("a source needs a name")
        key = KEY_PREFIX + secrets.token_urlsafe(24)
        with transaction(self._sessions) as session:
            if session.scalars(select(Source).where(Source.name == name)).first():
                raise SourceError(f"a source called {name!r} exists already")
            source = Source(
                name=name,
                write_key_hash=hash_key(key),
                write_key_hint=key[: len(KEY_PREFIX) + 4],
                created_at=self._clock.now(),
            )
            session.add(source)
            session.flush()
            return NewSource(source.id, name, key)

    def revoke(self, name: str) -> None:
        """Revoke the write key of `name`; requests with it are refused from now on."""
        with transaction(self._sessions) as session:
            source = session.scalars(select(Source).where(Source.name == name)).first()
            if source is None:
                raise SourceError(f"no source called {name!r}")
            if source.revoked_at is None:
                source.revoked_at = self._clock.now()

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
