"""What the engine knows of the customers in a batch: addresses, consent, suppressions, segments.

Read once per batch (one query per kind), never per instance, so a batch of a thousand due
instances costs a handful of queries. A profile merged into another is answered for by the
survivor: an instance follows the person, not the row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from lifetide.ops.database import among
from lifetide.ops.models import Consent, Customer, Suppression
from lifetide.segments.compiler import members
from lifetide.segments.rules import Rule
from lifetide.segments.tables import segment_tables

ConsentState = Literal["granted", "denied", "unknown"]
CHANNELS = ("email", "sms", "push")
# Suppressions that mean the address cannot take messages at all.
UNDELIVERABLE = frozenset({"hard_bounce", "complaint"})


@dataclass(frozen=True)
class Person:
    """One customer as the engine and the policy gate see them."""

    profile_id: int
    email: str | None = None
    phone: str | None = None
    push_token: str | None = None
    time_zone: str | None = None
    traits: Mapping[str, Any] = field(default_factory=dict)
    consents: Mapping[str, ConsentState] = field(default_factory=dict)
    # Per channel: hard_bounce, complaint, unsubscribe (of the address in use).
    suppressed: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def address(self, channel: str) -> str | None:
        """Where a message on `channel` goes: e-mail address, phone number or push token."""
        return {"email": self.email, "sms": self.phone, "push": self.push_token}.get(channel)

    def consent(self, channel: str) -> ConsentState:
        """The marketing consent recorded on `channel`."""
        return self.consents.get(channel, "unknown")

    def reachable(self, channel: str, marketing: bool = True) -> bool:
        """Whether a message can go out on `channel` (for marketing: and no opt-out)."""
        return self.unreachable_because(channel, marketing) is None

    def unreachable_because(self, channel: str, marketing: bool = True) -> str | None:
        """Why no message (marketing, or transactional) can go out on `channel`, or None."""
        if self.address(channel) is None:
            return f"no {channel} address on the profile"
        suppressed = self.suppressed.get(channel, frozenset())
        blocked = sorted(suppressed & UNDELIVERABLE)
        if blocked:
            return f"suppressed on {channel}: {', '.join(blocked)}"
        if marketing and ("unsubscribe" in suppressed or self.consent(channel) == "denied"):
            return f"no marketing consent on {channel} (opted out)"
        return None


# Only the columns a Person needs, as plain rows: whole ORM objects cost more to load than
# the policy gate does to decide.
_PERSON = (
    Customer.id,
    Customer.email,
    Customer.phone,
    Customer.time_zone,
    Customer.traits,
    Customer.merged_into_id,
)


def people(session: Session, profile_ids: Iterable[int]) -> dict[int, Person]:
    """Each profile in `profile_ids` as a `Person` (merged profiles answered by the survivor)."""
    wanted = set(profile_ids)
    if not wanted:
        return {}
    rows = _customers(session, wanted)
    survivor = {pid: _survivor(session, rows, pid) for pid in wanted}
    alive = {i: c for i, c in rows.items() if c is not None}
    extra = {s for s in survivor.values() if s is not None and s not in alive}
    if extra:
        alive.update(_customers(session, extra))
    ids = {s for s in survivor.values() if s is not None}
    consents: dict[int, dict[str, ConsentState]] = {}
    for customer_id, channel, state in session.execute(
        select(Consent.customer_id, Consent.channel, Consent.status).where(
            among(session, Consent.customer_id, ids), Consent.purpose == "marketing"
        )
    ):
        status: ConsentState = "granted" if state == "granted" else "denied"
        consents.setdefault(customer_id, {})[channel] = status
    addresses = {
        (channel, address.lower() if channel == "email" else address): c.id
        for c in alive.values()
        for channel, address in (("email", c.email), ("sms", c.phone))
        if address
    }
    suppressed: dict[int, dict[str, set[str]]] = {}
    emails = [a for (ch, a) in addresses if ch == "email"]
    phones = [a for (ch, a) in addresses if ch == "sms"]
    for channel, address, profile_id, reason in session.execute(
        select(
            Suppression.channel, Suppression.address, Suppression.profile_id, Suppression.reason
        ).where(
            ((Suppression.channel == "email") & among(session, Suppression.address, emails))
            | ((Suppression.channel == "sms") & among(session, Suppression.address, phones))
            | among(session, Suppression.profile_id, ids)
        )
    ):
        owner = addresses.get((channel, address), profile_id)
        if owner is not None:
            suppressed.setdefault(owner, {}).setdefault(channel, set()).add(reason)
    result: dict[int, Person] = {}
    for pid, sid in survivor.items():
        customer = alive.get(sid) if sid is not None else None
        if customer is None:
            result[pid] = Person(pid)
            continue
        traits = dict(customer.traits or {})
        token = traits.get("push_token")
        result[pid] = Person(
            profile_id=pid,
            email=customer.email.lower() if customer.email else None,
            phone=customer.phone,
            push_token=str(token) if token else None,
            time_zone=customer.time_zone,
            traits=traits,
            consents=consents.get(customer.id, {}),
            suppressed={ch: frozenset(r) for ch, r in suppressed.get(customer.id, {}).items()},
        )
    return result


def _customers(session: Session, ids: Iterable[int]) -> dict[int, Row[Any]]:
    """The Person columns of these customers, by id."""
    found = session.execute(select(*_PERSON).where(among(session, Customer.id, set(ids))))
    return {row.id: row for row in found}


def _survivor(session: Session, rows: dict[int, Row[Any]], pid: int) -> int | None:
    """The profile `pid` was merged into (following chains), or itself."""
    seen: set[int] = set()
    current = pid
    while current not in seen:
        seen.add(current)
        row = rows.get(current)
        if row is None:
            row = _customers(session, [current]).get(current)
            if row is None:
                return None
            rows[current] = row
        if row.merged_into_id is None:
            return current
        current = row.merged_into_id
    return current


class SegmentMatcher:
    """Answers "is this customer in that rule?" for a batch, one warehouse query per rule."""

    def __init__(self, evaluate: Callable[[Rule, list[int]], set[int]], batch: list[int]) -> None:
        self._evaluate = evaluate
        self._batch = batch
        self._answers: dict[str, set[int]] = {}

    def matches(self, rule: Rule, profile_id: int) -> bool:
        """Whether `profile_id` is matched by `rule` now."""
        key = rule.model_dump_json()
        if key not in self._answers:
            self._answers[key] = self._evaluate(rule, self._batch)
        return profile_id in self._answers[key]


def rule_evaluator(
    warehouse: Callable[[], Any], now: Callable[[], dt.datetime]
) -> Callable[[Rule, list[int]], set[int]]:
    """Evaluate a segment rule for some profiles in the warehouse (the journey's branch step)."""

    def evaluate(rule: Rule, profile_ids: list[int]) -> set[int]:
        if not profile_ids:
            return set()
        tables = segment_tables(warehouse().thread_backend())
        matched = members(rule, tables, now())
        picked = matched.filter(matched.profile_id.isin(profile_ids)).select("profile_id")
        return {int(v) for v in picked.to_pyarrow().column("profile_id").to_pylist()}

    return evaluate
