"""The outbox dispatcher: every journey message passes the policy gate, then goes out once.

A send row is claimed (status `sending`, a lease; SKIP LOCKED on PostgreSQL), checked against
the policy gate with what is true at that moment (an opt-out a second ago counts), rendered,
handed to its channel, and marked with the result, a small chunk at a time so a crash leaves
at most one chunk in doubt. A send still `sending` when its lease ends was interrupted: it is
sent again with the same Message-ID (its idempotency key), which mailbox providers use to drop
a duplicate, and its reason says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from lifetide.channels.bounces import BounceReport
from lifetide.channels.messages import DeliveryResult, OutgoingEmail, OutgoingText, TextChannel
from lifetide.channels.select import email_transport, text_transport
from lifetide.context import Lifetide
from lifetide.journeys.definition import Offer
from lifetide.journeys.facts import Person, people
from lifetide.journeys.policy import Caps, Decision, Message, Recipient, decide
from lifetide.journeys.store import _write_lock, utc
from lifetide.messaging.compose import build_email, track_text
from lifetide.messaging.feedback import apply_reports
from lifetide.messaging.links import Links
from lifetide.messaging.personalize import ContextRequest, MessageContexts
from lifetide.messaging.promos import CodeRequest, IssuedCode, PromoCodes
from lifetide.messaging.template_store import TemplateStore
from lifetide.messaging.templates import TemplateProblem, render_text
from lifetide.ops.database import transaction
from lifetide.ops.models import JourneyInstance, JourneySend, MessageTemplate

DEFAULT_LEASE = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 8
RESENT = "resent after an interrupted attempt"


@dataclass(frozen=True)
class Claimed:
    """A send this dispatcher holds: what the outbox row says."""

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


@dataclass(frozen=True)
class DispatchResult:
    """What one round did."""

    claimed: int
    sent: int
    skipped: int
    deferred: int
    failed: int
    bounced: int
    retried: int


def caps_of(lifetide: Lifetide) -> Caps:
    """The policy gate's caps and quiet hours from the settings."""
    s = lifetide.settings
    quiet_start = quiet_end = None
    if s.quiet_hours:
        start, end = s.quiet_hours.split("-")
        quiet_start, quiet_end = dt.time.fromisoformat(start), dt.time.fromisoformat(end)
    return Caps(
        per_day=s.marketing_per_day,
        per_week=s.marketing_per_week,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        require_opt_in=s.require_opt_in,
    )


