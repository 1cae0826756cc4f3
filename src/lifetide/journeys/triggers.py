"""Journeys started by what the warehouse knows: segment entries and exits, and dates.

- Segment triggers read `segment_changes` (appended by every refresh) past their cursor, the
  refresh id, and open an instance per profile that entered (or exited) the segment.
- Date triggers scan once per day and journey: a prediction's date column (replenishment due)
  or a profile trait holding a date (birthday, yearly). The instance key is the date, so one
  date starts at most one instance, and the day's cursor is stored with the opens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock, aware_utc
from lifetide.journeys.cursors import read_cursor, write_cursor
from lifetide.journeys.definition import DateTrigger, SegmentTrigger
from lifetide.journeys.intake import MAX_TRIGGER_AGE, LiveJourney
from lifetide.journeys.opening import open_in
from lifetide.journeys.store import JourneyStore
from lifetide.ops.database import transaction, write_lock
from lifetide.ops.models import Customer
from lifetide.segments.tables import CHANGES
from lifetide.warehouse.connection import Warehouse

SEGMENT_CURSOR = "segment_changes"
# Opens are written in chunks so one large refresh (100k entered) is not one huge transaction.
CHUNK = 2000
# How many missed days a date trigger catches up after an outage.
CATCH_UP_DAYS = 7


class WarehouseTriggers:
    """Opens journey instances for segment changes and dates."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, warehouse: Warehouse) -> None:
        self._sessions = sessions
        self._clock = clock
        self._warehouse = warehouse
        self.store = JourneyStore(sessions, clock)

    def _live(self) -> list[LiveJourney]:
        return [
            LiveJourney(j.id, j.version, self.store.definition_of(j.id, j.version))
            for j in self.store.list("live")
        ]

    def segments(self, limit: int = 20_000) -> int:
        """Open instances for up to `limit` segment changes past the cursor; how many opened.

        The cursor is (refresh id, profile id), so a refresh larger than `limit` is taken in
        pages, none of its members skipped.
        """
        live = [j for j in self._live() if isinstance(j.definition.trigger, SegmentTrigger)]
        with self._sessions() as session:
            after = _position(read_cursor(session, SEGMENT_CURSOR))
        backend = self._warehouse.thread_backend()
        if CHANGES not in backend.list_tables():
            return 0
        changes = backend.table(CHANGES)
        refresh, profile = after
        past = (changes.refresh_id > refresh) | (
            (changes.refresh_id == refresh) & (changes.profile_id > profile)
        )
        rows = (
            changes.filter(past)
            .select("segment_id", "profile_id", "change", "changed_at", "refresh_id")
            .order_by(["refresh_id", "profile_id"])
            .limit(limit)
            .to_pyarrow()
            .to_pylist()
        )
        opened = 0
        for start in range(0, len(rows), CHUNK):
            opened += self._open_chunk(rows[start : start + CHUNK], live)
        return opened

    def _open_chunk(self, rows: Sequence[dict[str, Any]], live: Sequence[LiveJourney]) -> int:
        """Open the chunk's instances and move the cursor past it, in one transaction."""
        opened = 0
        now = self._clock.now()
        with transaction(self._sessions) as session:
            write_lock(session)
            for row in rows:
                at = aware_utc(row["changed_at"])
                # As for events: an old refresh (a journey started long after) starts nothing,
                # so going live does not sweep in everyone who entered the segment last month.
                if now - at > MAX_TRIGGER_AGE:
                    continue
                for journey in live:
                    trigger = journey.definition.trigger
                    assert isinstance(trigger, SegmentTrigger)
                    if trigger.segment_id != row["segment_id"] or trigger.on != row["change"]:
                        continue
                    opened += self._open(session, journey, int(row["profile_id"]), None, at)
            last = rows[-1]
            position = f"{int(last['refresh_id'])}:{int(last['profile_id'])}"
            write_cursor(session, SEGMENT_CURSOR, position, now)
        return opened

    def dates(self) -> int:
        """Open instances for date-triggered journeys, for each day not scanned yet.

        Days a worker missed (it was down) are caught up, up to `CATCH_UP_DAYS`, so a
        birthday or a replenishment date is not lost to an outage.
        """
        today = self._clock.now().date()
        opened = 0
        for journey in self._live():
            trigger = journey.definition.trigger
            if not isinstance(trigger, DateTrigger):
                continue
            name = f"dates:{journey.journey_id}"
            with self._sessions() as session:
                stored = read_cursor(session, name)
            last = dt.date.fromisoformat(stored) if stored else today - dt.timedelta(days=1)
            day = max(last + dt.timedelta(days=1), today - dt.timedelta(days=CATCH_UP_DAYS))
            while day <= today:
                opened += self._scan_day(journey, trigger, day, name)
                day += dt.timedelta(days=1)
        return opened

    def _scan_day(self, journey: LiveJourney, trigger: DateTrigger, day: dt.date, name: str) -> int:
        # The date that, offset, falls on `day`: 3 days before replenishment is due, etc.
        target = day - dt.timedelta(days=trigger.offset_days)
        profiles = (
            self._predicted(trigger.field, target)
            if trigger.source == "prediction"
            else self._traits(trigger.field, target, trigger.yearly)
        )
        now = self._clock.now()
        opened = 0
        with transaction(self._sessions) as session:
            write_lock(session)
            for profile_id in profiles:
                opened += self._open(session, journey, profile_id, target.isoformat(), now)
            write_cursor(session, name, day.isoformat(), now)
        return opened

    def _open(
        self,
        session: Session,
        journey: LiveJourney,
        profile_id: int,
        key: str | None,
        at: dt.datetime,
    ) -> int:
        new = open_in(
            session,
            journey.journey_id,
            journey.version,
            profile_id,
            key,
            step=journey.definition.start,
            entered_at=at,
            reentry=journey.definition.reentry,
        )
        return 0 if new is None else 1

    def _predicted(self, field: str, day: dt.date) -> list[int]:
        backend = self._warehouse.thread_backend()
        if "predictions" not in backend.list_tables():
            return []
        predictions = backend.table("predictions")
        if field not in predictions.columns:
            return []
        column = predictions[field]
        picked = predictions.filter(column.cast("date") == day).select("profile_id")
        return [int(v) for v in picked.to_pyarrow().column("profile_id").to_pylist()]

    def _traits(self, field: str, day: dt.date, yearly: bool) -> list[int]:
        found: list[int] = []
        query = select(Customer.id, Customer.traits).where(Customer.merged_into_id.is_(None))
        with self._sessions() as session:
            for profile_id, traits in session.execute(query).all():
                value = _date((traits or {}).get(field))
                if value is not None and _falls_on(value, day, yearly):
                    found.append(int(profile_id))
        return found


def _position(stored: str | None) -> tuple[int, int]:
    """The (refresh id, profile id) a stored cursor names; before the first change: (0, 0)."""
    if not stored:
        return 0, 0
    refresh, _, profile = stored.partition(":")
    return int(refresh), int(profile) if profile else 2**63 - 1


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _falls_on(value: dt.date, day: dt.date, yearly: bool) -> bool:
    """Whether a date (yearly: its anniversary) is `day`; 29 February falls on the 28th."""
    if not yearly:
        return value == day
    if (value.month, value.day) == (day.month, day.day):
        return True
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    return (value.month, value.day) == (2, 29) and not leap and (day.month, day.day) == (2, 28)
