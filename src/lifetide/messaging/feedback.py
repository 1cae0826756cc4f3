"""What customers and mail servers tell us about sent messages: opens, clicks, opt-outs, bounces.

Each function updates the operational rows first (the send's opened/clicked/bounced times, the
suppression list, consents), then journals the matching internal event ("Email Opened",
"Email Link Clicked", "Email Bounced", "Unsubscribed") so the warehouse, segments and the journey
engine see it like any tracked event. The event names the profile's own `user_id` and latest
device, so the warehouse maps it to the profile. Events are journaled only for what changed
(except opens and clicks, which count engagement): a bounce report delivered twice, or a second
click on "unsubscribe", journals nothing more. Opens and clicks say whether they were the
message's first of their kind (`first`), and a click journals the open it implies when none
came before, so the dashboards count opened and clicked messages without deduplicating.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lifetide.clock import aware_utc
from lifetide.collect.internal import append_internal, internal_track
from lifetide.context import Lifetide
from lifetide.customers.view import survivor_id
from lifetide.messaging.events import CLICKED, OPENED, UNSUBSCRIBED
from lifetide.messaging.suppressions import (
    CHANNELS,
    BadAddress,
    add_in,
    blocking_reason,
    channel_addresses,
    is_unsubscribed,
    lift_unsubscribes,
    profile_addresses,
)
from lifetide.ops.database import insert_for, transaction
from lifetide.ops.models import Consent, Identity, JourneyInstance, JourneySend

REASON_MAX = 2000


@dataclass(frozen=True)
class SentMessage:
    """The facts of one send that events about it carry."""

    key: str
    journey_id: int | None
    profile_id: int | None
    step: str
    channel: str
    address: str | None
    # When it went out (its creation time if it never did): the cohort the dashboards' funnel
    # counts what came of it in, without joining every event back to its send.
    sent_at: dt.datetime | None = None

    def properties(self) -> dict[str, Any]:
        """The properties every internal event about this message carries."""
        return {
            "send_key": self.key,
            "journey_id": self.journey_id,
            "campaign_id": None if self.journey_id is None else f"journey-{self.journey_id}",
            "step": self.step,
            "channel": self.channel,
            "sent_at": None if self.sent_at is None else aware_utc(self.sent_at).isoformat(),
        }


@dataclass(frozen=True)
class ChannelChoice:
    """One channel on the preference page: whether marketing goes there, and if it may change."""

    channel: str
    address: str | None
    subscribed: bool
    # Why the channel cannot be turned on again (the address bounced, or complained).
    blocked: str | None


def sent_message(session: Session, key: str) -> SentMessage | None:
    """The send recorded under `key`, with its journey, profile and address, if any."""
    row = session.execute(
        select(
            JourneySend.idempotency_key,
            JourneySend.journey_id,
            JourneySend.profile_id,
            JourneySend.step,
            JourneySend.channel,
            JourneySend.address,
            func.coalesce(JourneySend.sent_at, JourneySend.created_at),
            JourneyInstance.journey_id,
            JourneyInstance.profile_id,
        )
        .join(JourneyInstance, JourneyInstance.id == JourneySend.instance_id)
        .where(JourneySend.idempotency_key == key)
    ).first()
    if row is None:
        return None
    key, journey, profile, step, channel, address, sent_at, inst_journey, inst_profile = row
    return SentMessage(
        key=key,
        journey_id=int(journey if journey is not None else inst_journey),
        profile_id=int(profile if profile is not None else inst_profile),
        step=step,
        channel=channel,
        address=address,
        sent_at=sent_at,
    )


def track_event(
    session: Session,
    event: str,
    profile_id: int,
    at: dt.datetime,
    properties: Mapping[str, Any],
) -> dict[str, Any]:
    """An internal track message naming the profile's user id and latest device."""
    live = survivor_id(session, profile_id) or profile_id
    ids: dict[str, str] = {}
    for kind in ("user_id", "anonymous_id"):
        value = session.scalar(
            select(Identity.value)
            .where(Identity.customer_id == live, Identity.kind == kind)
            .order_by(Identity.last_seen_at.desc(), Identity.id.desc())
            .limit(1)
        )
        if value is not None:
            ids[kind] = value
    return internal_track(
        event,
        profile_id=live,
        at=at,
        properties=properties,
        user_id=ids.get("user_id"),
        anonymous_id=ids.get("anonymous_id"),
    )


