"""The worker: each task is guarded on its own, and a failing one backs off."""

from __future__ import annotations

import datetime as dt

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.segments.service import SegmentService
from lifetide.settings import Settings
from lifetide.worker import Worker


class BrokenLoader(Worker):
    """A worker whose loading task fails every time (a fault injected for this test)."""

    def __init__(self, lifetide: Lifetide) -> None:
        # The back-off's clock stands still: a slow round must not let it expire mid-test.
        super().__init__(lifetide, monotonic=lambda: 1000.0)
        self.load_calls = 0

    def _load(self) -> int:
        self.load_calls += 1
        raise RuntimeError("a bad batch in the journal")


def test_a_failing_loader_does_not_stop_scheduled_refreshes(settings: Settings) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC))
    with Lifetide(settings, clock=clock) as app:
        service = SegmentService(app)
        created = service.create("Everyone", {"root": {"type": "group"}}, None, refresh_minutes=5)
        clock.advance(dt.timedelta(minutes=6))
        worker = BrokenLoader(app)
        assert worker.run_once() == 1  # the refresh ran although loading failed
        assert service.get(created.id).refreshes[0].trigger == "schedule"
        # Within the back-off the broken task is not tried again.
        worker.run_once()
        assert worker.load_calls == 1
