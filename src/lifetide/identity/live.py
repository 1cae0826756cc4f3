"""Identity and consent from the live event stream, applied as each micro-batch loads.

A full `identity resolve` re-weighs every record; between runs, the stream must not wait:
- a signed-in user with no profile gets one at once, with the device and e-mail they used;
- a device joins the profile of the user seen on it, unless another profile already owns it
  (Segment's one-user-per-profile limit: a device never bridges two people);
- an `Unsubscribed` event, or consent traits on identify, update the consent record at once,
  so the next send already sees it. The newest decision wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock
from lifetide.identity import normalize
from lifetide.identity.graph import Rules
from lifetide.ops.database import transaction
from lifetide.ops.models import Consent, Customer, Identity

UNSUBSCRIBED = "Unsubscribed"
# Traits that carry a consent decision, and the channel and answer each means.
_CONSENT_TRAITS: dict[str, tuple[str, bool]] = {
    "email_opt_in": ("email", True),
    "accepts_email_marketing": ("email", True),
    "email_unsubscribed": ("email", False),
    "unsubscribed": ("email", False),
    "sms_opt_in": ("sms", True),
    "accepts_sms_marketing": ("sms", True),
    "push_opt_in": ("push", True),
}


@dataclass(frozen=True)
class LiveChanges:
    """What one batch changed."""

    profiles_created: int
    identities_added: int
    consents_changed: int


class LiveIdentity:
    """Applies a batch of normalized messages to profiles, identities and consents."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._rules = Rules()

    def apply(self, messages: list[dict[str, Any]]) -> LiveChanges:
        """Update identities and consents for `messages`, in stream order, in one transaction."""
        # Most of the stream is anonymous browsing that can neither create a link nor carry a
        # decision; it is skipped before any query.
        relevant = [m for m in messages if _may_matter(m)]
        if not relevant:
            return LiveChanges(0, 0, 0)
        created = added = changed = 0
        now = self._clock.now()
        with transaction(self._sessions) as session:
            owners = _owners(session, relevant)
            for m in relevant:
                profile, new_profile, new_ids = self._identify(session, owners, m, now)
                created += new_profile
                added += new_ids
                if profile is not None and m.get("type") == "identify":
                    _contact(session, profile, m, now)
                decisions = _decisions(m)
                if profile is not None and decisions:
                    changed += self._consent(session, profile, decisions, m.get("timestamp") or now)
        return LiveChanges(created, added, changed)

    def _identify(
        self,
        session: Session,
        owners: dict[tuple[str, str], int],
        m: Mapping[str, Any],
        now: dt.datetime,
    ) -> tuple[int | None, int, int]:
        user_id, anonymous_id, email = m.get("userId"), m.get("anonymousId"), _email(m)
        profile = owners.get(("user_id", user_id or "")) or owners.get(("crm_id", user_id or ""))
        new_profile = 0
        if (
            profile is None
            and user_id is not None
            and not self._rules.is_blocked("user_id", user_id)
        ):
            customer = Customer(email=email, traits={}, created_at=now, updated_at=now)
            session.add(customer)
            session.flush()
            profile, new_profile = customer.id, 1
            session.add(_identity(profile, "user_id", user_id, "events", now))
            owners[("user_id", user_id)] = profile
        if profile is None:
            profile = owners.get(("anonymous_id", anonymous_id or "")) or owners.get(
                ("email", email or "")
            )
        if profile is None:
            return None, new_profile, 0
        added = 0
        for kind, value in (("anonymous_id", anonymous_id), ("email", email)):
            if value is None or self._rules.is_blocked(kind, value) or (kind, value) in owners:
                continue
            session.add(_identity(profile, kind, value, "events", now))
            owners[(kind, value)] = profile
            added += 1
        return profile, new_profile, added

    def _consent(
        self,
        session: Session,
        profile: int,
        decisions: list[tuple[str, bool, str]],
        when: dt.datetime,
    ) -> int:
        changed = 0
        for channel, granted, source in decisions:
            status = "granted" if granted else "denied"
            consent = session.scalars(
                select(Consent).where(
                    Consent.customer_id == profile,
                    Consent.channel == channel,
                    Consent.purpose == "marketing",
                )
            ).first()
            if consent is None:
                session.add(
                    Consent(
                        customer_id=profile,
                        channel=channel,
                        purpose="marketing",
                        status=status,
                        source=source,
                        updated_at=when,
                    )
                )
                session.flush()
                changed += 1
            elif _aware(consent.updated_at) <= when and consent.status != status:
                consent.status, consent.source, consent.updated_at = status, source, when
                changed += 1
        return changed