def journal_events(lifetide: Lifetide, messages: list[dict[str, Any]], at: dt.datetime) -> None:
    """Journal internal events (opened, clicked, bounced, unsubscribed), if there are any."""
    if messages:
        append_internal(lifetide.journal, messages, at)


def record_open(lifetide: Lifetide, key: str) -> bool:
    """The customer opened the message `key`: the first open's time kept, every open journaled.

    False when there is no such send.
    """
    now = lifetide.clock.now()
    with transaction(lifetide.sessions) as session:
        sent = sent_message(session, key)
        if sent is None or sent.profile_id is None:
            return False
        first = session.execute(
            update(JourneySend)
            .where(JourneySend.idempotency_key == key, JourneySend.opened_at.is_(None))
            .values(opened_at=now)
        ).rowcount  # type: ignore[attr-defined]
        properties = sent.properties() | {"first": bool(first)}
        message = track_event(session, OPENED, sent.profile_id, now, properties)
    journal_events(lifetide, [message], now)
    return True


def record_click(lifetide: Lifetide, key: str, url: str) -> bool:
    """The customer clicked `url` in the message `key` (which means they opened it too).

    The first click's time is kept; each click is journaled, and the implied open once.
    False when there is no such send.
    """
    now = lifetide.clock.now()
    with transaction(lifetide.sessions) as session:
        sent = sent_message(session, key)
        if sent is None or sent.profile_id is None:
            return False
        first_open = session.execute(
            update(JourneySend)
            .where(JourneySend.idempotency_key == key, JourneySend.opened_at.is_(None))
            .values(opened_at=now)
        ).rowcount  # type: ignore[attr-defined]
        first_click = session.execute(
            update(JourneySend)
            .where(JourneySend.idempotency_key == key, JourneySend.clicked_at.is_(None))
            .values(clicked_at=now)
        ).rowcount  # type: ignore[attr-defined]
        messages = []
        if first_open:
            opened = sent.properties() | {"first": True}
            messages.append(track_event(session, OPENED, sent.profile_id, now, opened))
        clicked = sent.properties() | {"url": url, "first": bool(first_click)}
        messages.append(track_event(session, CLICKED, sent.profile_id, now, clicked))
    journal_events(lifetide, messages, now)
    return True


def _set_consent(
    session: Session, profile_id: int, channel: str, status: str, source: str, now: dt.datetime
) -> bool:
    """Set the profile's marketing consent on `channel`; whether it changed."""
    current = session.scalar(
        select(Consent.status)
        .where(
            Consent.customer_id == profile_id,
            Consent.channel == channel,
            Consent.purpose == "marketing",
        )
        .with_for_update()
    )
    if current == status:
        return False
    insert = insert_for(session)
    values = {"status": status, "source": source[:64], "updated_at": now}
    session.execute(
        insert(Consent)
        .values(customer_id=profile_id, channel=channel, purpose="marketing", **values)
        # A concurrent first decision for the same profile and channel: the last one wins.
        .on_conflict_do_update(index_elements=["customer_id", "channel", "purpose"], set_=values)
    )
    return True


def unsubscribe_in(
    session: Session,
    profile_id: int | None,
    channel: str,
    address: str | None,
    *,
    source: str,
    now: dt.datetime,
    reason: str = "unsubscribe",
    detail: str | None = None,
) -> bool:
    """Consent denied and the address suppressed, in the caller's transaction; any change."""
    live = survivor_id(session, profile_id) if profile_id is not None else None
    changed = False
    if live is not None:
        changed = _set_consent(session, live, channel, "denied", source, now)
    if address:
        # Consent still stops marketing; an address we cannot read cannot be listed.
        with contextlib.suppress(BadAddress):
            changed |= add_in(
                session,
                channel,
                address,
                reason,
                now=now,
                profile_id=live,
                detail=detail,
                source=source,
            )
    return changed


