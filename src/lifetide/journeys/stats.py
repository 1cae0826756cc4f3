"""Live counts of journeys for the Studio and the API: where customers are, what was sent.

Two GROUP BY queries answer for every journey (or one) at once: instances by journey, step,
status and outcome; sends by journey, step and status with their opens, clicks, conversions and
revenue. A done instance counts at the step it ended on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.journeys.definition import EXIT, Journey, next_steps
from lifetide.journeys.store import INSTANCE_STATUSES, SEND_STATUSES
from lifetide.ops.models import JourneyInstance, JourneySend, JourneyVersion, User

# The outbox's statuses, and "bounced", which bounce reports set after a send.
SEND_STATES: tuple[str, ...] = tuple(dict.fromkeys((*SEND_STATUSES, "bounced")))
PAGE_MAX = 500


@dataclass
class SendCounts:
    """Messages of a step or journey: by status, and what customers did with them."""

    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEND_STATES, 0))
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    revenue: float = 0.0
    sent_today: int = 0

    @property
    def total(self) -> int:
        """Every send recorded, whatever its status."""
        return sum(self.by_status.values())

    def add(self, other: SendCounts) -> None:
        """Add `other`'s counts to these."""
        for status, n in other.by_status.items():
            self.by_status[status] = self.by_status.get(status, 0) + n
        self.opened += other.opened
        self.clicked += other.clicked
        self.converted += other.converted
        self.revenue += other.revenue
        self.sent_today += other.sent_today


@dataclass
class StepCounts:
    """One step of a journey: customers there now, customers who ended there, its sends."""

    step: str
    active: int = 0
    waiting: int = 0
    done: int = 0
    sends: SendCounts = field(default_factory=SendCounts)

    @property
    def here(self) -> int:
        """Customers at this step now (active or waiting)."""
        return self.active + self.waiting


@dataclass
class JourneyCounts:
    """A whole journey: its instances by status and outcome, its sends, and each step's."""

    journey_id: int
    active: int = 0
    waiting: int = 0
    done: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    sends: SendCounts = field(default_factory=SendCounts)
    steps: dict[str, StepCounts] = field(default_factory=dict)

    @property
    def in_flight(self) -> int:
        """Customers in the journey now."""
        return self.active + self.waiting

    def step(self, step_id: str) -> StepCounts:
        """The counts of `step_id` (zeros if nothing happened there yet)."""
        return self.steps.get(step_id) or StepCounts(step_id)


def _step(counts: JourneyCounts, step_id: str) -> StepCounts:
    found = counts.steps.get(step_id)
    if found is None:
        found = counts.steps[step_id] = StepCounts(step_id)
    return found


