"""Dashboard queries compiled to SQL once, with their time bounds filled in at each run.

A dashboard runs the same handful of queries on every poll; only the period moves. Building
and compiling their Ibis expressions cost 130 to 250 ms of Python a dashboard (measured on
the 1,000,000-customer benchmark: docs/benchmarks.md, Dashboards), as much as some of the
queries themselves, and it holds the GIL while the other thread's query wants it.

So a query is compiled once against a stand-in period whose bounds (the period's start and
end, the previous period's start, and that start less the click window) are dates no real
data has, in the fifteenth century. Each bound's literal in the SQL becomes a token, and a
run puts the real bound in its place. The bounds come from the same `Period` arithmetic for
the stand-in as for the real period, so the SQL is the one Ibis would compile for it. A query
whose SQL holds any other date from the stand-in's century (a bound derived in a way this
module does not know) is not prepared: `compile_bounded` raises, and the caller compiles
it for each run instead.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from lifetide.measure.queries import Period

DIALECT = "duckdb"
# Far from any real data, and each bound a distinct instant (the microseconds make sure).
STAND_IN = Period(dt.datetime(1450, 3, 1, 0, 0, 0, 11), dt.datetime(1450, 4, 1, 0, 0, 0, 13))
_CENTURY = range(1400, 1500)
# How Ibis's DuckDB compiler writes a timestamp literal: MAKE_TIMESTAMP(y, m, d, h, mi, s).
_LITERAL = re.compile(r"MAKE_TIMESTAMP\((\d+), (\d+), (\d+), (\d+), (\d+), ([0-9.eE+-]+)\)")


class NotPreparable(ValueError):
    """A query's SQL holds a stand-in date that is none of the known bounds."""


def bounds(period: Period, click: dt.timedelta) -> dict[str, dt.datetime]:
    """The instants a dashboard query may compare times with, by name."""
    both = period.with_previous()
    return {
        "start": period.start,
        "end": period.end,
        "previous_start": both.start,
        "touch_since": both.start - click,
    }


@dataclass(frozen=True)
class BoundedSql:
    """SQL text with a token where each bound goes."""

    text: str

    def fill(self, values: Mapping[str, dt.datetime]) -> str:
        """The SQL for these bounds (naive UTC datetimes, as the warehouse keeps time)."""
        sql = self.text
        for name, value in values.items():
            sql = sql.replace(_token(name), f"TIMESTAMP '{value.isoformat(sep=' ')}'")
        return sql


def compile_bounded(build: Callable[[Period], ir.Table], click: dt.timedelta) -> BoundedSql:
    """Compile `build(period)` once, its bounds left as tokens; raises NotPreparable."""
    # Two bounds meet only when the click window is zero, and then for every period: either
    # token stands for both.
    stand_ins: dict[dt.datetime, str] = {}
    for name, value in bounds(STAND_IN, click).items():
        stand_ins.setdefault(value, name)
    sql = ibis.to_sql(build(STAND_IN), dialect=DIALECT)

    def token(match: re.Match[str]) -> str:
        moment = _moment(match)
        if moment is None or moment.year not in _CENTURY:
            return match.group(0)
        if moment not in stand_ins:
            raise NotPreparable(f"the query compares times with {moment}, not a known bound")
        return _token(stand_ins[moment])

    return BoundedSql(_LITERAL.sub(token, str(sql)))


def _token(name: str) -> str:
    return f"__lifetide_bound_{name}__"


def _moment(match: re.Match[str]) -> dt.datetime | None:
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    seconds = float(match.group(6))
    whole = int(seconds)
    try:
        return dt.datetime(
            year, month, day, hour, minute, whole, round((seconds - whole) * 1_000_000)
        )
    except ValueError:
        return None
