"""Addresses that must not get (some) messages on a channel: hard bounces, complaints, opt-outs.

An address is kept in one canonical form per channel (e-mail trimmed and lower-cased, phone in
E.164, a push token as given), so a bounce reported for `Ada@Example.com ` stops mail to
`ada@example.com`. Adding is idempotent through the table's unique (channel, address, reason):
an `INSERT ... ON CONFLICT DO NOTHING`, so concurrent adders never fail or duplicate, on
PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock
from lifetide.identity import normalize
from lifetide.ops.database import insert_for, transaction
from lifetide.ops.models import Customer, Identity, Suppression

Reason = Literal["hard_bounce", "complaint", "unsubscribe"]
REASONS: tuple[str, ...] = ("hard_bounce", "complaint", "unsubscribe")
# Reasons that stop every message to the address, transactional ones too (see journeys.policy).
BLOCKING: tuple[str, ...] = ("hard_bounce", "complaint")
CHANNELS: tuple[str, ...] = ("email", "sms", "push")
# Identity kinds that hold an address on a channel.
ADDRESS_KINDS = {"email": "email", "sms": "phone"}
ADDRESS_MAX = 320
DETAIL_MAX = 2000
SOURCE_MAX = 64


class BadAddress(ValueError):
    """An address that is not one on its channel (not an e-mail, not a phone number)."""


def normalize_address(channel: str, address: str) -> str:
    """`address` in its canonical form on `channel`; BadAddress if it is not one."""
    if channel not in CHANNELS:
        raise BadAddress(f"unknown channel {channel!r}; one of: {', '.join(CHANNELS)}")
    if channel == "email":
        found = normalize.email(address)
        if found is None:
            raise BadAddress(f"{address!r} is not an e-mail address")
    elif channel == "sms":
        found = normalize.phone(address)
        if found is None:
            raise BadAddress(f"{address!r} is not a phone number")
    else:
        found = address.strip() or None
        if found is None:
            raise BadAddress("a push address (device token) cannot be empty")
    if len(found) > ADDRESS_MAX:
        raise BadAddress(f"an address has at most {ADDRESS_MAX} characters")
    return found


def _check_reason(reason: str) -> None:
    if reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}; one of: {', '.join(REASONS)}")


def add_in(
    session: Session,
    channel: str,
    address: str,
    reason: str,
    *,
    now: dt.datetime,
    profile_id: int | None = None,
    detail: str | None = None,
    source: str | None = None,
) -> bool:
    """Suppress `address` on `channel` for `reason` within the caller's transaction.

    True if it was added now; False if it was there already (the first record stays).
    """
    _check_reason(reason)
    canonical = normalize_address(channel, address)
    statement = (
        insert_for(session)(Suppression)
        .values(
            channel=channel,
            address=canonical,
            profile_id=profile_id,
            reason=reason,
            detail=None if detail is None else detail[:DETAIL_MAX],
            source=None if source is None else source[:SOURCE_MAX],
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel", "address", "reason"])
        # A row comes back only when one was inserted (rowcount is not reliable here).
        .returning(Suppression.id)
    )
    return session.execute(statement).first() is not None


class Suppressions:
    """The suppression list in the operational database."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def add(
        self,
        channel: str,
        address: str,
        reason: str,
        *,
        profile_id: int | None = None,
        detail: str | None = None,
        source: str | None = None,
    ) -> bool:
        """Suppress `address` on `channel` for `reason`; False if it already was."""
        with transaction(self._sessions) as session:
            return add_in(
                session,
                channel,
                address,
                reason,
                now=self._clock.now(),
                profile_id=profile_id,
                detail=detail,
                source=source,
            )

    def remove(self, channel: str, address: str, reason: str) -> bool:
        """Lift one suppression; False if there was none."""
        _check_reason(reason)
        with transaction(self._sessions) as session:
            return remove_in(session, channel, address, reason)

    def reasons(self, channel: str, addresses: Iterable[str]) -> dict[str, frozenset[str]]:
        """For each address as given, why it is suppressed on `channel` (empty: it is not).

        An address that is not one on the channel (a typo, an empty string) has no
        suppressions: the transport refuses it anyway.
        """
        given = list(dict.fromkeys(addresses))
        canonical: dict[str, str] = {}
        for address in given:
            try:
                canonical[address] = normalize_address(channel, address)
            except BadAddress:
                continue
        found: dict[str, set[str]] = {}
        wanted = sorted(set(canonical.values()))
        with self._sessions() as session:
            for start in range(0, len(wanted), 1000):
                rows = session.execute(
                    select(Suppression.address, Suppression.reason).where(
                        Suppression.channel == channel,
                        Suppression.address.in_(wanted[start : start + 1000]),
                    )
                )
                for address, reason in rows:
                    found.setdefault(address, set()).add(reason)
        return {a: frozenset(found.get(canonical.get(a, ""), ())) for a in given}

    def of_profile(self, profile_id: int) -> Sequence[Suppression]:
        """The suppressions of a profile: recorded for it, or on one of its addresses."""
        with self._sessions() as session:
            return of_profile_in(session, [profile_id])


