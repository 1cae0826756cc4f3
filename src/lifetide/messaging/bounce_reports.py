"""Bounce and complaint reports applied: suppressions, the send marked, the journey told.

Reports come from SMTP answers at send time (the dispatcher), delivery status notifications and
provider webhooks (the inbound endpoints). See `apply_reports`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lifetide.channels.bounces import BounceReport
from lifetide.context import Lifetide
from lifetide.customers.view import survivor_id
from lifetide.messaging.events import BOUNCED, UNSUBSCRIBED
from lifetide.messaging.feedback import (
    REASON_MAX,
    SentMessage,
    journal_events,
    sent_message,
    track_event,
    unsubscribe_in,
)
from lifetide.messaging.suppressions import BadAddress, add_in, normalize_address
from lifetide.ops.database import transaction
from lifetide.ops.models import Identity, JourneySend


def _find_send(session: Session, report: BounceReport) -> SentMessage | None:
    """The send a report is about: by its key, the provider's message id, or our Message-ID."""
    if report.send_key:
        found = sent_message(session, report.send_key)
        if found is not None:
            return found
    if not report.message_id:
        return None
    bare = report.message_id.strip().strip("<>").strip()
    if not bare:
        return None
    key = session.scalar(
        select(JourneySend.idempotency_key)
        .where(JourneySend.provider_message_id.in_([bare, f"<{bare}>"]))
        .limit(1)
    )
    if key is not None:
        return sent_message(session, key)
    # compose_email writes Message-ID <{key with ':' as '.'}@{domain}>; step ids hold no dots.
    local = bare.rpartition("@")[0]
    return sent_message(session, local.replace(".", ":")) if local else None


def _profile_of_address(session: Session, channel: str, address: str) -> int | None:
    kind = {"email": "email", "sms": "phone"}.get(channel)
    if kind is None:
        return None
    found = session.scalar(
        select(Identity.customer_id).where(Identity.kind == kind, Identity.value == address)
    )
    return None if found is None else survivor_id(session, int(found))


def _describe(report: BounceReport) -> str:
    parts = [p for p in (report.status, report.diagnostic) if p]
    return f"{report.kind} bounce" + (f" {': '.join(parts)}" if parts else "")


def apply_reports(lifetide: Lifetide, reports: Sequence[BounceReport], source: str) -> int:
    """Apply bounce and complaint reports; how many concerned a send or an address we could read.

    A hard bounce suppresses the address ("hard_bounce"), marks the send bounced and journals
    "Email Bounced", which the journey engine turns into a fallback to SMS or push. A complaint
    suppresses the address ("complaint"), denies marketing consent and journals "Unsubscribed".
    A soft bounce only notes itself in the send's reason. A report for a send we cannot find
    still suppresses its address, for the profile that owns it if one does.
    """
    applied = 0
    messages: list[dict[str, Any]] = []
    now = lifetide.clock.now()
    for report in reports:
        with transaction(lifetide.sessions) as session:
            handled, message = _apply_one(session, report, source, now)
        applied += handled
        messages.extend(message)
    journal_events(lifetide, messages, now)
    return applied


def _apply_one(
    session: Session, report: BounceReport, source: str, now: dt.datetime
) -> tuple[bool, list[dict[str, Any]]]:
    sent = _find_send(session, report)
    channel = sent.channel if sent is not None else "email"
    address: str | None = None
    for candidate in (report.recipient, sent.address if sent else None):
        if candidate:
            try:
                address = normalize_address(channel, candidate)
                break
            except BadAddress:
                continue
    if sent is None and address is None:
        return False, []
    profile = (
        sent.profile_id
        if sent is not None
        else _profile_of_address(session, channel, address or "")
    )
    properties = (
        sent.properties()
        if sent is not None
        else {"send_key": None, "journey_id": None, "campaign_id": None, "step": None}
        | {"channel": channel}
    )
    detail = _describe(report)[:REASON_MAX]
    if report.kind == "soft":
        if sent is not None:
            session.execute(
                update(JourneySend)
                .where(JourneySend.idempotency_key == sent.key)
                .values(reason=detail)
            )
        return True, []
    if report.kind == "complaint":
        changed = unsubscribe_in(
            session,
            profile,
            channel,
            address,
            source=source,
            now=now,
            reason="complaint",
            detail=detail,
        )
        if not changed or profile is None:
            return True, []
        unsubscribed = properties | {"reason": "complaint"}
        return True, [track_event(session, UNSUBSCRIBED, profile, now, unsubscribed)]
    if report.kind != "hard":
        raise ValueError(f"unknown bounce kind {report.kind!r}; one of: hard, soft, complaint")
    added = False
    if address is not None:
        added = add_in(
            session,
            channel,
            address,
            "hard_bounce",
            now=now,
            profile_id=profile,
            detail=detail,
            source=source,
        )
    newly_bounced = False
    if sent is not None:
        newly_bounced = bool(
            session.execute(
                update(JourneySend)
                .where(JourneySend.idempotency_key == sent.key, JourneySend.bounced_at.is_(None))
                .values(status="bounced", bounced_at=now, reason=detail)
            ).rowcount  # type: ignore[attr-defined]
        )
    if profile is None or not (newly_bounced if sent is not None else added):
        return True, []
    bounced = properties | {
        # Journaled once per send: only when it bounced for the first time.
        "first": sent is not None,
        "bounce_type": "hard",
        "status": report.status,
        "diagnostic": report.diagnostic,
    }
    return True, [track_event(session, BOUNCED, profile, now, bounced)]