def unsubscribe(
    lifetide: Lifetide,
    profile_id: int | None,
    channel: str,
    address: str | None,
    *,
    source: str,
    key: str | None = None,
) -> bool:
    """Stop marketing to the customer on `channel` at once; False if it was stopped already.

    In one transaction: marketing consent "denied" (from `source`) and the address suppressed
    with reason "unsubscribe", so the next send already skips them. Then "Unsubscribed" is
    journaled with the channel and the send it came from.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of: {', '.join(CHANNELS)}")
    now = lifetide.clock.now()
    with transaction(lifetide.sessions) as session:
        changed = unsubscribe_in(session, profile_id, channel, address, source=source, now=now)
        message = None
        if changed and profile_id is not None:
            sent = sent_message(session, key) if key else None
            properties = (sent.properties() if sent else {"send_key": key}) | {"channel": channel}
            message = track_event(session, UNSUBSCRIBED, profile_id, now, properties)
    if message is not None:
        journal_events(lifetide, [message], now)
    return changed


def resubscribe(
    lifetide: Lifetide, profile_id: int, channel: str, address: str | None, *, source: str
) -> bool:
    """Marketing on `channel` again: consent granted, the unsubscribe suppression lifted.

    A hard bounce or complaint on the address is never lifted here; False then, and when
    nothing changed.
    """
    now = lifetide.clock.now()
    with transaction(lifetide.sessions) as session:
        live = survivor_id(session, profile_id)
        if live is None:
            return False
        addresses = channel_addresses(session, live, channel, address)
        if blocking_reason(session, channel, addresses):
            return False
        changed = _set_consent(session, live, channel, "granted", source, now)
        lifted = lift_unsubscribes(session, channel, live, addresses)
    return changed or bool(lifted)


def preferences(
    lifetide: Lifetide, profile_id: int, channel: str, address: str | None
) -> list[ChannelChoice]:
    """The customer's marketing channels for the preference page, the link's channel first.

    Shown: the link's channel, and every other channel the profile has an address or a consent
    decision for. Subscribed means a marketing message would pass consent and suppression.
    """
    opt_in = lifetide.settings.require_opt_in
    with lifetide.sessions() as session:
        live = survivor_id(session, profile_id) or profile_id
        consents = dict(
            session.execute(
                select(Consent.channel, Consent.status).where(
                    Consent.customer_id == live, Consent.purpose == "marketing"
                )
            ).all()
        )
        known = profile_addresses(session, [live])
        shown = [channel] + [
            c for c in CHANNELS if c != channel and (c in consents or known.get(c))
        ]
        choices = []
        for each in shown:
            given = address if each == channel else None
            addresses = channel_addresses(session, live, each, given)
            blocked = blocking_reason(session, each, addresses)
            status = consents.get(each, "unknown")
            consented = status == "granted" or (not opt_in and status != "denied")
            subscribed = (
                consented
                and blocked is None
                and not is_unsubscribed(session, each, live, addresses)
            )
            # A forwarded e-mail must not show its reader the customer's other addresses.
            shown_address = address if each == channel else _masked(min(addresses, default=None))
            choices.append(ChannelChoice(each, shown_address, subscribed, blocked))
    return choices


def set_preferences(
    lifetide: Lifetide,
    profile_id: int,
    channel: str,
    address: str | None,
    wanted: Mapping[str, bool],
    *,
    source: str,
    key: str | None = None,
) -> list[ChannelChoice]:
    """Apply the preference page's choices (channel -> wants marketing); the channels after.

    Turning a channel off unsubscribes it; on grants consent again and lifts the unsubscribe
    suppression (never a bounce or complaint). Channels not in `wanted` stay as they are. Only
    the link's own channel can be turned on: whoever holds an e-mail (it may be forwarded)
    may stop messages, but not sign its owner up for texts.
    """
    for each in wanted:
        if each not in CHANNELS:
            raise ValueError(f"unknown channel {each!r}; one of: {', '.join(CHANNELS)}")
    current = {c.channel: c for c in preferences(lifetide, profile_id, channel, address)}
    for each, on in wanted.items():
        choice = current.get(each)
        if choice is None or choice.subscribed == on or (on and each != channel):
            continue
        target = address if each == channel else choice.address
        if on:
            resubscribe(lifetide, profile_id, each, target, source=source)
        else:
            unsubscribe(lifetide, profile_id, each, target, source=source, key=key)
    return preferences(lifetide, profile_id, channel, address)


def _masked(address: str | None) -> str | None:
    """An address with most of it hidden: `a•••@shop.test`, `+1•••••••0123`."""
    if not address:
        return None
    user, at, domain = address.partition("@")
    if at:
        return f"{user[:1]}•••@{domain}"
    return f"{address[:2]}{'•' * max(len(address) - 6, 3)}{address[-4:]}"
