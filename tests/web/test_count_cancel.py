"""A live count the browser gave up on is interrupted in DuckDB, not left running."""

from __future__ import annotations

import time

import anyio
import duckdb
import pytest

from lifetide.web.api.segments import _unless_abandoned


class GoneAfter:
    """A request whose client disconnects after `seconds` (the browser's AbortController)."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    async def is_disconnected(self) -> bool:
        return time.monotonic() >= self.at


SLOW = "SELECT count(*) FROM range(100000000) a, range(1000) b WHERE (a.range * b.range) % 7 = 3"


def test_an_abandoned_count_is_interrupted() -> None:
    cursor = duckdb.connect().cursor()
    started = time.monotonic()
    result = anyio.run(
        _unless_abandoned, GoneAfter(0.3), cursor, lambda: cursor.execute(SLOW).fetchone()
    )
    assert result is None
    # The query would run for minutes; the interrupt ends it within a second or two.
    assert time.monotonic() - started < 5


def test_a_count_that_finishes_answers() -> None:
    cursor = duckdb.connect().cursor()
    result = anyio.run(
        _unless_abandoned, GoneAfter(60), cursor, lambda: cursor.execute("SELECT 42").fetchone()
    )
    assert result == (42,)


def test_an_error_in_the_count_is_raised() -> None:
    cursor = duckdb.connect().cursor()
    with pytest.raises(duckdb.CatalogException):
        anyio.run(
            _unless_abandoned,
            GoneAfter(60),
            cursor,
            lambda: cursor.execute("SELECT * FROM nowhere").fetchone(),
        )
