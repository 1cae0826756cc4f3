"""Opening a journey instance: at most one open per (journey, customer, key), re-entry kept."""

from __future__ import annotations

import datetime as dt
import zlib

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from lifetide.clock import aware_utc, require_aware
from lifetide.journeys.definition import Reentry
from lifetide.ops.database import write_lock
from lifetide.ops.models import JourneyInstance


def lock_open_key(session: Session, journey_id: int, profile_id: int, key: str | None) -> None:
    """Serialize opens of one (journey, profile, key) until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        # Two int4 keys; a hash collision only makes two unrelated opens wait on each other.
        mixed = zlib.crc32(f"{profile_id}:{key}".encode()) - 2**31
        session.execute(
            text("SELECT pg_advisory_xact_lock(:journey, :mixed)"),
            {"journey": journey_id % 2**31, "mixed": mixed},
        )
    else:
        write_lock(session)


def open_in(
    session: Session,
    journey_id: int,
    version: int,
    profile_id: int,
    key: str | None,
    *,
    step: str,
    entered_at: dt.datetime,
    reentry: Reentry | None = None,
    worker: str | None = None,
    claimed_until: dt.datetime | None = None,
) -> int | None:
    """Open an instance inside the caller's transaction; None if one is open or re-entry forbids.

    On SQLite the caller must hold the write lock (`ops.database.write_lock`) from the start of
    its transaction; on PostgreSQL a transaction-scoped advisory lock on (journey, profile,
    key) is taken here.
    """
    if session.get_bind().dialect.name == "postgresql":
        lock_open_key(session, journey_id, profile_id, key)
    same_key = (
        JourneyInstance.instance_key.is_(None)
        if key is None
        else JourneyInstance.instance_key == key
    )
    mine = (JourneyInstance.journey_id == journey_id) & (JourneyInstance.profile_id == profile_id)
    open_already = session.scalar(
        select(JourneyInstance.id).where(mine, same_key, JourneyInstance.status != "done").limit(1)
    )
    if open_already is not None:
        return None
    if reentry is not None:
        last = session.scalar(select(func.max(JourneyInstance.entered_at)).where(mine))
        if last is not None:
            if reentry.kind == "never":
                return None
            if aware_utc(last) + dt.timedelta(days=reentry.days or 0) > entered_at:
                return None
    row = JourneyInstance(
        journey_id=journey_id,
        version=version,
        profile_id=profile_id,
        instance_key=key,
        status="active",
        step=step,
        visits={},
        entered_at=require_aware(entered_at, "entered_at"),
        step_started_at=require_aware(entered_at, "entered_at"),
        wake_at=require_aware(entered_at, "entered_at"),
        claimed_by=worker,
        claimed_until=claimed_until,
    )
    session.add(row)
    session.flush()
    return int(row.id)
