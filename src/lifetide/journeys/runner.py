"""Moving due journey instances forward: claim a batch, apply the step function, store it all.

One batch is: claim up to N due instances (a lease, SKIP LOCKED on PostgreSQL), read what the
step function may ask about their customers in a few queries, apply every pending input (events,
bounces) and then the clock to each instance, and write the new states, the sends they produced
(the outbox), their profile updates and goal conversions in ONE transaction that first checks the
claims still hold. A worker killed at any point leaves either the old state with its inputs, or
the new state with its sends; the idempotency key of each send makes a replay insert nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock, aware_utc
from lifetide.journeys.definition import Journey
from lifetide.journeys.exposures import record_exposures
from lifetide.journeys.facts import Person, SegmentMatcher, people
from lifetide.journeys.steps import (
    Action,
    Bounced,
    Exposed,
    Facts,
    Finished,
    Input,
    Instance,
    Seen,
    SendMessage,
    Skipped,
    Stop,
    Tick,
    UpdateTraits,
    advance,
    start,
)
from lifetide.journeys.store import JourneyStore, StoredInstance
from lifetide.messaging.promos import PromoCodes, PromoError
from lifetide.ops.database import among, insert_for, transaction, write_lock
from lifetide.ops.models import (
    Customer,
    JourneyInput,
    JourneyInstance,
    JourneyRecord,
    JourneySend,
)
from lifetide.segments.rules import Rule

DEFAULT_LEASE = dt.timedelta(minutes=5)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchResult:
    """What one batch did."""

    claimed: int
    advanced: int
    sends: int
    finished: int
    lost: int


@dataclass
class _Outcome:
    instance: Instance
    actions: list[Action]
    inputs: list[int]
    person: Person
    goal: Mapping[str, Any] | None = None


Evaluator = Callable[[Rule, list[int]], set[int]]


class JourneyRunner:
    """Claims due instances and moves them forward, a batch at a time."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        worker: str,
        evaluate: Evaluator,
        *,
        lease: dt.timedelta = DEFAULT_LEASE,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._worker = worker
        self._evaluate = evaluate
        self._lease = lease
        self.store = JourneyStore(sessions, clock)
        self._promos = PromoCodes(sessions, clock)

    def run_batch(self, limit: int = 2000) -> BatchResult:
        """Claim and advance up to `limit` due instances; zeros when none is due."""
        now = self._clock.now()
        claimed = self.store.claim_due(self._worker, now, limit, self._lease)
        if not claimed:
            return BatchResult(0, 0, 0, 0, 0)
        ids = [c.instance_id for c in claimed]
        with self._sessions() as session:
            inputs = _inputs_of(session, ids)
            status = dict(
                session.execute(
                    select(JourneyRecord.id, JourneyRecord.status).where(
                        JourneyRecord.id.in_({c.journey_id for c in claimed})
                    )
                ).all()
            )
            persons = people(session, {c.profile_id for c in claimed})
        matcher = SegmentMatcher(self._evaluate, sorted({c.profile_id for c in claimed}))
        outcomes: list[_Outcome] = []
        for c in claimed:
            try:
                outcomes.append(
                    self._advance(
                        c,
                        inputs.get(c.instance_id, []),
                        status.get(c.journey_id),
                        persons,
                        matcher,
                        now,
                    )
                )
            except Exception:
                # One instance that cannot move (its version gone, the warehouse down for a
                # branch) must not hold up the batch: it keeps its claim until the lease ends,
                # then is tried again.
                log.exception("journey instance %s could not be advanced", c.instance_id)
        result = self._write(outcomes, now, len(claimed))
        self._redeem([o.goal for o in outcomes if o.goal is not None])
        return result

    def _redeem(self, goals: list[Mapping[str, Any]]) -> None:
        """Mark the promo codes the goal orders used (Segment's `coupon` property) redeemed."""
        for goal in goals:
            code, order = goal.get("coupon"), goal.get("order_id")
            if not code or order is None:
                continue
            at = goal.get("at")
            try:
                self._promos.redeem(
                    str(code), str(order), at if isinstance(at, dt.datetime) else None
                )
            except PromoError as err:
                # A code of another campaign, expired or used: the order still counts.
                log.info("order %s: promo code not redeemed: %s", order, err)

    def _advance(
        self,
        instance: StoredInstance,
        inputs: list[tuple[int, Input]],
        journey_status: str | None,
        persons: Mapping[int, Person],
        matcher: SegmentMatcher,
        now: dt.datetime,
    ) -> _Outcome:
        journey = self.store.definition_of(instance.journey_id, instance.version)
        person = persons.get(instance.profile_id, Person(instance.profile_id))
        facts = Facts(
            time_zone=person.time_zone,
            matches=lambda rule: matcher.matches(rule, instance.profile_id),
            reachable=person.reachable,
        )
        actions: list[Action] = []
        state: Instance = instance
        goal: Mapping[str, Any] | None = None
        if journey_status == "stopped":
            state, done = advance(journey, state, Stop(now, "journey stopped"), facts)
            return _Outcome(state, done, [i for i, _ in inputs], person)
        if state.status == "active" and not state.visits:
            state, started = _restart(journey, instance, facts)
            actions += started
        for _, happened in inputs:
            state, more = advance(journey, state, happened, facts)
            actions += more
            if goal is None and isinstance(happened, Seen) and _reached_goal(more):
                goal = {"event": happened.event, "at": happened.at, **happened.properties}
        state, more = advance(journey, state, Tick(now), facts)
        actions += more
        return _Outcome(state, actions, [i for i, _ in inputs], person, goal)

    def _write(self, outcomes: list[_Outcome], now: dt.datetime, claimed: int) -> BatchResult:
        sends = finished = lost = 0
        with transaction(self._sessions) as session:
            write_lock(session)
            ids = [o.instance.instance_id for o in outcomes]
            held = set(
                session.scalars(
                    select(JourneyInstance.id)
                    .where(
                        among(session, JourneyInstance.id, ids),
                        JourneyInstance.claimed_by == self._worker,
                        JourneyInstance.claimed_until > now,
                    )
                    .with_for_update()
                )
            )
            kept = [o for o in outcomes if o.instance.instance_id in held]
            lost = len(outcomes) - len(kept)
            if kept:
                session.execute(update(JourneyInstance), [_row(o.instance) for o in kept])
                consumed = [i for o in kept for i in o.inputs]
                if consumed:
                    session.execute(delete(JourneyInput).where(JourneyInput.id.in_(consumed)))
                rows = [
                    _send_row(o.instance, a, now, o.person)
                    for o in kept
                    for a in o.actions
                    if isinstance(a, SendMessage | Skipped)
                ]
                sends = _insert_sends(session, rows)
                exposures = [
                    _exposure_row(o.instance, a, now)
                    for o in kept
                    for a in o.actions
                    if isinstance(a, Exposed)
                ]
                record_exposures(session, exposures)
                for o in kept:
                    for action in o.actions:
                        if isinstance(action, UpdateTraits):
                            _update_traits(session, o.instance.profile_id, action.traits, now)
                    if o.goal is not None:
                        _credit(session, o.instance.instance_id, o.goal)
                finished = sum(1 for o in kept if o.instance.status == "done")
        return BatchResult(claimed, len(kept), sends, finished, lost)


