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
        created = added = changed = 0
        now = self._clock.now()
        with transaction(self._sessions) as session:
            for m in messages:
                profile, new_profile, new_ids = self._identify(session, m, now)
                created += new_profile
                added += new_ids
                if profile is not None:
                    changed += self._consent(session, profile, m, now)
        return LiveChanges(created, added, changed)

    def _identify(
        self, session: Session, m: Mapping[str, Any], now: dt.datetime
    ) -> tuple[int | None, int, int]:
        user_id, anonymous_id = m.get("userId"), m.get("anonymousId")
        email = normalize.email(
            _text(m.get("traits", {}).get("email")) or _text(m.get("properties", {}).get("email"))
        )
        profile = self._owner(session, "user_id", user_id) or self._owner(
            session, "crm_id", user_id
        )
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
        if profile is None:
            profile = self._owner(session, "anonymous_id", anonymous_id) or self._owner(
                session, "email", email
            )
        if profile is None:
            return None, new_profile, 0
        added = 0
        for kind, value in (("anonymous_id", anonymous_id), ("email", email)):
            if value is None or self._rules.is_blocked(kind, value):
                continue
            owner = self._owner(session, kind, value)
            if owner is None:
                session.add(_identity(profile, kind, value, "events", now))
                session.flush()
                added += 1
        return profile, new_profile, added

    def _owner(self, session: Session, kind: str, value: str | None) -> int | None:
        if value is None:
            return None
        found = session.scalars(
            select(Identity.customer_id).where(Identity.kind == kind, Identity.value == value)
        ).first()
        return int(found) if found is not None else None

    def _consent(
        self, session: Session, profile: int, m: Mapping[str, Any], now: dt.datetime
    ) -> int:
        decisions: list[tuple[str, bool, str]] = []
        if m.get("type") == "track" and m.get("event") == UNSUBSCRIBED:
            channel = _text(m.get("properties", {}).get("channel")) or "email"
            decisions.append((channel, False, f"event {UNSUBSCRIBED}"))
        for trait, (channel, meaning) in _CONSENT_TRAITS.items():
            value = m.get("traits", {}).get(trait)
            if isinstance(value, bool):
                decisions.append((channel, value == meaning, f"trait {trait}"))
        changed = 0
        when: dt.datetime = m.get("timestamp") or now
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
