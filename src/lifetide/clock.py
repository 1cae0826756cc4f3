"""Time as a dependency: code asks a Clock, so tests and simulations can move time by hand."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """The same instant as the warehouse stores it: UTC without a zone (naive passes as is)."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def aware_utc(moment: dt.datetime) -> dt.datetime:
    """`moment` as an aware UTC time; naive ones (SQLite hands them back) were stored as UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def require_aware(moment: dt.datetime, what: str) -> dt.datetime:
    """`moment` in UTC; ValueError naming `what` if it has no zone (it would be stored as is)."""
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(dt.UTC)


class Clock(Protocol):
    """Something that says what time it is, always in UTC."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that stands still until told to move: for tests and simulations."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        """The time the clock was last set to."""
        return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move the clock forward by `delta` and return the new time."""
        if delta < dt.timedelta(0):
            raise ValueError("a clock does not go backwards")
        self._now += delta
        return self._now

    def set(self, when: dt.datetime) -> None:
        """Move the clock to `when` (timezone-aware, not earlier than now)."""
        if when.tzinfo is None:
            raise ValueError("ManualClock.set needs a timezone-aware time")
        self.advance(when.astimezone(dt.UTC) - self._now)
