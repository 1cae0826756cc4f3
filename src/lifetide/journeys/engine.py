"""The journey engine as the worker runs it: intake, triggers, due steps, sends.

Each part is its own task with its own guard in the worker, so a failing SMTP server does not
stop journeys from moving, nor a bad event the sends. Any number of engines may run against
one PostgreSQL database (claims keep them apart); the journal intake belongs to the process
that owns the journal (the one that also loads the warehouse).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable, Collection
from functools import cached_property

from lifetide.context import Lifetide
from lifetide.journeys.dispatch import Dispatcher
from lifetide.journeys.facts import rule_evaluator
from lifetide.journeys.intake import EventIntake
from lifetide.journeys.runner import DEFAULT_LEASE, JourneyRunner
from lifetide.journeys.triggers import WarehouseTriggers


def worker_name() -> str:
    """A name unique to this process and start: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JourneyEngine:
    """The journey tasks of one worker, each returning how much work it did."""

    def __init__(
        self,
        lifetide: Lifetide,
        worker: str | None = None,
        *,
        lease: dt.timedelta | None = None,
    ) -> None:
        self._app = lifetide
        self.worker = worker or worker_name()
        self._lease = lease
        self._dispatcher: Dispatcher | None = None
        self.runner = JourneyRunner(
            lifetide.sessions,
            lifetide.clock,
            self.worker,
            # The warehouse is opened only when a branch step asks: a worker that runs steps
            # and sends only may not share an embedded warehouse file with the serving process.
            rule_evaluator(lambda: lifetide.warehouse, lifetide.clock.now),
            lease=lease or DEFAULT_LEASE,
        )

    @cached_property
    def intake(self) -> EventIntake:
        """The journal intake (opened on first use: only the journal's process needs it)."""
        return EventIntake(self._app.sessions, self._app.clock, self._app.journal)

    @cached_property
    def triggers(self) -> WarehouseTriggers:
        """Segment-change and date triggers (opened on first use)."""
        return WarehouseTriggers(self._app.sessions, self._app.clock, self._app.warehouse)

    @property
    def dispatcher(self) -> Dispatcher:
        """The outbox dispatcher (made on first use, on the thread that uses it)."""
        if self._dispatcher is None:
            if self._lease is None:
                self._dispatcher = Dispatcher(self._app, self.worker)
            else:
                self._dispatcher = Dispatcher(self._app, self.worker, lease=self._lease)
        return self._dispatcher

    def consume_events(self) -> int:
        """Journal events into opens and inputs; how many entries were taken."""
        return self.intake.consume().entries

    def start_from_warehouse(self) -> int:
        """Segment-change and date triggers; how many instances were opened."""
        return self.triggers.segments() + self.triggers.dates()

    def run_steps(self) -> int:
        """One batch of due instances; how many were claimed."""
        return self.runner.run_batch().claimed

    def send(self) -> int:
        """One round of due sends; how many were claimed."""
        return self.dispatcher.dispatch().claimed

    def tasks(self, journal: bool = True) -> list[tuple[str, Callable[[], int]]]:
        """The worker's journey tasks, in the order a round runs them."""
        tasks: list[tuple[str, Callable[[], int]]] = []
        if journal:
            tasks.append(("journey events", self.consume_events))
            tasks.append(("journey triggers", self.start_from_warehouse))
        tasks.append(("journey steps", self.run_steps))
        tasks.append(("journey sends", self.send))
        return tasks

    def run_until_idle(self, rounds: int = 1000, *, skip: Collection[str] = ()) -> int:
        """Run every task (but those named in `skip`) until none has work; total work done.

        For tests and simulations; a rehearsal skips "journey triggers", read once a day.
        """
        tasks = [task for name, task in self.tasks() if name not in skip]
        total = 0
        for _ in range(rounds):
            done = sum(task() for task in tasks)
            total += done
            if not done:
                return total
        return total

    def close(self) -> None:
        """Close the dispatcher's connections."""
        if self._dispatcher is not None:
            self._dispatcher.close()
            self._dispatcher = None
