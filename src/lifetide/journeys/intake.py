"""Tracked events into journeys: start instances for triggers, hand events to open instances.

The intake follows the journal, but never past the warehouse loader's cursor, so identity for
every event is already resolved (a first-seen user has a profile). It only appends: opened
instances, `journey_inputs` rows for the instances that listen to an event, and its cursor, all
in one transaction, so a crash replays the batch or nothing of it. Workers do the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock, aware_utc
from lifetide.collect.internal import trusted_profile
from lifetide.collect.journal import Entry, Journal
from lifetide.collect.loader import CURSOR as LOADER_CURSOR
from lifetide.collect.loader import accepted_messages
from lifetide.journeys.cursors import read_cursor, write_cursor
from lifetide.journeys.definition import AbsenceTrigger, EventTrigger, Journey, WaitForEvent
from lifetide.journeys.opening import open_in
from lifetide.journeys.steps import Seen, entry_key
from lifetide.journeys.store import JourneyStore
from lifetide.ops.database import transaction, write_lock
from lifetide.ops.models import Customer, Identity, JourneyInput, JourneyInstance
from lifetide.warehouse.schema import DEVICE_KIND

JOURNAL_CURSOR = "journeys"
BOUNCED = "Email Bounced"
# An event older than this starts no journey: a journal replayed after a long outage, or the
# first start on an old journal, must not send cart reminders for carts of last month.
MAX_TRIGGER_AGE = dt.timedelta(days=2)
LOOKUP_CHUNK = 5000


@dataclass(frozen=True)
class ProfileEvent:
    """A tracked event of a known profile."""

    profile_id: int
    event: str
    properties: Mapping[str, Any]
    at: dt.datetime


@dataclass(frozen=True)
class IntakeResult:
    """What one intake batch did."""

    entries: int
    events: int
    opened: int
    inputs: int


@dataclass(frozen=True)
class LiveJourney:
    """A live journey's current version, and the events its instances listen to."""

    journey_id: int
    version: int
    definition: Journey


def listens_to(journey: Journey) -> frozenset[str]:
    """The event names that can change an instance of `journey` once it is open."""
    names = {BOUNCED}
    if journey.goal is not None:
        names.add(journey.goal.event.event)
    trigger = journey.trigger
    if isinstance(trigger, EventTrigger) and trigger.ends_on is not None:
        names.add(trigger.ends_on.event)
    if isinstance(trigger, AbsenceTrigger):
        names.add(trigger.not_followed_by.event)
    names.update(s.event.event for s in journey.steps.values() if isinstance(s, WaitForEvent))
    return frozenset(names)