def journey_counts(
    sessions: sessionmaker[Session],
    now: dt.datetime,
    journey_ids: Collection[int] | None = None,
) -> dict[int, JourneyCounts]:
    """Counts of every journey (or of `journey_ids`), by id; "today" is `now`'s UTC day."""
    found: dict[int, JourneyCounts] = {}

    def counts_of(journey_id: int) -> JourneyCounts:
        counts = found.get(journey_id)
        if counts is None:
            counts = found[journey_id] = JourneyCounts(journey_id)
        return counts

    if journey_ids is not None:
        for journey_id in journey_ids:
            counts_of(journey_id)
        if not journey_ids:
            return found
    instances = select(
        JourneyInstance.journey_id,
        JourneyInstance.step,
        JourneyInstance.status,
        JourneyInstance.outcome,
        func.count(),
    ).group_by(
        JourneyInstance.journey_id,
        JourneyInstance.step,
        JourneyInstance.status,
        JourneyInstance.outcome,
    )
    day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    sent_today = case((JourneySend.sent_at >= day, 1), else_=0)
    sends = (
        select(
            JourneyInstance.journey_id,
            JourneySend.step,
            JourneySend.status,
            func.count(),
            func.count(JourneySend.opened_at),
            func.count(JourneySend.clicked_at),
            func.count(JourneySend.converted_at),
            func.coalesce(func.sum(JourneySend.revenue), 0.0),
            func.coalesce(func.sum(sent_today), 0).cast(Integer),
        )
        # The instance knows the journey of every send, also those recorded before the outbox
        # carried journey_id.
        .join(JourneyInstance, JourneyInstance.id == JourneySend.instance_id)
        .group_by(JourneyInstance.journey_id, JourneySend.step, JourneySend.status)
    )
    if journey_ids is not None:
        instances = instances.where(JourneyInstance.journey_id.in_(journey_ids))
        sends = sends.where(JourneyInstance.journey_id.in_(journey_ids))
    with sessions() as session:
        instance_rows = session.execute(instances).all()
        send_rows = session.execute(sends).all()
    for journey_id, step_id, status, outcome, n in instance_rows:
        if status not in INSTANCE_STATUSES:
            continue
        counts = counts_of(int(journey_id))
        step = _step(counts, step_id)
        setattr(counts, status, getattr(counts, status) + n)
        setattr(step, status, getattr(step, status) + n)
        if status == "done":
            key = outcome or "completed"
            counts.outcomes[key] = counts.outcomes.get(key, 0) + n
    for journey_id, step_id, status, n, opened, clicked, converted, revenue, today in send_rows:
        counts = counts_of(int(journey_id))
        step_sends = SendCounts(
            by_status={status: int(n)},
            opened=int(opened),
            clicked=int(clicked),
            converted=int(converted),
            revenue=float(revenue or 0),
            sent_today=int(today or 0),
        )
        _step(counts, step_id).sends.add(step_sends)
        counts.sends.add(step_sends)
    return found


def instances_page(
    sessions: sessionmaker[Session],
    journey_id: int,
    *,
    status: str | None = None,
    step: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[JourneyInstance]:
    """A page of a journey's instances, newest first, optionally at one status or step."""
    if status is not None and status not in INSTANCE_STATUSES:
        raise ValueError(
            f"unknown instance status {status!r}; one of: {', '.join(INSTANCE_STATUSES)}"
        )
    if limit < 1 or offset < 0:
        raise ValueError("limit is at least 1 and offset at least 0")
    query = select(JourneyInstance).where(JourneyInstance.journey_id == journey_id)
    if status is not None:
        query = query.where(JourneyInstance.status == status)
    if step is not None:
        query = query.where(JourneyInstance.step == step)
    query = query.order_by(JourneyInstance.id.desc()).limit(limit).offset(offset)
    with sessions() as session:
        return session.scalars(query).all()


def step_order(journey: Journey) -> list[str]:
    """The step ids in reading order: each path from `start` to its end, then unreached steps.

    A step's main way (`next`, `yes`, `on_event`) is read before its others.
    """
    order: list[str] = []
    seen: set[str] = set()
    todo = [journey.start]
    while todo:
        current = todo.pop()
        if current in seen or current == EXIT or current not in journey.steps:
            continue
        seen.add(current)
        order.append(current)
        todo.extend(reversed(next_steps(journey.steps[current])))
    return order + [s for s in journey.steps if s not in seen]


@dataclass(frozen=True)
class VersionEntry:
    """One saved version of a journey, with who saved it."""

    version: int
    author_email: str | None
    created_at: dt.datetime


def version_history(sessions: sessionmaker[Session], journey_id: int) -> list[VersionEntry]:
    """Every version of a journey, newest first, with its author's e-mail."""
    query = (
        select(JourneyVersion.version, User.email, JourneyVersion.created_at)
        .outerjoin(User, User.id == JourneyVersion.author_id)
        .where(JourneyVersion.journey_id == journey_id)
        .order_by(JourneyVersion.version.desc())
    )
    with sessions() as session:
        return [VersionEntry(int(v), email, at) for v, email, at in session.execute(query)]