def _restart(
    journey: Journey, instance: StoredInstance, facts: Facts
) -> tuple[Instance, list[Action]]:
    """Start an opened instance at its entry time (its opener, or a worker that died, left it)."""
    fresh, actions = start(
        journey,
        instance.instance_id,
        instance.profile_id,
        instance.journey_id,
        instance.entered_at,
        facts,
        instance.instance_key,
    )
    return replace(fresh, entered_at=instance.entered_at), actions


def _reached_goal(actions: Sequence[Action]) -> bool:
    return any(isinstance(a, Finished) and a.outcome == "goal" for a in actions)


def _inputs_of(session: Session, ids: list[int]) -> dict[int, list[tuple[int, Input]]]:
    found: dict[int, list[tuple[int, Input]]] = {}
    query = (
        select(JourneyInput)
        .where(among(session, JourneyInput.instance_id, ids))
        .order_by(JourneyInput.id)
    )
    for row in session.scalars(query):
        at = aware_utc(row.at)
        props = dict(row.properties or {})
        happened: Input = (
            Bounced(str(props.get("step", "")), at)
            if row.kind == "bounced"
            else Seen(row.event or "", props, at)
        )
        found.setdefault(row.instance_id, []).append((row.id, happened))
    return found


def _row(instance: Instance) -> dict[str, Any]:
    done = instance.status == "done"
    return {
        "id": instance.instance_id,
        "status": instance.status,
        "step": instance.step,
        "visits": dict(instance.visits),
        "wake_at": instance.wake_at,
        "step_started_at": instance.step_started_at,
        "entered_at": instance.entered_at,
        "outcome": instance.outcome,
        "finished_at": instance.step_started_at if done else None,
        "claimed_by": None,
        "claimed_until": None,
    }


