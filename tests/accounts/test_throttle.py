"""How long a throttled sign-in waits."""

from __future__ import annotations

import datetime as dt

from lifetide.accounts.throttle import WINDOW, retry_after

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def minutes_ago(*minutes: float) -> list[dt.datetime]:
    return [NOW - dt.timedelta(minutes=m) for m in minutes]


def test_below_the_limit_there_is_no_wait() -> None:
    assert retry_after([], 5, NOW) is None
    assert retry_after(minutes_ago(4, 3, 2, 1), 5, NOW) is None


def test_at_the_limit_wait_until_the_oldest_leaves_the_window() -> None:
    assert dt.timedelta(minutes=15) == WINDOW
    assert retry_after(minutes_ago(10, 3, 2, 1, 0), 5, NOW) == 5 * 60
    assert retry_after(minutes_ago(0, 0, 0, 0, 0), 5, NOW) == 15 * 60


def test_over_the_limit_wait_until_enough_have_left() -> None:
    # Seven failures, limit five: three must leave, the third oldest last.
    assert retry_after(minutes_ago(14, 12, 9, 3, 2, 1, 0), 5, NOW) == 6 * 60


def test_partial_seconds_round_up_and_never_to_zero() -> None:
    almost = [NOW - WINDOW + dt.timedelta(milliseconds=300)]
    assert retry_after(almost, 1, NOW) == 1
    assert retry_after([NOW - dt.timedelta(minutes=14, seconds=30.5)], 1, NOW) == 30
