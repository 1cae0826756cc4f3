"""Journeys in the operational database: versions, customers' places in them, claims and sends.

Invariants kept here, whatever the caller checked before:
- One open (not done) instance per (journey, profile, key). No portable unique index says "among
  rows not done", so `open_instance` checks and inserts in one transaction that holds a lock on
  that triple: a transaction-scoped advisory lock on PostgreSQL, the database write lock on
  SQLite (`BEGIN IMMEDIATE`; SQLite has one writer at a time).
- A claimed instance belongs to one worker until its lease ends. PostgreSQL claims with
  `SELECT ... FOR UPDATE SKIP LOCKED`, so several workers take disjoint batches without waiting
  on each other; SQLite claims under its write lock (one worker).
- A send's idempotency key is unique: `record_send` inserts the row before the provider is called,
  and a duplicate key means the send was already recorded, so it never goes out twice.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock, aware_utc, require_aware
from lifetide.journeys.definition import Journey, Reentry
from lifetide.journeys.opening import open_in
from lifetide.journeys.steps import Instance, Outcome, Status
from lifetide.ops.database import among, transaction, write_lock
from lifetide.ops.models import (
    JourneyInput,
    JourneyInstance,
    JourneyRecord,
    JourneySend,
    JourneyVersion,
)

JOURNEY_STATUSES = ("draft", "live", "paused", "stopped")
INSTANCE_STATUSES = ("active", "waiting", "done")
SEND_STATUSES = ("pending", "sending", "sent", "skipped", "deferred", "bounced", "failed")
NAME_MAX = 200
# What start, pause and stop do, and from which statuses each may be asked.
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": (("draft", "paused", "stopped"), "live"),
    "pause": (("live",), "paused"),
    "stop": (("draft", "live", "paused"), "stopped"),
}


class JourneyError(ValueError):
    """A journey change that cannot be made as asked (bad name, status, duplicate name)."""


class JourneyNotFound(LookupError):
    """No journey, version, instance or send has that id or key."""


@dataclass(frozen=True)
class StoredInstance(Instance):
    """A `steps.Instance` as stored: also the journey version it runs and its trigger key.

    It is an `Instance`, so the step function takes it as is, and `dataclasses.replace` (which
    the step function uses) keeps the version and key.
    """

    version: int = 1


def _utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else aware_utc(value)


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise JourneyError("a journey needs a name")
    if len(cleaned) > NAME_MAX:
        raise JourneyError(f"a journey name may have at most {NAME_MAX} characters")
    return cleaned


class JourneyStore:
    """Journeys, their versions, instances and sends in the operational database."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        # A version's definition never changes once saved, so it can be kept.
        self._definitions: dict[tuple[int, int], Journey] = {}

    # -- journeys ------------------------------------------------------------------------

    def create(self, name: str, definition: Journey, owner_id: int | None) -> JourneyRecord:
        """Save a new journey (a draft) and its version 1; JourneyError if the name is taken."""
        name = _clean_name(name)
        now = self._clock.now()
        try:
            with transaction(self._sessions) as session:
                taken = session.scalar(
                    select(JourneyRecord.id).where(func.lower(JourneyRecord.name) == name.lower())
                )
                if taken is not None:
                    raise JourneyError(f"a journey named {name!r} already exists")
                record = JourneyRecord(
                    name=name,
                    status="draft",
                    version=1,
                    owner_id=owner_id,
                    created_at=now,
                    updated_at=now,
                )
                session.add(record)
                session.flush()
                session.add(_version(record.id, 1, definition, owner_id, now))
                return record
        except IntegrityError as err:
            # Two creates with one name at once: the unique constraint decides.
            raise JourneyError(f"a journey named {name!r} already exists") from err

    def update(self, journey_id: int, definition: Journey, author_id: int | None) -> JourneyRecord:
        """Save a new version of the journey's definition (none if it is unchanged).

        Instances already running keep the version they started on.
        """
        now = self._clock.now()
        stored = definition.model_dump(mode="json")
        with transaction(self._sessions) as session:
            write_lock(session)
            record = session.get(JourneyRecord, journey_id, with_for_update=True)
            if record is None:
                raise JourneyNotFound(f"no journey {journey_id}")
            current = session.scalar(
                select(JourneyVersion.definition).where(
                    JourneyVersion.journey_id == journey_id,
                    JourneyVersion.version == record.version,
                )
            )
            if current != stored:
                record.version += 1
                session.add(_version(journey_id, record.version, definition, author_id, now))
                record.updated_at = now
            return record

    def set_status(self, journey_id: int, status: str) -> JourneyRecord:
        """Make the journey draft, live, paused or stopped."""
        if status not in JOURNEY_STATUSES:
            raise JourneyError(
                f"unknown journey status {status!r}; one of: {', '.join(JOURNEY_STATUSES)}"
            )
        with transaction(self._sessions) as session:
            record = session.get(JourneyRecord, journey_id)
            if record is None:
                raise JourneyNotFound(f"no journey {journey_id}")
            record.status = status
            record.updated_at = self._clock.now()
            return record

    def transition(self, journey_id: int, action: str) -> JourneyRecord:
        """Start, pause or stop a journey; JourneyError if its status does not allow it."""
        if action not in ACTIONS:
            raise JourneyError(f"unknown action {action!r}; one of: {', '.join(ACTIONS)}")
        allowed, target = ACTIONS[action]
        with transaction(self._sessions) as session:
            record = session.get(JourneyRecord, journey_id, with_for_update=True)
            if record is None:
                raise JourneyNotFound(f"no journey {journey_id}")
            if record.status not in allowed:
                raise JourneyError(
                    f"journey {journey_id} is {record.status}: it cannot {action} "
                    f"(only a journey that is {' or '.join(allowed)} can)"
                )
            record.status = target
            record.updated_at = self._clock.now()
            return record

    def get(self, journey_id: int) -> JourneyRecord:
        """The journey `journey_id`; JourneyNotFound if there is none."""
        with self._sessions() as session:
            record = session.get(JourneyRecord, journey_id)
            if record is None:
                raise JourneyNotFound(f"no journey {journey_id}")
            return record

    def list(self, status: str | None = None) -> Sequence[JourneyRecord]:
        """Every journey (or those with `status`), by name."""
        query = select(JourneyRecord).order_by(JourneyRecord.name)
        if status is not None:
            query = query.where(JourneyRecord.status == status)
        with self._sessions() as session:
            return session.scalars(query).all()

    def versions(self, journey_id: int) -> Sequence[JourneyVersion]:
        """Every saved version of a journey, newest first."""
        query = (
            select(JourneyVersion)
            .where(JourneyVersion.journey_id == journey_id)
            .order_by(JourneyVersion.version.desc())
        )
        with self._sessions() as session:
            return session.scalars(query).all()

    def definition_of(self, journey_id: int, version: int) -> Journey:
        """The definition of one version of a journey."""
        cached = self._definitions.get((journey_id, version))
        if cached is not None:
            return cached
        with self._sessions() as session:
            stored = session.scalar(
                select(JourneyVersion.definition).where(
                    JourneyVersion.journey_id == journey_id, JourneyVersion.version == version
                )
            )
        if stored is None:
            raise JourneyNotFound(f"journey {journey_id} has no version {version}")
        definition = Journey.model_validate(stored)
        self._definitions[(journey_id, version)] = definition
        return definition

    # -- instances -----------------------------------------------------------------------

    def open_instance(
        self,
        journey_id: int,
        version: int,
        profile_id: int,
        key: str | None,
        *,
        step: str,
        worker: str | None = None,
        lease: dt.timedelta | None = None,
        reentry: Reentry | None = None,
    ) -> int | None:
        """A new active instance at `step`, or None if one is open for (journey, profile, key).

        The caller then runs `steps.start` with the id and `save`s the result. With `worker`
        and `lease` the instance is claimed from the start, so no other worker takes it before
        it is saved; if the opener dies, it is claimed again when the lease ends, still active
        with no visits, which tells the engine to start it again (same send keys, so nothing
        goes out twice). With `reentry`, a customer who went through the journey before enters
        again only as it allows.
        """
        if (worker is None) != (lease is None):
            raise ValueError("open_instance needs both worker and lease, or neither")
        now = self._clock.now()
        with transaction(self._sessions) as session:
            write_lock(session)
            return open_in(
                session,
                journey_id,
                version,
                profile_id,
                key,
                step=step,
                entered_at=now,
                reentry=reentry,
                worker=worker,
                claimed_until=None if lease is None else now + lease,
            )

    def save(self, instance: Instance, *, release: bool = False) -> None:
        """Store the state of `instance` (from the step function); `release` ends its claim."""
        if instance.status not in INSTANCE_STATUSES:
            raise ValueError(f"unknown instance status {instance.status!r}")
        values: dict[str, Any] = {
            "status": instance.status,
            "step": instance.step,
            "visits": dict(instance.visits),
            "wake_at": None
            if instance.wake_at is None
            else require_aware(instance.wake_at, "wake_at"),
            "step_started_at": require_aware(instance.step_started_at, "step_started_at"),
            "outcome": instance.outcome,
            "finished_at": require_aware(instance.step_started_at, "step_started_at")
            if instance.status == "done"
            else None,
        }
        if release:
            values.update(claimed_by=None, claimed_until=None)
        with transaction(self._sessions) as session:
            result = session.execute(
                update(JourneyInstance)
                .where(JourneyInstance.id == instance.instance_id)
                .values(**values)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise JourneyNotFound(f"no journey instance {instance.instance_id}")

    def load(self, instance_id: int) -> StoredInstance:
        """The instance `instance_id` as the step function takes it."""
        with self._sessions() as session:
            row = session.get(JourneyInstance, instance_id)
            if row is None:
                raise JourneyNotFound(f"no journey instance {instance_id}")
            return self.to_state(row)

    @staticmethod
    def to_state(row: JourneyInstance) -> StoredInstance:
        """A stored row as a `steps.Instance` (with its version and key)."""
        status: Status = row.status  # type: ignore[assignment]
        outcome: Outcome | None = row.outcome  # type: ignore[assignment]
        visits: Mapping[str, int] = {str(k): int(v) for k, v in (row.visits or {}).items()}
        return StoredInstance(
            instance_id=int(row.id),
            profile_id=int(row.profile_id),
            journey_id=int(row.journey_id),
            step=row.step,
            status=status,
            entered_at=aware_utc(row.entered_at),
            step_started_at=aware_utc(row.step_started_at),
            wake_at=_utc_or_none(row.wake_at),
            outcome=outcome,
            visits=visits,
            version=int(row.version),
            instance_key=row.instance_key,
        )

    def claim_due(
        self, worker: str, now: dt.datetime, limit: int, lease: dt.timedelta
    ) -> builtins.list[StoredInstance]:
        """Claim up to `limit` instances due at `now` for `worker` until `now + lease`.

        Due, and not claimed (or claimed with the lease over), of a live journey: active (just
        opened, or mid-walk when a worker stopped); waiting with its wake time passed; waiting
        with an input (an event, a bounce) to apply; or any waiting instance of a stopped
        journey (each is ended). Each kind is its own indexed query: one query OR-ing them
        made the database walk every waiting instance with correlated subqueries.
        """
        if limit < 1:
            return []
        now = require_aware(now, "now")
        free = or_(JourneyInstance.claimed_until.is_(None), JourneyInstance.claimed_until <= now)
        waiting = JourneyInstance.status == "waiting"
        with transaction(self._sessions) as session:
            write_lock(session)
            status = dict(session.execute(select(JourneyRecord.id, JourneyRecord.status)).all())
            live = [j for j, s in status.items() if s == "live"]
            stopped = [j for j, s in status.items() if s == "stopped"]
            kinds = [
                select(JourneyInstance)
                .where(
                    JourneyInstance.status == "active",
                    JourneyInstance.journey_id.in_(live + stopped),
                )
                .order_by(JourneyInstance.wake_at, JourneyInstance.id),
                select(JourneyInstance)
                .where(
                    waiting, JourneyInstance.wake_at <= now, JourneyInstance.journey_id.in_(live)
                )
                .order_by(JourneyInstance.wake_at, JourneyInstance.id),
                select(JourneyInstance).where(
                    waiting,
                    JourneyInstance.id.in_(select(JourneyInput.instance_id)),
                    JourneyInstance.journey_id.in_(live),
                ),
                select(JourneyInstance).where(waiting, JourneyInstance.journey_id.in_(stopped)),
            ]
            rows: dict[int, JourneyInstance] = {}
            for query in kinds if live or stopped else []:
                if len(rows) >= limit:
                    break
                # PostgreSQL: rows another worker is claiming are passed over, not waited for.
                # SQLite ignores it; its write lock (taken first) keeps claims apart.
                found = session.scalars(
                    query.where(free).limit(limit - len(rows)).with_for_update(skip_locked=True)
                )
                for row in found:
                    rows.setdefault(row.id, row)
            if not rows:
                return []
            session.execute(
                update(JourneyInstance)
                .where(among(session, JourneyInstance.id, rows))
                .values(claimed_by=worker, claimed_until=now + lease)
                .execution_options(synchronize_session=False)
            )
            return [self.to_state(row) for row in rows.values()]

    def release(self, instance_id: int) -> None:
        """End the claim on an instance, so any worker may take it when it is due."""
        with transaction(self._sessions) as session:
            session.execute(
                update(JourneyInstance)
                .where(JourneyInstance.id == instance_id)
                .values(claimed_by=None, claimed_until=None)
            )

    # -- sends ---------------------------------------------------------------------------

    def record_send(
        self, instance_id: int, key: str, step: str, channel: str, template: str
    ) -> bool:
        """Record a send as pending before it goes out; False if `key` was recorded already."""
        row = JourneySend(
            instance_id=instance_id,
            idempotency_key=key,
            step=step,
            channel=channel,
            template=template,
            status="pending",
            created_at=self._clock.now(),
        )
        try:
            with transaction(self._sessions) as session:
                session.add(row)
        except IntegrityError:
            # The key is taken (already recorded), or the instance does not exist.
            if self.send(key) is None:
                raise
            return False
        return True

    def mark_sent(self, key: str, provider_message_id: str | None, now: dt.datetime) -> None:
        """The provider accepted the message: sent, when, and its id there."""
        self._set_send(
            key,
            status="sent",
            sent_at=require_aware(now, "now"),
            provider_message_id=provider_message_id,
        )

    def mark(self, key: str, status: str, reason: str | None) -> None:
        """Set a send's status (pending, sent, skipped, deferred, failed) and why."""
        if status not in SEND_STATUSES:
            raise ValueError(f"unknown send status {status!r}; one of: {', '.join(SEND_STATUSES)}")
        self._set_send(key, status=status, reason=reason)

    def send(self, key: str) -> JourneySend | None:
        """The send recorded under `key`, if any."""
        with self._sessions() as session:
            return session.scalar(select(JourneySend).where(JourneySend.idempotency_key == key))

    def sends_of(self, instance_id: int) -> Sequence[JourneySend]:
        """Every send of an instance, oldest first."""
        query = (
            select(JourneySend)
            .where(JourneySend.instance_id == instance_id)
            .order_by(JourneySend.id)
        )
        with self._sessions() as session:
            return session.scalars(query).all()

    def _set_send(self, key: str, **values: Any) -> None:
        with transaction(self._sessions) as session:
            result = session.execute(
                update(JourneySend).where(JourneySend.idempotency_key == key).values(**values)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise JourneyNotFound(f"no journey send with key {key!r}")


def _version(
    journey_id: int, version: int, definition: Journey, author_id: int | None, now: dt.datetime
) -> JourneyVersion:
    return JourneyVersion(
        journey_id=journey_id,
        version=version,
        definition=definition.model_dump(mode="json"),
        author_id=author_id,
        created_at=now,
    )