def _send_row(
    instance: Instance, action: SendMessage | Skipped, now: dt.datetime, person: Person
) -> dict[str, Any]:
    """The outbox row of a send; a skipped one is recorded with why (the customer page shows it)."""
    offer = None
    status, reason = "pending", None
    if isinstance(action, SendMessage):
        offer = action.offer.model_dump(mode="json") if action.offer is not None else None
    else:
        status = "skipped"
        reason = person.unreachable_because(action.channel, action.marketing) or action.reason
    return {
        "instance_id": instance.instance_id,
        "journey_id": instance.journey_id,
        "profile_id": instance.profile_id,
        "idempotency_key": action.key,
        "step": action.step,
        "channel": action.channel,
        "template": action.template,
        "marketing": action.marketing,
        "offer": offer,
        "status": status,
        "reason": reason,
        "created_at": now,
        "due_at": now,
        "attempts": 0,
    }


def _insert_sends(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows; a key already recorded (a replayed batch) is left as it is."""
    if not rows:
        return 0
    insert = insert_for(session)
    statement = insert(JourneySend).on_conflict_do_nothing(index_elements=["idempotency_key"])
    # Parameters as executemany: one compiled statement reused, where a multi-row VALUES of
    # thousands of rows is compiled anew each batch (2.6x slower on SQLite, 1.7x on PostgreSQL).
    result = session.execute(statement, rows)
    return int(getattr(result, "rowcount", 0) or 0)


def _exposure_row(instance: Instance, action: Exposed, now: dt.datetime) -> dict[str, Any]:
    return {
        "experiment": action.experiment,
        "profile_id": instance.profile_id,
        "arm": action.arm,
        "journey_id": instance.journey_id,
        "send_key": None,
        "first_at": now,
    }


def _update_traits(
    session: Session, profile_id: int, traits: Mapping[str, Any], now: dt.datetime
) -> None:
    customer = session.get(Customer, profile_id)
    if customer is None:
        return
    customer.traits = {**(customer.traits or {}), **traits}
    customer.updated_at = now


def _credit(session: Session, instance_id: int, goal: Mapping[str, Any]) -> None:
    """Link the order that reached the goal to the instance's last delivered message."""
    last = session.scalar(
        select(JourneySend)
        .where(JourneySend.instance_id == instance_id, JourneySend.status == "sent")
        .order_by(JourneySend.sent_at.desc(), JourneySend.id.desc())
        .limit(1)
    )
    if last is None or last.order_id is not None:
        return
    revenue = goal.get("revenue", goal.get("total"))
    try:
        amount = float(revenue) if revenue is not None else None
    except (TypeError, ValueError):
        amount = None
    order = goal.get("order_id")
    last.order_id = str(order) if order is not None else None
    last.revenue = amount
    at = goal.get("at")
    last.converted_at = at if isinstance(at, dt.datetime) else None
