"""The outbox of journey sends in the operational database: claiming, handing over, settling.

A send row moves pending/deferred -> (claimed) -> sending -> sent | bounced | failed | pending
(retry later), or -> skipped/deferred by the policy gate. Every write after the claim is made
only while this dispatcher still holds the claim (`claimed_by`), so a dispatcher that lost a
claim to a slow round can never overwrite what the new holder decided.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Row, Table, TextClause, bindparam, or_, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from lifetide.channels.bounces import BounceReport
from lifetide.channels.messages import DeliveryResult, Outcome
from lifetide.clock import aware_utc
from lifetide.journeys.definition import Offer
from lifetide.ops.models import JourneyInstance, JourneyRecord, JourneySend

MAX_ATTEMPTS = 8
RESENT = "resent after an interrupted attempt"
# An instance that ended this way makes its still-queued marketing moot (she bought, or the
# cart's own order came, or the journey was stopped).
ENDED = frozenset({"goal", "ended", "stopped"})
# How recently a send must have fallen due to take the fast lane of a claim.
FRESH = dt.timedelta(minutes=2)
_SENDS: Table = JourneySend.__table__  # type: ignore[assignment]
# What a claim reads of a send.
_CLAIMED = (
    JourneySend.id,
    JourneySend.idempotency_key,
    JourneySend.instance_id,
    JourneySend.journey_id,
    JourneySend.profile_id,
    JourneySend.step,
    JourneySend.channel,
    JourneySend.template,
    JourneySend.marketing,
    JourneySend.offer,
    JourneySend.attempts,
    JourneySend.status,
)


@dataclass(frozen=True)
class Claimed:
    """A send this dispatcher holds: what the outbox row says, and about its journey."""

    id: int
    key: str
    instance_id: int
    journey_id: int
    profile_id: int
    step: str
    channel: str
    template: str
    marketing: bool
    offer: Offer | None
    attempts: int
    in_doubt: bool
    instance_key: str | None = None
    instance_version: int | None = None
    instance_outcome: str | None = None
    journey_status: str | None = None
    bad_offer: str | None = None

    def moot(self) -> str | None:
        """Why this send should no longer go out (journey stopped, instance ended), or None."""
        if self.journey_status == "stopped":
            return "the journey was stopped before it was sent"
        if self.marketing and self.instance_outcome in ENDED:
            return f"the customer's journey ended ({self.instance_outcome}) before it was sent"
        return None


def claim(
    session: Session, worker: str, now: dt.datetime, limit: int, lease: dt.timedelta
) -> list[Claimed]:
    """Claim up to `limit` due sends for `worker` (the caller's transaction holds the lock)."""
    paused = select(JourneyRecord.id).where(JourneyRecord.status == "paused")
    free = or_(JourneySend.claimed_until.is_(None), JourneySend.claimed_until <= now)
    due = or_(
        JourneySend.status.in_(("pending", "deferred")) & (JourneySend.due_at <= now) & free,
        # Handed to a channel by a dispatcher that then died: in doubt, sent again.
        (JourneySend.status == "sending") & (JourneySend.claimed_until <= now),
    )
    # A paused journey's queued messages wait for it, like its instances. Core rows of the
    # columns a Claimed needs: loading ORM objects cost more than the query.
    ready = select(*_CLAIMED).where(
        due, or_(JourneySend.journey_id.is_(None), JourneySend.journey_id.not_in(paused))
    )
    # Half of each claim goes to what fell due last (a cart whose hour just ended), newest
    # first, so a backlog (a burst of thousands due at once) delays it by one round, not by
    # the backlog; the other half drains the backlog oldest first, so nothing starves.
    fresh = (
        ready.where(JourneySend.due_at > now - FRESH)
        .order_by(JourneySend.due_at.desc(), JourneySend.id.desc())
        .limit(max(1, limit // 2))
        .with_for_update(skip_locked=True)
    )
    rows = list(session.execute(fresh))
    taken = [r.id for r in rows]
    if len(rows) < limit:
        oldest = (
            (ready.where(JourneySend.id.not_in(taken)) if taken else ready)
            .order_by(JourneySend.due_at, JourneySend.id)
            .limit(limit - len(rows))
            .with_for_update(skip_locked=True)
        )
        rows += session.execute(oldest)
    if not rows:
        return []
    instances: dict[int, tuple[str | None, int | None, str | None]] = {
        i: (key, version, outcome)
        for i, key, version, outcome in session.execute(
            select(
                JourneyInstance.id,
                JourneyInstance.instance_key,
                JourneyInstance.version,
                JourneyInstance.outcome,
            ).where(JourneyInstance.id.in_({row.instance_id for row in rows}))
        ).all()
    }
    journeys = dict(
        session.execute(
            select(JourneyRecord.id, JourneyRecord.status).where(
                JourneyRecord.id.in_({row.journey_id for row in rows if row.journey_id})
            )
        ).all()
    )
    # One statement for the lot: every row gets the same values (an executemany was a
    # statement per row for the server).
    session.execute(
        update(_SENDS)
        .where(_SENDS.c.id.in_([r.id for r in rows]))
        .values(claimed_by=worker, claimed_until=now + lease)
    )
    return [
        _claimed(
            r,
            *instances.get(r.instance_id, (None, None, None)),
            journeys.get(r.journey_id) if r.journey_id is not None else None,
        )
        for r in rows
    ]


def hand_over(
    session: Session | Connection,
    worker: str,
    ids: Sequence[int],
    now: dt.datetime,
    lease: dt.timedelta,
) -> set[int]:
    """Mark sends `sending` as the channel gets them; the ids this worker still held."""
    if not ids:
        return set()
    return set(
        session.scalars(
            update(JourneySend)
            .where(
                JourneySend.id.in_(ids),
                JourneySend.claimed_by == worker,
                JourneySend.claimed_until > now,
            )
            .values(
                status="sending",
                claimed_until=now + lease,
                attempts=JourneySend.attempts + 1,
            )
            .returning(JourneySend.id)
        )
    )


def settle(
    session: Session | Connection,
    worker: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    release: bool = True,
) -> None:
    """Write each row's values to its send, only where `worker` still holds it.

    With `release` (the default) the claim ends with the write. Rows that set the same
    columns are written by one statement, so each row is written whole by one statement.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        values = {k: v for k, v in row.items() if k != "id"}
        if release:
            values.update(claimed_by=None, claimed_until=None)
        groups[tuple(sorted(values))].append({"_id": row["id"], "_me": worker, **values})
    dialect = session.get_bind().dialect if isinstance(session, Session) else session.dialect
    for columns, params in groups.items():
        if dialect.name == "postgresql":
            # One UPDATE ... FROM (VALUES ...): an executemany is a statement per row for
            # the server (parsed, planned, run), on the dispatcher's path between chunks.
            session.execute(*_update_from_values(worker, columns, params))
        else:
            session.execute(_update_each_sql(columns), params)


def _update_from_values(
    worker: str, columns: Sequence[str], params: Sequence[Mapping[str, Any]]
) -> tuple[TextClause, dict[str, Any]]:
    """PostgreSQL's UPDATE of many rows, each with values of its own, as one statement."""
    bound: dict[str, Any] = {"_me": worker}
    for n, p in enumerate(params):
        bound[f"_id_{n}"] = p["_id"]
        bound.update((f"{c}_{n}", p[c]) for c in columns)
    return _update_sql(tuple(columns), len(params)), bound


@functools.lru_cache(maxsize=64)
def _update_each_sql(columns: tuple[str, ...]) -> TextClause:
    # Text, made once per shape, with the columns' types for the values: a Core UPDATE cost
    # twice the client CPU (its cache key is worked out on every call), and results are
    # written about once an e-mail. The names are the table's own columns, never input.
    assignments = ", ".join(f"{c} = :{c}" for c in columns)
    return text(
        f"UPDATE {_SENDS.name} SET {assignments} WHERE id = :_id AND claimed_by = :_me"
    ).bindparams(*(bindparam(c, type_=_SENDS.c[c].type) for c in columns))


@functools.lru_cache(maxsize=64)
def _update_sql(columns: tuple[str, ...], rows: int) -> TextClause:
    # Text, made once per shape: SQLAlchemy compiled a VALUES construct afresh each time
    # (2 ms). Each value is cast to its column's type: a VALUES column whose rows are all
    # NULL is text to PostgreSQL. The names are the table's own columns, never input.
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    types = {c: _SENDS.c[c].type.compile(dialect=dialect) for c in columns}
    tuples = ", ".join(
        "(" + ", ".join([f":_id_{n}", *(f":{c}_{n}" for c in columns)]) + ")" for n in range(rows)
    )
    return text(
        f"UPDATE {_SENDS.name} SET {', '.join(f'{c} = CAST(v.{c} AS {types[c]})' for c in columns)}"
        f" FROM (VALUES {tuples}) AS v (_id, {', '.join(columns)})"
        f" WHERE {_SENDS.name}.id = v._id AND {_SENDS.name}.claimed_by = :_me"
    )


def recent_marketing(
    session: Session, profiles: set[int], now: dt.datetime
) -> dict[tuple[int, str], dict[int, dt.datetime]]:
    """Marketing sent, or being sent, to these profiles in the last week per (profile, channel).

    Each as {send id: when}, so a caller that knows of sends in flight (a round of its own
    being delivered) can add them without counting one twice. Sends another dispatcher is
    delivering right now count too, so two workers cannot each pass a customer's daily cap
    with one message.
    """
    recent: dict[tuple[int, str], dict[int, dt.datetime]] = defaultdict(dict)
    week = now - dt.timedelta(days=7)
    query = select(
        JourneySend.id,
        JourneySend.profile_id,
        JourneySend.channel,
        JourneySend.sent_at,
        JourneySend.status,
    ).where(
        JourneySend.profile_id.in_(profiles),
        JourneySend.marketing.is_(True),
        or_(
            (JourneySend.status == "sent") & (JourneySend.sent_at > week),
            JourneySend.status == "sending",
        ),
    )
    for send_id, profile_id, channel, sent_at, status in session.execute(query).all():
        if profile_id is None:
            continue
        at = now if status == "sending" or sent_at is None else aware_utc(sent_at)
        recent[(int(profile_id), channel)][int(send_id)] = at
    return recent


# Enhanced status codes (RFC 3463) that mean the address itself does not take mail: bad
# mailbox (5.1.x) or a disabled one (5.2.1). Policy, content or relay refusals (5.7.x, 5.3.x,
# 5.6.x) say nothing about the address and must not suppress it.
_ENHANCED = re.compile(r"\b5\.(\d{1,3})\.(\d{1,3})\b")


def address_refused(code: int | None, detail: str | None) -> bool:
    """Whether an SMTP 5xx refusal means the recipient's address is dead (a hard bounce)."""
    found = _ENHANCED.search(detail or "")
    if found is not None:
        subject, number = int(found.group(1)), int(found.group(2))
        return subject == 1 or (subject, number) == (2, 1)
    return code in (550, 551, 553)


def result_row(
    send: Claimed, address: str, result: DeliveryResult, now: dt.datetime
) -> tuple[dict[str, Any], Outcome, BounceReport | None]:
    """A channel's result for a send: its row for `settle`, outcome counted, bounce to report."""
    row: dict[str, Any] = {"id": send.id, "address": address}
    if result.outcome == "sent":
        row.update(
            status="sent",
            sent_at=now,
            provider_message_id=result.provider_message_id,
            reason=RESENT if send.in_doubt else None,
        )
    elif result.outcome == "retry" and send.attempts + 1 < MAX_ATTEMPTS:
        wait = dt.timedelta(minutes=min(60, 2**send.attempts))
        row.update(status="pending", due_at=now + wait, reason=result.detail)
    elif result.outcome == "bounced" and not address_refused(result.code, result.detail):
        # Refused for policy, content or relay reasons: the address may be fine.
        row.update(status="failed", reason=result.detail)
        return row, "failed", None
    elif result.outcome == "bounced":
        # bounced_at is left to apply_reports: it journals the bounce (and so the journey's
        # fallback) only for a send it sees bounce for the first time.
        row.update(status="bounced", reason=result.detail)
        bounce = BounceReport(
            recipient=address,
            kind="hard",
            status=str(result.code) if result.code else None,
            diagnostic=result.detail,
            message_id=None,
            send_key=send.key,
        )
        return row, "bounced", bounce
    else:
        row.update(status="failed", reason=result.detail)
    return row, result.outcome, None


def _claimed(
    row: Row[Any],
    instance_key: str | None,
    version: int | None,
    outcome: str | None,
    journey_status: str | None,
) -> Claimed:
    offer, bad = None, None
    if row.offer:
        try:
            offer = Offer.model_validate(row.offer)
        except ValidationError as err:
            bad = f"the stored offer is not valid: {err.errors()[0]['msg']}"
    return Claimed(
        id=int(row.id),
        key=row.idempotency_key,
        instance_id=int(row.instance_id),
        journey_id=int(row.journey_id or 0),
        profile_id=int(row.profile_id or 0),
        step=row.step,
        channel=row.channel,
        template=row.template,
        marketing=bool(row.marketing),
        offer=offer,
        attempts=int(row.attempts or 0),
        in_doubt=row.status == "sending",
        instance_key=instance_key,
        instance_version=version,
        instance_outcome=outcome,
        journey_status=journey_status,
        bad_offer=bad,
    )
