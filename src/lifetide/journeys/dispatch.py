"""The outbox dispatcher: every journey message passes the policy gate, then goes out once.

A send row is claimed (a lease; SKIP LOCKED on PostgreSQL), checked against the policy gate
with what is true at that moment (an opt-out a second ago counts), rendered, marked `sending`
as it is handed to its channel, and marked with its result before the SMTP connection that
sent it takes another (results that arrive together share a commit; see
lifetide.journeys.delivery), so a crash leaves at most one message per connection delivered
but not recorded.
A send still `sending` when its lease ends was interrupted: it is sent again with the same
Message-ID (its idempotency key), which mailbox providers use to drop a duplicate, and its
reason says so.

With a builder process (`LIFETIDE_RENDER_PROCESSES=1`) a round whose claim was full has
the next one claimed and prepared (policy gate, promo codes, contexts) on a thread of the
dispatcher's own while this round is delivered, and the next round's e-mails queue at the
builder behind this round's: what one waits for (the database's commits, the SMTP server's
replies, the warehouse's scan) the other works through. The next round's sends stay
claimed, not `sending`, until their own round hands them over, so the crash window above is
unchanged. Its gate counts this round's marketing against the caps by send id, together
with what the database says was sent (so a send already recorded counts once, a send not
yet recorded counts all the same); `close` releases the next round if it never runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from lifetide.channels.event_loop import new_event_loop
from lifetide.channels.select import email_transport, text_transport
from lifetide.context import Lifetide
from lifetide.journeys.delivery import Deliveries
from lifetide.journeys.exposures import Holdouts
from lifetide.journeys.facts import Person, people
from lifetide.journeys.outbox import (
    MAX_ATTEMPTS,
    Claimed,
    claim,
    recent_marketing,
    settle,
)
from lifetide.journeys.policy import Decision, Message, Recipient, decide
from lifetide.journeys.rounds import DispatchResult, Round, caps_of, template_spec
from lifetide.journeys.store import JourneyStore
from lifetide.journeys.texts import make_texts
from lifetide.messaging.builder import EmailBuilder, EmailJob, LinkConfig
from lifetide.messaging.links import Links
from lifetide.messaging.personalize import ContextRequest, MessageContexts
from lifetide.messaging.promos import CodeRequest, IssuedCode, PromoCodes
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.database import single_statements, transaction, write_lock
from lifetide.ops.models import MessageTemplate

# Long enough for one chunk's worst case (SMTP timeouts and retries); renewed per chunk.
DEFAULT_LEASE = dt.timedelta(minutes=5)
TEXT_CHUNK = 8
# E-mails are marked `sending` this many per SMTP connection at a time (one commit): a crash
# leaves at most two such slices to send again (see lifetide.journeys.delivery).
HAND_OVER_CHUNKS = 8
log = logging.getLogger(__name__)


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
        self._loop = new_event_loop()
        self._transports: dict[str, Any] = {}
        settings = lifetide.settings
        self._links = Links.from_settings(settings)
        self._templates = TemplateStore(lifetide.sessions, lifetide.clock)
        self._promos = PromoCodes(lifetide.sessions, lifetide.clock)
        self._contexts = MessageContexts(lifetide)
        self._holdouts = Holdouts(
            JourneyStore(lifetide.sessions, lifetide.clock), settings.global_holdout_percent
        )
        self._deliveries = Deliveries(lifetide, worker, lease)
        # The thread that writes e-mail results: one connection, used by one thread.
        self._records = ThreadPoolExecutor(1, thread_name_prefix="dispatch-records")
        self._builder = EmailBuilder(
            settings.email_from,
            LinkConfig(settings.base_url, settings.secret_key.get_secret_value()),
            processes=settings.render_processes,
        )
        # The builder's slices: this many handed over (marked `sending`) by one statement.
        self._slice = settings.smtp_connections * HAND_OVER_CHUNKS
        # A round being claimed and prepared ahead on `_preparer` (see dispatch).
        self._ahead: Future[Round] | None = None
        self._preparer = ThreadPoolExecutor(1, thread_name_prefix="dispatch-ahead")
        self._builder.start()

    def warm_up(self, timeout: float = 60.0) -> bool:
        """Open what the first round needs (the warehouse, the builder process) now.

        For a caller that times rounds, or wants its first e-mail out without the start-up's
        seconds; False when the builder was not ready within `timeout` seconds.
        """
        warehouse = self._app.warehouse
        warehouse.thread_backend().list_tables()
        if self._builder.in_process:
            # The thread that prepares rounds ahead has a warehouse cursor of its own.
            self._preparer.submit(lambda: warehouse.thread_backend().list_tables()).result(timeout)
        return self._builder.ready(timeout)

    def close(self) -> None:
        """Close the channel connections, the e-mail builder and the event loop.

        The sends of a round claimed ahead are released, for any dispatcher to take at once.
        """
        ahead = self._take_ahead()
        self._preparer.shutdown(wait=True)
        if ahead is not None:
            undelivered = [s for s, _ in ahead.held.values()] + [s for s, _ in ahead.texts]
            if undelivered:
                with transaction(self._app.sessions) as session:
                    settle(session, self._worker, [{"id": s.id} for s in undelivered])
        self._builder.close()
        self._records.shutdown(wait=True)
        for transport in self._transports.values():
            if transport is not None:  # a channel with no provider configured
                self._loop.run_until_complete(transport.close())
        self._transports.clear()
        self._loop.close()

    def dispatch(self, limit: int = 200) -> DispatchResult:
        """One round: claim up to `limit` due sends and settle each; zeros when none is due.

        With a builder process and a full claim (more is likely due), the next round is
        claimed and prepared on a thread while this one is delivered, and handed to the
        builder behind it: the next call starts with it (see the module docstring).
        """
        current = self._take_ahead() or self._start(limit)
        if not current.claimed:
            return DispatchResult(0, 0, 0, 0, 0, 0, 0)
        if self._builder.in_process and current.claimed >= limit:
            self._ahead = self._preparer.submit(self._start, limit, current)
        counts = current.counts
        for outcome, n in self._deliver_emails(current).items():
            counts[outcome] += n
        for outcome, n in self._deliver_texts(current.texts, current.now).items():
            counts[outcome] += n
        return DispatchResult(
            current.claimed,
            counts["sent"],
            counts["skipped"],
            counts["deferred"],
            counts["failed"],
            counts["bounced"],
            counts["retry"],
        )

    def _take_ahead(self) -> Round | None:
        """The round prepared ahead, once ready; None if there is none or it failed."""
        future, self._ahead = self._ahead, None
        if future is None:
            return None
        try:
            return future.result()
        except Exception:  # the round before went out; this one claims afresh
            log.exception("claiming the next round ahead failed")
            return None

    def _start(self, limit: int, before: Round | None = None) -> Round:
        """Claim, gate and prepare a round; its e-mails are handed to the builder.

        `before`: a round claimed earlier and being delivered meanwhile, whose marketing
        sends count against the caps as if they were out, recorded yet or not.
        """
        now = self._app.clock.now()
        with transaction(self._app.sessions) as session:
            write_lock(session)
            claimed = claim(session, self._worker, now, limit, self._lease)
        if not claimed:
            return Round(0, now)
        current = Round(len(claimed), now)
        counts = current.counts
        failures: list[tuple[Claimed, str]] = []
        verdicts: list[tuple[Claimed, Decision]] = []
        live: list[Claimed] = []
        for send in claimed:
            if send.bad_offer is not None:
                failures.append((send, send.bad_offer))
            elif send.in_doubt and send.attempts >= MAX_ATTEMPTS:
                failures.append((send, f"gave up after {send.attempts} interrupted attempts"))
            elif (why := send.moot()) is not None:
                verdicts.append((send, Decision("skip", why)))
            else:
                live.append(send)
        with self._app.sessions() as session:
            persons = people(session, {c.profile_id for c in live})
            recent = recent_marketing(session, {c.profile_id for c in live}, now)
        if before is not None:
            # By send id: one the database already holds as sent or sending counts once.
            for send_id, profile_id, channel in before.marketing:
                recent[(profile_id, channel)].setdefault(send_id, now)
        go: list[tuple[Claimed, Person]] = []
        for send in live:
            person = persons.get(send.profile_id, Person(send.profile_id))
            decision = self._decide(send, person, recent, now)
            if decision.verdict == "send":
                go.append((send, person))
                if send.marketing:
                    current.marketing.append((send.id, send.profile_id, send.channel))
            else:
                verdicts.append((send, decision))
        self._settle_decisions(verdicts)
        self._deliveries.fail(failures)
        counts["failed"] += len(failures)
        for _send, decision in verdicts:
            counts["skipped" if decision.verdict == "skip" else "deferred"] += 1
        current.texts = [(s, p) for s, p in go if s.channel != "email"]
        self._build_emails(current, [(s, p) for s, p in go if s.channel == "email"])
        return current

    # -- claiming and deciding -----------------------------------------------------------

    def _decide(
        self,
        send: Claimed,
        person: Person,
        recent: dict[tuple[int, str], dict[int, dt.datetime]],
        now: dt.datetime,
    ) -> Decision:
        if person.address(send.channel) is None:
            return Decision("skip", f"no {send.channel} address on the profile")
        sent = recent[(send.profile_id, send.channel)]
        recipient = Recipient(
            consent=person.consent(send.channel),
            suppressed=person.suppressed.get(send.channel, frozenset()),
            marketing_sent=list(sent.values()),
            time_zone=person.time_zone,
            held_out=self._holdouts.held_out(send, now),
        )
        decision = decide(Message(send.channel, send.marketing), recipient, now, self._caps)
        if decision.verdict == "send" and send.marketing:
            # Two sends to one customer in one round must meet the cap together.
            sent[send.id] = now
        return decision

    def _settle_decisions(self, verdicts: Sequence[tuple[Claimed, Decision]]) -> None:
        """Record the gate's skips and deferrals, and the exposures it noted."""
        if not verdicts and not self._holdouts.pending:
            return
        rows = []
        for send, decision in verdicts:
            row: dict[str, Any] = {
                "id": send.id,
                "status": "skipped" if decision.verdict == "skip" else "deferred",
                "reason": decision.reason,
            }
            if decision.until is not None:
                row["due_at"] = decision.until
            rows.append(row)
        with transaction(self._app.sessions) as session:
            if rows:
                settle(session, self._worker, rows)
            self._holdouts.record(session)

    # -- e-mail --------------------------------------------------------------------------

    def _build_emails(self, current: Round, batch: Sequence[tuple[Claimed, Person]]) -> None:
        """Codes and contexts for the round's e-mails, handed to the builder."""
        if not batch:
            return
        templates, failures, batch, contexts, current.codes = self._prepare(batch)
        # One spec object per template: pickled once per slice for the builder, not per job.
        specs = {name: template_spec(t) for name, t in templates.items()}
        jobs: list[EmailJob] = []
        for (send, person), context in zip(batch, contexts, strict=True):
            spec = specs.get(send.template)
            if spec is None:
                failures.append((send, f"no template named {send.template!r}"))
                continue
            address = person.address("email") or ""
            current.held[send.key] = (send, address)
            jobs.append(
                EmailJob(
                    send.key,
                    address,
                    spec,
                    context,
                    send.profile_id,
                    send.journey_id,
                    send.step,
                )
            )
        self._deliveries.fail(failures, current.codes)
        current.counts["failed"] += len(failures)
        current.built = self._builder.build(jobs, current.now, self._slice)

    def _deliver_emails(self, current: Round) -> dict[str, int]:
        """Hand over, send and record the round's e-mails as they are built (see delivery)."""
        if current.built is None:
            return {}
        transport = self._transport("email")
        return self._loop.run_until_complete(
            self._deliveries.stream_emails(transport, current, self._records)
        )

    def _prepare(
        self, batch: Sequence[tuple[Claimed, Person]]
    ) -> tuple[
        dict[str, MessageTemplate],
        list[tuple[Claimed, str]],
        list[tuple[Claimed, Person]],
        list[dict[str, Any]],
        dict[int, str],
    ]:
        """Templates, codes and contexts for a batch, the sends left, and failures so far.

        The codes, by send id, are written to their sends with the sends' results.
        """
        templates = self._templates_for({s.template for s, _ in batch})
        failures: list[tuple[Claimed, str]] = []
        codes = self._codes(batch, failures)
        kept = [(s, p) for s, p in batch if s.offer is None or s.key in codes]
        by_id = {s.id: codes[s.key].code for s, _ in kept if s.key in codes}
        contexts = self._contexts.build(self._requests(kept, codes))
        return templates, failures, kept, contexts, by_id

    @staticmethod
    def _requests(
        batch: Sequence[tuple[Claimed, Person]], codes: dict[str, IssuedCode]
    ) -> list[ContextRequest]:
        return [
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

    def _templates_for(self, names: set[str]) -> dict[str, MessageTemplate]:
        return self._templates.get_many(names)

    def _codes(
        self, batch: Sequence[tuple[Claimed, Person]], failures: list[tuple[Claimed, str]]
    ) -> dict[str, IssuedCode]:
        """Single-use codes for the sends with an offer; failures noted.

        A code is kept by its send's key (issuing again gives the same code), and written to
        the send with its result: not by an UPDATE of its own, which cost a row version of
        every send (and its index entries) and a commit a round.
        """
        wanted = {
            send.key: (send, CodeRequest(send.key, send.profile_id, send.offer))
            for send, _ in batch
            if send.offer is not None
        }
        if not wanted:
            return {}
        codes: dict[str, IssuedCode] = {}
        try:
            requests = [r for _, r in wanted.values()]
            codes = dict(zip(wanted, self._promos.issue_many(requests), strict=True))
        except Exception:
            # One at a time, so only the send whose code cannot be issued fails.
            log.exception("promo codes for a batch failed; issuing one by one")
            for key, (send, request) in wanted.items():
                try:
                    codes[key] = self._promos.issue(key, request.profile_id, request.offer)
                except Exception as err:
                    failures.append((send, f"no promo code could be issued: {err}"))
        return codes

    # -- SMS and push --------------------------------------------------------------------

    def _deliver_texts(
        self, batch: Sequence[tuple[Claimed, Person]], now: dt.datetime
    ) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        if not batch:
            return counts
        templates, failures, batch, contexts, codes = self._prepare(batch)
        by_channel, problems = make_texts(
            batch, contexts, templates, self._links, lambda c: self._transport(c) is not None
        )
        failures += problems
        self._deliveries.fail(failures, codes)
        counts["failed"] += len(failures)
        for name, all_items in by_channel.items():
            transport = self._transport(name)
            with single_statements(self._app.ops_engine) as records:
                for start in range(0, len(all_items), TEXT_CHUNK):
                    chunk = all_items[start : start + TEXT_CHUNK]
                    items = self._deliveries.hand_over(records, chunk)
                    if not items:
                        continue
                    sent = self._loop.run_until_complete(transport.send([t for _, _, t in items]))
                    for outcome, n in self._deliveries.settle(records, items, sent, codes).items():
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
