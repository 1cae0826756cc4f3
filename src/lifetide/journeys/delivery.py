"""Handing sends to their channel and recording what became of them.

Sends are marked `sending` (handed over) in one statement, committed before any of them
goes, so only these can be in doubt after a crash; each result is written whole by one
statement, committed before the connection that sent it takes another message.

A round's e-mails stream: as the builder makes each slice, it is handed over and queued for
the SMTP connections, and each connection's result is recorded by a group commit on the
dispatcher's database thread (see lifetide.journeys.recording). A connection waits only for
its own result's commit, not for the other connections, and one commit takes every result
that arrived while the last was written. So a crash leaves at most one message per
connection delivered but not recorded, and at most two slices (the one being sent and the
next, handed over ahead) `sending`, to go again with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import AsyncGenerator, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

from sqlalchemy import Connection

from lifetide.channels.bounces import BounceReport
from lifetide.channels.messages import DeliveryResult, EmailTransport, OutgoingEmail
from lifetide.context import Lifetide
from lifetide.journeys.outbox import Claimed, hand_over, result_row, settle
from lifetide.journeys.recording import GroupCommit
from lifetide.journeys.rounds import Round, with_codes
from lifetide.messaging.bounce_reports import apply_reports
from lifetide.ops.database import single_statements, transaction

# A result on its way to the database: the send's row, and a bounce to report.
Entry = tuple[dict[str, Any], BounceReport | None]


class Deliveries:
    """Hand-overs, results and failures of one worker's sends."""

    def __init__(self, lifetide: Lifetide, worker: str, lease: dt.timedelta) -> None:
        self._app = lifetide
        self._worker = worker
        self._lease = lease

    def hand_over(
        self, records: Connection, items: Sequence[tuple[Claimed, str, Any]]
    ) -> list[tuple[Claimed, str, Any]]:
        """The items still ours, now `sending`: only these can be in doubt after a crash.

        `records`: see `single_statements`; the hand-over is one statement, committed
        before anything is sent.
        """
        if not items:
            return []
        now = self._app.clock.now()
        with records.begin():
            mine = hand_over(records, self._worker, [s.id for s, _, _ in items], now, self._lease)
        return [item for item in items if item[0].id in mine]

    def fail(
        self, failures: Sequence[tuple[Claimed, str]], codes: Mapping[int, str] | None = None
    ) -> None:
        """Record sends that cannot go, each with its reason."""
        if not failures:
            return
        rows = [{"id": s.id, "status": "failed", "reason": why} for s, why in failures]
        with_codes(rows, codes or {})
        with transaction(self._app.sessions) as session:
            settle(session, self._worker, rows)

    def settle(
        self,
        records: Connection,
        items: Sequence[tuple[Claimed, str, Any]],
        results: Sequence[DeliveryResult],
        codes: Mapping[int, str],
    ) -> dict[str, int]:
        """Record a chunk's results, in one commit; the outcomes counted."""
        now = self._app.clock.now()
        counts: dict[str, int] = defaultdict(int)
        entries: list[Entry] = []
        for (send, address, _), result in zip(items, results, strict=True):
            row, outcome, bounce = result_row(send, address, result, now)
            counts[outcome] += 1
            entries.append((row, bounce))
        self.write(records, codes, entries)
        return counts

    def write(self, records: Connection, codes: Mapping[int, str], entries: list[Entry]) -> None:
        """Write results (each row whole, by one statement) in one commit; report bounces."""
        rows = [row for row, _ in entries]
        with_codes(rows, codes)
        with records.begin():
            settle(records, self._worker, rows)
        bounces = [bounce for _, bounce in entries if bounce is not None]
        if bounces:
            apply_reports(self._app, bounces, "smtp")

    async def stream_emails(
        self, transport: EmailTransport, current: Round, thread: Executor
    ) -> dict[str, int]:
        """Hand over, send and record the round's e-mails as the builder makes them.

        `thread`: the one thread that uses the database connection the results go by.
        """
        counts: dict[str, int] = defaultdict(int)
        if current.built is None:
            return counts
        opened = single_statements(self._app.ops_engine)
        loop = asyncio.get_running_loop()
        records = await loop.run_in_executor(thread, opened.__enter__)
        try:
            commits: GroupCommit[Entry] = GroupCommit(
                lambda entries: self.write(records, current.codes, entries), thread
            )

            async def record(_index: int, result: DeliveryResult) -> None:
                send, address = current.held[result.key]
                row, outcome, bounce = result_row(send, address, result, self._app.clock.now())
                counts[outcome] += 1
                await commits.add((row, bounce))

            await transport.send_stream(self._ready(current, commits, records, counts), record)
        finally:
            await loop.run_in_executor(thread, opened.__exit__, None, None, None)
        return counts

    async def _ready(
        self,
        current: Round,
        commits: GroupCommit[Entry],
        records: Connection,
        counts: dict[str, int],
    ) -> AsyncGenerator[OutgoingEmail, None]:
        """The round's e-mails, each slice handed over as the builder hands it back."""
        assert current.built is not None
        slices = current.built
        held = current.held
        while (built := await asyncio.to_thread(next, slices, None)) is not None:
            problems = [(held[b.key][0], b.problem or "") for b in built if b.email is None]
            if problems:
                await commits.call(self.fail, problems, current.codes)
                counts["failed"] += len(problems)
            ready = [(*held[b.key], b.email) for b in built if b.email is not None]
            for _send, _address, email in await commits.call(self.hand_over, records, ready):
                yield email
