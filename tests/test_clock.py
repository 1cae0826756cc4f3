"""The manual clock moves only when told, and only forward."""

from __future__ import annotations

import datetime as dt

import pytest

from lifetide.clock import ManualClock, SystemClock

START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def test_manual_clock_advances_and_sets() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.advance(dt.timedelta(hours=1)) == START + dt.timedelta(hours=1)
    clock.set(dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert clock.now() == dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)


def test_manual_clock_refuses_to_go_back_or_naive_times() -> None:
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(START - dt.timedelta(seconds=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(dt.datetime(2026, 1, 1))


def test_system_clock_is_utc() -> None:
    assert SystemClock().now().tzinfo == dt.UTC
