"""Positions of the journey trigger sources, kept in the operational database.

Each is written in the same transaction as what was done up to it, so a crash neither skips
nor repeats a source's entries.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from lifetide.ops.models import JourneyCursor


def read_cursor(session: Session, name: str) -> str | None:
    """The stored position of `name`, or None before its first batch."""
    row = session.get(JourneyCursor, name)
    return None if row is None else row.value


def write_cursor(session: Session, name: str, value: str, now: dt.datetime) -> None:
    """Set the position of `name` inside the caller's transaction."""
    row = session.get(JourneyCursor, name)
    if row is None:
        session.add(JourneyCursor(name=name, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now