class EventIntake:
    """Reads the journal behind the loader and turns events into journey opens and inputs."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, journal: Journal) -> None:
        self._sessions = sessions
        self._clock = clock
        self._journal = journal
        self.store = JourneyStore(sessions, clock)

    def consume(self, max_entries: int = 500) -> IntakeResult:
        """Take up to `max_entries` loaded journal entries; zeros when caught up."""
        upto = self._journal.cursor(LOADER_CURSOR)
        with self._sessions() as session:
            after = int(read_cursor(session, "journal") or 0)
        entries = [e for e in self._journal.read(after, max_entries) if e.seq <= upto]
        if not entries:
            return IntakeResult(0, 0, 0, 0)
        raw = [
            (entry, m)
            for entry in entries
            for m in accepted_messages(entry)
            if m.get("type") == "track" and m.get("event")
        ]
        live = self._live()
        opened = inputs = 0
        with transaction(self._sessions) as session:
            write_lock(session)
            events = _with_profiles(session, raw)
            opened, inputs = self._apply(session, events, live)
            write_cursor(session, "journal", str(entries[-1].seq), self._clock.now())
        self._journal.advance(JOURNAL_CURSOR, entries[-1].seq)
        return IntakeResult(len(entries), len(events), opened, inputs)

    def apply_messages(self, messages: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """Hand track messages to the journeys as if tracked now: (opened, inputs added).

        For messages that do not come through the journal, such as a rehearsal over past events.
        """
        now = self._clock.now()
        # Not internal: their profiles are looked up from their ids, as for the public API.
        entry = Entry(0, now, 0, "identity", None, b"", len(messages))
        raw = [(entry, m) for m in messages if m.get("type") == "track" and m.get("event")]
        if not raw:
            return 0, 0
        live = self._live()
        with transaction(self._sessions) as session:
            write_lock(session)
            return self._apply(session, _with_profiles(session, raw), live)

    def _live(self) -> list[LiveJourney]:
        return [
            LiveJourney(j.id, j.version, self.store.definition_of(j.id, j.version))
            for j in self.store.list("live")
        ]

    def _apply(
        self, session: Session, events: Sequence[ProfileEvent], live: Sequence[LiveJourney]
    ) -> tuple[int, int]:
        now = self._clock.now()
        profiles = {e.profile_id for e in events}
        open_rows = _open_instances(session, profiles)
        versions: dict[tuple[int, int], frozenset[str]] = {}
        opened = inputs = 0
        for event in events:
            seen = Seen(event.event, event.properties, event.at)
            for row in open_rows.get(event.profile_id, []):
                kind = _input_kind(self.store, versions, row, seen)
                if kind is None:
                    continue
                session.add(
                    JourneyInput(
                        instance_id=row.id,
                        kind=kind,
                        event=event.event,
                        properties=_jsonable(event.properties),
                        at=event.at,
                    )
                )
                inputs += 1
            if now - event.at > MAX_TRIGGER_AGE:
                continue
            for journey in live:
                key = entry_key(journey.definition, seen)
                if key is False:
                    continue
                new = open_in(
                    session,
                    journey.journey_id,
                    journey.version,
                    event.profile_id,
                    key if isinstance(key, str) else None,
                    step=journey.definition.start,
                    entered_at=event.at,
                    reentry=journey.definition.reentry,
                )
                if new is not None:
                    opened += 1
                    # Later events of the batch reach it; this one started it.
                    added = session.get(JourneyInstance, new)
                    if added is not None:
                        open_rows.setdefault(event.profile_id, []).append(added)
        return opened, inputs


def _input_kind(
    store: JourneyStore,
    cache: dict[tuple[int, int], frozenset[str]],
    row: JourneyInstance,
    seen: Seen,
) -> str | None:
    """`seen`, `bounced` or None: whether the event matters to the open instance `row`."""
    if seen.event == BOUNCED:
        key = str(seen.properties.get("send_key") or "")
        mine = key.split(":", 1)[0] == str(row.id)
        hard = seen.properties.get("bounce_type", "hard") == "hard"
        return "bounced" if mine and hard else None
    if seen.at < aware_utc(row.entered_at):
        return None
    names = cache.get((row.journey_id, row.version))
    if names is None:
        names = listens_to(store.definition_of(row.journey_id, row.version))
        cache[(row.journey_id, row.version)] = names
    return "seen" if seen.event in names else None


def _open_instances(session: Session, profiles: Iterable[int]) -> dict[int, list[JourneyInstance]]:
    found: dict[int, list[JourneyInstance]] = {}
    wanted = list(profiles)
    if not wanted:
        return found
    query = select(JourneyInstance).where(
        JourneyInstance.profile_id.in_(wanted), JourneyInstance.status != "done"
    )
    for row in session.scalars(query):
        found.setdefault(row.profile_id, []).append(row)
    return found


def _with_profiles(
    session: Session, raw: Sequence[tuple[Any, dict[str, Any]]]
) -> list[ProfileEvent]:
    """Each event with the profile it belongs to (merged profiles: the survivor); others dropped."""
    keys: set[tuple[str, str]] = set()
    for _, m in raw:
        if m.get("userId"):
            keys.add(("user_id", str(m["userId"])))
        if m.get("anonymousId"):
            keys.add((DEVICE_KIND, str(m["anonymousId"])))
    owners: dict[tuple[str, str], int] = {}
    for kind in ("user_id", DEVICE_KIND):
        values = sorted(v for k, v in keys if k == kind)
        # In chunks: PostgreSQL takes at most 65,535 parameters a statement. With the kind
        # the lookup uses the unique (kind, value) index.
        for start in range(0, len(values), LOOKUP_CHUNK):
            query = select(Identity.value, Identity.customer_id).where(
                Identity.kind == kind, Identity.value.in_(values[start : start + LOOKUP_CHUNK])
            )
            for value, customer in session.execute(query).all():
                owners[(kind, value)] = int(customer)
    merged = _survivors(session, set(owners.values()))
    events: list[ProfileEvent] = []
    for entry, m in raw:
        profile = trusted_profile(entry, m)
        if profile is None:
            owner = owners.get(("user_id", str(m.get("userId")))) if m.get("userId") else None
            if owner is None and m.get("anonymousId"):
                owner = owners.get((DEVICE_KIND, str(m["anonymousId"])))
            profile = merged.get(owner, owner) if owner is not None else None
        if profile is None:
            continue
        at = m.get("timestamp")
        when = at if isinstance(at, dt.datetime) else entry.received_at
        events.append(
            ProfileEvent(profile, str(m["event"]), dict(m.get("properties") or {}), aware_utc(when))
        )
    return events


def _survivors(session: Session, ids: set[int]) -> dict[int, int]:
    """For each merged profile among `ids`, the profile it now lives in."""
    result: dict[int, int] = {}
    pending = set(ids)
    pointer: dict[int, int] = {}
    while pending:
        rows = session.execute(
            select(Customer.id, Customer.merged_into_id).where(
                Customer.id.in_(pending), Customer.merged_into_id.is_not(None)
            )
        ).all()
        found = {int(a): int(b) for a, b in rows if b is not None}
        pointer.update(found)
        pending = {b for b in found.values() if b not in pointer} - set(pointer)
    for start in ids:
        current, hops = start, 0
        while current in pointer and hops < 50:
            current, hops = pointer[current], hops + 1
        if current != start:
            result[start] = current
    return result


def _jsonable(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Event properties as JSON can hold them (decimals and times become text)."""
    return dict(orjson.loads(orjson.dumps(properties, default=str)))