class Dispatcher:
    """Claims due sends, applies the policy gate and delivers them."""

    def __init__(
        self,
        lifetide: Lifetide,
        worker: str,
        *,
        lease: dt.timedelta = DEFAULT_LEASE,
    ) -> None:
        self._app = lifetide
        self._worker = worker
        self._lease = lease
        self._caps = caps_of(lifetide)
        self._loop = asyncio.new_event_loop()
        self._transports: dict[str, Any] = {}
        settings = lifetide.settings
        self._links = Links.from_settings(settings)
        self._templates = TemplateStore(lifetide.sessions, lifetide.clock)
        self._promos = PromoCodes(lifetide.sessions, lifetide.clock)
        self._contexts = MessageContexts(lifetide)
        self._chunk = 4 * settings.smtp_connections

    def close(self) -> None:
        """Close the channel connections and the event loop."""
        for transport in self._transports.values():
            self._loop.run_until_complete(transport.close())
        self._transports.clear()
        self._loop.close()

    def dispatch(self, limit: int = 200) -> DispatchResult:
        """One round: claim up to `limit` due sends and settle each; zeros when none is due."""
        now = self._app.clock.now()
        claimed = self._claim(now, limit)
        if not claimed:
            return DispatchResult(0, 0, 0, 0, 0, 0, 0)
        with self._app.sessions() as session:
            persons = people(session, {c.profile_id for c in claimed})
            recent = _recent_marketing(session, {c.profile_id for c in claimed}, now)
        go: list[tuple[Claimed, Person]] = []
        verdicts: list[tuple[Claimed, Decision]] = []
        for send in claimed:
            person = persons.get(send.profile_id, Person(send.profile_id))
            decision = self._decide(send, person, recent, now)
            if decision.verdict == "send":
                go.append((send, person))
            else:
                verdicts.append((send, decision))
        self._settle_decisions(verdicts)
        counts: dict[str, int] = defaultdict(int)
        for _send, decision in verdicts:
            counts["skipped" if decision.verdict == "skip" else "deferred"] += 1
        emails = [(s, p) for s, p in go if s.channel == "email"]
        texts = [(s, p) for s, p in go if s.channel != "email"]
        for outcome, n in self._deliver_emails(emails, now).items():
            counts[outcome] += n
        for outcome, n in self._deliver_texts(texts, now).items():
            counts[outcome] += n
        return DispatchResult(
            len(claimed),
            counts["sent"],
            counts["skipped"],
            counts["deferred"],
            counts["failed"],
            counts["bounced"],
            counts["retry"],
        )

    # -- claiming and deciding -----------------------------------------------------------

    def _claim(self, now: dt.datetime, limit: int) -> list[Claimed]:
        free = or_(JourneySend.claimed_until.is_(None), JourneySend.claimed_until <= now)
        due = or_(
            JourneySend.status.in_(("pending", "deferred")) & (JourneySend.due_at <= now) & free,
            # Handed to a channel by a dispatcher that then died: in doubt, sent again.
            (JourneySend.status == "sending") & (JourneySend.claimed_until <= now),
        )
        query = (
            select(JourneySend)
            .where(due)
            .order_by(JourneySend.due_at, JourneySend.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with transaction(self._app.sessions) as session:
            _write_lock(session)
            rows = list(session.scalars(query))
            if not rows:
                return []
            keys = dict(
                session.execute(
                    select(JourneyInstance.id, JourneyInstance.instance_key).where(
                        JourneyInstance.id.in_({row.instance_id for row in rows})
                    )
                ).all()
            )
            claimed = [_claimed(row, keys.get(row.instance_id)) for row in rows]
            session.execute(
                update(JourneySend),
                [
                    {
                        "id": row.id,
                        "claimed_by": self._worker,
                        "claimed_until": now + self._lease,
                    }
                    for row in rows
                ],
            )
            return claimed

    def _decide(
        self,
        send: Claimed,
        person: Person,
        recent: dict[tuple[int, str], list[dt.datetime]],
        now: dt.datetime,
    ) -> Decision:
        if person.address(send.channel) is None:
            return Decision("skip", f"no {send.channel} address on the profile")
        sent = recent[(send.profile_id, send.channel)]
        recipient = Recipient(
            consent=person.consent(send.channel),
            suppressed=person.suppressed.get(send.channel, frozenset()),
            marketing_sent=sent,
            time_zone=person.time_zone,
        )
        decision = decide(Message(send.channel, send.marketing), recipient, now, self._caps)
        if decision.verdict == "send" and send.marketing:
            # Two sends to one customer in one round must meet the cap together.
            sent.append(now)
        return decision

    def _settle_decisions(self, verdicts: Sequence[tuple[Claimed, Decision]]) -> None:
        if not verdicts:
            return
        rows = []
        for send, decision in verdicts:
            row: dict[str, Any] = {
                "id": send.id,
                "status": "skipped" if decision.verdict == "skip" else "deferred",
                "reason": decision.reason,
                "claimed_by": None,
                "claimed_until": None,
            }
            if decision.until is not None:
                row["due_at"] = decision.until
            rows.append(row)
        with transaction(self._app.sessions) as session:
            session.execute(update(JourneySend), rows)

    # -- e-mail --------------------------------------------------------------------------

    def _deliver_emails(
        self, batch: Sequence[tuple[Claimed, Person]], now: dt.datetime
    ) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        if not batch:
            return counts
        templates = self._templates_for({s.template for s, _ in batch})
        codes = self._codes(batch)
        requests = [
            ContextRequest(
                profile_id=s.profile_id,
                journey_id=s.journey_id,
                step=s.step,
                instance_key=s.instance_key,
                send_key=s.key,
                offer=codes.get(s.key),
            )
            for s, _ in batch
        ]
        contexts = self._contexts.build(requests)
        outgoing: list[tuple[Claimed, str, OutgoingEmail]] = []
        failures: list[tuple[Claimed, str]] = []
        sender = self._app.settings.email_from
        for (send, person), context in zip(batch, contexts, strict=True):
            template = templates.get(send.template)
            address = person.address("email") or ""
            if template is None:
                failures.append((send, f"no template named {send.template!r}"))
                continue
            try:
                message = build_email(
                    template,
                    context,
                    key=send.key,
                    to=address,
                    sender=sender,
                    links=self._links,
                    profile_id=send.profile_id,
                    journey_id=send.journey_id,
                    step=send.step,
                    date=now,
                )
            except TemplateProblem as problem:
                failures.append((send, f"template {send.template!r}: {problem}"))
                continue
            outgoing.append((send, address, OutgoingEmail(send.key, address, message)))
        self._fail(failures)
        counts["failed"] += len(failures)
        transport = self._transport("email")
        for start in range(0, len(outgoing), self._chunk):
            chunk = self._hand_over(outgoing[start : start + self._chunk])
            if not chunk:
                continue
            results = self._loop.run_until_complete(transport.send([o for _, _, o in chunk]))
            for outcome, n in self._settle(chunk, results).items():
                counts[outcome] += n
        return counts

    def _templates_for(self, names: set[str]) -> dict[str, MessageTemplate]:
        return self._templates.get_many(names)

    def _codes(self, batch: Sequence[tuple[Claimed, Person]]) -> dict[str, IssuedCode]:
        """Single-use codes for the sends with an offer, in one transaction, kept on the send."""
        wanted = [
            CodeRequest(send.key, send.profile_id, send.offer)
            for send, _ in batch
            if send.offer is not None
        ]
        if not wanted:
            return {}
        issued = self._promos.issue_many(wanted)
        codes = {r.send_key: code for r, code in zip(wanted, issued, strict=True)}
        by_key = {send.key: send.id for send, _ in batch}
        with transaction(self._app.sessions) as session:
            session.execute(
                update(JourneySend),
                [{"id": by_key[key], "promo_code": code.code} for key, code in codes.items()],
            )
        return codes

    # -- SMS and push --------------------------------------------------------------------

    def _deliver_texts(
        self, batch: Sequence[tuple[Claimed, Person]], now: dt.datetime
    ) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        if not batch:
            return counts
        templates = self._templates_for({s.template for s, _ in batch})
        codes = self._codes(batch)
        requests = [
            ContextRequest(
                profile_id=s.profile_id,
                journey_id=s.journey_id,
                step=s.step,
                instance_key=s.instance_key,
                send_key=s.key,
                offer=codes.get(s.key),
            )
            for s, _ in batch
        ]
        contexts = self._contexts.build(requests)
        by_channel: dict[str, list[tuple[Claimed, str, OutgoingText]]] = defaultdict(list)
        failures: list[tuple[Claimed, str]] = []
        for (send, person), context in zip(batch, contexts, strict=True):
            template = templates.get(send.template)
            address = person.address(send.channel) or ""
            transport = self._transport(send.channel)
            if transport is None:
                failures.append((send, f"no {send.channel} provider is configured"))
                continue
            if template is None:
                failures.append((send, f"no template named {send.template!r}"))
                continue
            try:
                body = track_text(
                    render_text(template, context),
                    key=send.key,
                    links=self._links,
                    journey_id=send.journey_id,
                    step=send.step,
                    medium="sms" if send.channel == "sms" else "push",
                )
            except TemplateProblem as problem:
                failures.append((send, f"template {send.template!r}: {problem}"))
                continue
            channel: TextChannel = "sms" if send.channel == "sms" else "push"
            text = OutgoingText(send.key, address, body, channel, {"journey_id": send.journey_id})
            by_channel[send.channel].append((send, address, text))
        self._fail(failures)
        counts["failed"] += len(failures)
        for name, all_items in by_channel.items():
            transport = self._transport(name)
            items = self._hand_over(all_items)
            if not items:
                continue
            results = self._loop.run_until_complete(transport.send([t for _, _, t in items]))
            for outcome, n in self._settle(items, results).items():
                counts[outcome] += n
        return counts

    def _transport(self, channel: str) -> Any:
        if channel not in self._transports:
            settings = self._app.settings
            self._transports[channel] = (
                email_transport(settings)
                if channel == "email"
                else text_transport(settings, "sms" if channel == "sms" else "push")
            )
        return self._transports[channel]

    # -- results -------------------------------------------------------------------------

    def _hand_over(
        self, items: Sequence[tuple[Claimed, str, Any]]
    ) -> list[tuple[Claimed, str, Any]]:
        """Mark sends `sending` just before the channel gets them, if this dispatcher holds them.

        Only what is marked here can be in doubt after a crash, so a dispatcher killed with a
        large claim re-sends at most the chunk it was delivering. A claim that lapsed (this
        dispatcher was too slow) is another's now and is not sent from here.
        """
        now = self._app.clock.now()
        ids = [send.id for send, _, _ in items]
        with transaction(self._app.sessions) as session:
            mine = set(
                session.scalars(
                    update(JourneySend)
                    .where(
                        JourneySend.id.in_(ids),
                        JourneySend.claimed_by == self._worker,
                        JourneySend.claimed_until > now,
                    )
                    .values(
                        status="sending",
                        claimed_until=now + self._lease,
                        attempts=JourneySend.attempts + 1,
                    )
                    .returning(JourneySend.id)
                )
            )
        return [item for item in items if item[0].id in mine]

    def _fail(self, failures: Sequence[tuple[Claimed, str]]) -> None:
        if not failures:
            return
        with transaction(self._app.sessions) as session:
            session.execute(
                update(JourneySend),
                [
                    {
                        "id": s.id,
                        "status": "failed",
                        "reason": why,
                        "claimed_by": None,
                        "claimed_until": None,
                    }
                    for s, why in failures
                ],
            )

    def _settle(
        self, items: Sequence[tuple[Claimed, str, Any]], results: Sequence[DeliveryResult]
    ) -> dict[str, int]:
        now = self._app.clock.now()
        counts: dict[str, int] = defaultdict(int)
        rows: list[dict[str, Any]] = []
        bounces: list[BounceReport] = []
        for (send, address, _), result in zip(items, results, strict=True):
            counts[result.outcome] += 1
            row: dict[str, Any] = {
                "id": send.id,
                "address": address,
                "claimed_by": None,
                "claimed_until": None,
            }
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
            elif result.outcome == "bounced":
                # bounced_at is left to apply_reports: it journals the bounce (and so the
                # journey's fallback) only for a send it sees bounce for the first time.
                row.update(status="bounced", reason=result.detail)
                bounces.append(
                    BounceReport(
                        recipient=address,
                        kind="hard",
                        status=str(result.code) if result.code else None,
                        diagnostic=result.detail,
                        message_id=None,
                        send_key=send.key,
                    )
                )
            else:
                row.update(status="failed", reason=result.detail)
            rows.append(row)
        with transaction(self._app.sessions) as session:
            session.execute(update(JourneySend), rows)
        if bounces:
            apply_reports(self._app, bounces, "smtp")
        return counts


def _claimed(row: JourneySend, instance_key: str | None) -> Claimed:
    offer = Offer.model_validate(row.offer) if row.offer else None
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
    )


def _recent_marketing(
    session: Session, profiles: set[int], now: dt.datetime
) -> dict[tuple[int, str], list[dt.datetime]]:
    """Marketing sent to these profiles in the last week, per (profile, channel)."""
    recent: dict[tuple[int, str], list[dt.datetime]] = defaultdict(list)
    query = select(JourneySend.profile_id, JourneySend.channel, JourneySend.sent_at).where(
        JourneySend.profile_id.in_(profiles),
        JourneySend.marketing.is_(True),
        JourneySend.status == "sent",
        JourneySend.sent_at > now - dt.timedelta(days=7),
    )
    for profile_id, channel, sent_at in session.execute(query).all():
        if profile_id is not None and sent_at is not None:
            recent[(int(profile_id), channel)].append(utc(sent_at))
    return recent