def remove_in(session: Session, channel: str, address: str, reason: str) -> bool:
    """Lift one suppression within the caller's transaction; False if there was none."""
    canonical = normalize_address(channel, address)
    result = session.execute(
        delete(Suppression).where(
            Suppression.channel == channel,
            Suppression.address == canonical,
            Suppression.reason == reason,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def profile_addresses(session: Session, profile_ids: Sequence[int]) -> dict[str, set[str]]:
    """The addresses profiles have by channel: their e-mails and phones, canonical."""
    found: dict[str, set[str]] = {"email": set(), "sms": set()}
    kinds = {kind: channel for channel, kind in ADDRESS_KINDS.items()}
    rows = session.execute(
        select(Identity.kind, Identity.value).where(
            Identity.customer_id.in_(profile_ids), Identity.kind.in_(kinds)
        )
    )
    for kind, identity in rows:
        found[kinds[kind]].add(identity)
    for email, phone in session.execute(
        select(Customer.email, Customer.phone).where(Customer.id.in_(profile_ids))
    ):
        for channel, value in (("email", email), ("sms", phone)):
            if value:
                with contextlib.suppress(BadAddress):
                    found[channel].add(normalize_address(channel, value))
    return found


def of_profile_in(session: Session, profile_ids: Sequence[int]) -> Sequence[Suppression]:
    """Suppressions recorded for these profiles or on one of their addresses, newest first."""
    addresses = profile_addresses(session, profile_ids)
    on_address = [
        (Suppression.channel == channel) & Suppression.address.in_(sorted(values))
        for channel, values in addresses.items()
        if values
    ]
    query = (
        select(Suppression)
        .where(or_(Suppression.profile_id.in_(profile_ids), *on_address))
        .order_by(Suppression.created_at.desc(), Suppression.id.desc())
    )
    return session.scalars(query).all()


def channel_addresses(
    session: Session, profile_id: int, channel: str, given: str | None = None
) -> set[str]:
    """The profile's canonical addresses on `channel`, and `given` if it is one."""
    found = set(profile_addresses(session, [profile_id]).get(channel, set()))
    if given:
        with contextlib.suppress(BadAddress):
            found.add(normalize_address(channel, given))
    return found


def blocking_reason(session: Session, channel: str, addresses: set[str]) -> str | None:
    """Why these addresses can take no mail at all (a complaint, a hard bounce), in words."""
    if not addresses:
        return None
    reasons = set(
        session.scalars(
            select(Suppression.reason).where(
                Suppression.channel == channel,
                Suppression.address.in_(sorted(addresses)),
                Suppression.reason.in_(BLOCKING),
            )
        )
    )
    if "complaint" in reasons:
        return "a complaint was reported for this address"
    if "hard_bounce" in reasons:
        return "messages to this address bounced"
    return None


def _unsubscribed(channel: str, profile_id: int, addresses: set[str]) -> Any:
    return (
        (Suppression.channel == channel)
        & (Suppression.reason == "unsubscribe")
        & or_(Suppression.profile_id == profile_id, Suppression.address.in_(sorted(addresses)))
    )


def is_unsubscribed(session: Session, channel: str, profile_id: int, addresses: set[str]) -> bool:
    """Whether the profile, or one of these addresses, unsubscribed from `channel`."""
    query = select(Suppression.id).where(_unsubscribed(channel, profile_id, addresses)).limit(1)
    return session.scalar(query) is not None


def lift_unsubscribes(session: Session, channel: str, profile_id: int, addresses: set[str]) -> int:
    """Remove the profile's (and these addresses') unsubscribes from `channel`; how many."""
    gone = session.execute(delete(Suppression).where(_unsubscribed(channel, profile_id, addresses)))
    return int(gone.rowcount)  # type: ignore[attr-defined]