_LOOKUP_CHUNK = 5000


def _owners(session: Session, messages: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """The profile owning each identifier the batch mentions, in a few queries."""
    values: set[str] = set()
    for m in messages:
        values.update(v for v in (m.get("userId"), m.get("anonymousId"), _email(m)) if v)
    ordered = sorted(values)
    owners: dict[tuple[str, str], int] = {}
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        rows = session.execute(
            select(Identity.kind, Identity.value, Identity.customer_id).where(
                Identity.value.in_(ordered[start : start + _LOOKUP_CHUNK])
            )
        )
        for kind, value, customer_id in rows:
            owners[(kind, value)] = int(customer_id)
    return owners


def _may_matter(m: Mapping[str, Any]) -> bool:
    """Whether this message can create a link or carry a consent decision (cheap test)."""
    return bool(
        m.get("userId")
        or m.get("traits")
        or m.get("event") == UNSUBSCRIBED
        or "email" in (m.get("properties") or {})
    )


def _email(m: Mapping[str, Any]) -> str | None:
    traits, props = m.get("traits") or {}, m.get("properties") or {}
    return normalize.email(_text(traits.get("email")) or _text(props.get("email")))


def _contact(session: Session, profile: int, m: Mapping[str, Any], now: dt.datetime) -> None:
    """An identify call's contact details onto the profile, so journeys can reach it now.

    Names, phone and time zone the customer gives replace the stored ones (the newest call
    wins); the e-mail address is set only when the profile has none: changing it is for the
    full resolve, which weighs every record.
    """
    customer = session.get(Customer, profile)
    if customer is None:
        return
    traits = m.get("traits") or {}
    context = m.get("context") or {}
    # Names as the customer wrote them (for greetings), not the folded form used for matching.
    first = _text(traits.get("first_name")) or _text(traits.get("firstName"))
    last = _text(traits.get("last_name")) or _text(traits.get("lastName"))
    phone = normalize.phone(_text(traits.get("phone")))
    zone = _text(context.get("timezone")) if isinstance(context, Mapping) else None
    email = _email(m)
    updates = {
        "first_name": first,
        "last_name": last,
        "phone": phone,
        "time_zone": zone if zone is None or _known_zone(zone) else None,
    }
    changed = False
    for column, value in updates.items():
        if value is not None and getattr(customer, column) != value:
            setattr(customer, column, value)
            changed = True
    if email is not None and customer.email is None:
        customer.email, changed = email, True
    if changed:
        customer.updated_at = now


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _decisions(m: Mapping[str, Any]) -> list[tuple[str, bool, str]]:
    """The consent decisions a message carries: (channel, granted, source)."""
    decisions: list[tuple[str, bool, str]] = []
    if m.get("type") == "track" and m.get("event") == UNSUBSCRIBED:
        channel = _text((m.get("properties") or {}).get("channel")) or "email"
        decisions.append((channel, False, f"event {UNSUBSCRIBED}"))
    traits = m.get("traits") or {}
    for trait, (channel, meaning) in _CONSENT_TRAITS.items():
        value = traits.get(trait)
        if isinstance(value, bool):
            decisions.append((channel, value == meaning, f"trait {trait}"))
    return decisions


def _identity(profile: int, kind: str, value: str, source: str, now: dt.datetime) -> Identity:
    return Identity(
        customer_id=profile,
        kind=kind,
        value=value,
        source=source,
        first_seen_at=now,
        last_seen_at=now,
    )


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
