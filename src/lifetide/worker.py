"""The background worker of `lifetide serve`: loads the journal, refreshes scheduled segments.

Later issues add journey steps here. It is one thread that repeats its
tasks, resting only when none had work, so a burst is loaded without delay.
"""

from __future__ import annotations

import logging
import threading

from lifetide.collect.loader import WarehouseLoader
from lifetide.context import Lifetide
from lifetide.identity.live import LiveIdentity
from lifetide.segments.service import SegmentService

log = logging.getLogger(__name__)


class Worker:
    """Runs the background tasks of one Lifetide until stopped."""

    def __init__(self, lifetide: Lifetide, idle_seconds: float = 0.5) -> None:
        self._lifetide = lifetide
        self._idle = idle_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Do one round of every task; how many items of work were done."""
        app = self._lifetide
        loader = WarehouseLoader(app.journal, app.warehouse, LiveIdentity(app.sessions, app.clock))
        loaded = loader.load_once().messages
        # After loading, so a scheduled refresh sees the events just loaded.
        refreshed = SegmentService(app).refresh_due()
        return loaded + refreshed

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

    def stop(self) -> None:
        """Ask the worker to stop and wait for its current round to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
