"""The background worker: loads events, keeps recent activity, refreshes segments, runs journeys.

It also copies settled sends for measurement. `lifetide serve` runs one in a thread;
`lifetide worker` runs more as processes of their own (journey steps and sends only: the
journal belongs to the serving process). It repeats its tasks, resting only when none had
work, so a burst is handled without delay.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from lifetide.context import Lifetide
from lifetide.journeys.engine import JourneyEngine
from lifetide.measure.sync import MeasureCopy
from lifetide.segments.service import SegmentService

log = logging.getLogger(__name__)
# How often recent activity drops what aged out of its window.
EXPIRY_SECONDS = 3600.0


class Worker:
    """Runs the background tasks of one Lifetide until stopped."""

    def __init__(
        self,
        lifetide: Lifetide,
        idle_seconds: float = 0.5,
        *,
        journal: bool = True,
        name: str | None = None,
        lease: dt.timedelta | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lifetide = lifetide
        self._idle = idle_seconds
        self._journal = journal
        self._name = name
        self._lease = lease
        self._engine: JourneyEngine | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}
        # The back-off's clock (seconds, only ever compared): a test can hold it still.
        self._monotonic = monotonic
        self._next_expiry = float("-inf")

    def run_once(self) -> int:
        """Do one round of every task; how many items of work were done.

        Each task is guarded on its own: a loader stuck on a bad batch must not stop
        scheduled segment refreshes, nor the other way round. Failures are logged and the
        task is tried again next round.
        """
        done = 0
        if self._engine is None:
            # Made on the thread that runs it: the dispatcher's event loop lives there.
            self._engine = JourneyEngine(self._lifetide, self._name, lease=self._lease)
        tasks: list[tuple[str, Callable[[], int]]] = []
        if self._journal:
            tasks += [
                ("load", self._load),
                ("recent activity", self._activity),
                ("refresh segments", self._refresh),
            ]
        tasks += self._engine.tasks(journal=self._journal)
        if self._journal:
            # Last, so what this round sent is on the dashboards within the round.
            tasks.append(("copy for measurement", self._measure))
        for name, task in tasks:
            if self._monotonic() < self._retry_at.get(name, 0.0):
                continue
            try:
                done += task()
                self._failures[name] = 0
            except Exception:
                failures = self._failures.get(name, 0) + 1
                self._failures[name] = failures
                # Back off (1 s, 2 s, 4 s ... up to a minute) so a lasting fault is not
                # retried, and logged, twice a second.
                wait = min(60.0, 2.0 ** (failures - 1))
                self._retry_at[name] = self._monotonic() + wait
                log.exception("worker task %r failed; retrying in %.0f s", name, wait)
        return done

    def _load(self) -> int:
        return self._lifetide.loader().load_once().messages

    def _activity(self) -> int:
        """Fill recent activity from the warehouse when it is empty, then expire it hourly.

        Empty on the first start after an upgrade, or with events loaded around Lifetide: a
        copy of the window is what the loader would have kept.
        """
        if self._monotonic() < self._next_expiry:
            return 0
        self._next_expiry = self._monotonic() + EXPIRY_SECONDS
        app = self._lifetide
        if app.activity.empty():
            added = app.activity.copy_from(app.warehouse)
            if added:
                log.info("recent activity was empty: copied %d events from the warehouse", added)
        app.activity.expire()
        # Housekeeping, done whole in one go: not work that should keep the loop from resting.
        return 0

    def _measure(self) -> int:
        app = self._lifetide
        return MeasureCopy(app.sessions, app.warehouse, app.clock).run_once()

    def _refresh(self) -> int:
        # After loading, so a scheduled refresh sees the events just loaded.
        return SegmentService(self._lifetide).refresh_due()

    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._loop, name="lifetide-worker", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_once()
            except Exception:  # a bad round must not kill the worker; it is retried
                log.exception("worker round failed; retrying")
                done = 0
            if not done:
                self._stop.wait(self._idle)

    def request_stop(self) -> None:
        """Ask the loop to end after its current round (safe from a signal handler)."""
        self._stop.set()

    def run_forever(self) -> None:
        """Run rounds on the calling thread until `request_stop`."""
        try:
            self._loop()
        finally:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

    def stop(self) -> None:
        """Ask the worker to stop and wait for its current round to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._engine is not None:
            self._engine.close()
            self._engine = None
