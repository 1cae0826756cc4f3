"""Prepared dashboard SQL: the bounds filled in give the SQL Ibis compiles for the period."""

from __future__ import annotations

import datetime as dt
import re

import ibis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifetide.measure.attribution import Windows
from lifetide.measure.board_queries import QUERIES, Ask, sql_of, unbound
from lifetide.measure.prepared import (
    DIALECT,
    NotPreparable,
    compile_bounded,
)
from lifetide.measure.queries import Period
from lifetide.measure.tables import SENDS, SENDS_SCHEMA

_MAKE = re.compile(r"MAKE_TIMESTAMP\((\d+), (\d+), (\d+), (\d+), (\d+), ([0-9.eE+-]+)\)")


def _as_timestamp_literals(sql: str) -> str:
    """Ibis's MAKE_TIMESTAMP literals written as TIMESTAMP '...', as prepared SQL has them."""

    def literal(m: re.Match[str]) -> str:
        seconds = float(m.group(6))
        moment = dt.datetime(
            *(int(m.group(i)) for i in range(1, 6)),
            int(seconds),
            round((seconds - int(seconds)) * 1_000_000),
        )
        return f"TIMESTAMP '{moment.isoformat(sep=' ')}'"

    return _MAKE.sub(literal, sql)


periods = st.builds(
    lambda start, span: Period(start, start + span),
    st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2090, 1, 1)),
    st.timedeltas(dt.timedelta(minutes=1), dt.timedelta(days=400)),
)


@settings(max_examples=30, deadline=None)
@given(
    period=periods,
    journey=st.sampled_from([None, 3]),
    click=st.timedeltas(dt.timedelta(0), dt.timedelta(days=30)),
)
def test_prepared_sql_is_the_sql_ibis_compiles_for_the_period(
    period: Period, journey: int | None, click: dt.timedelta
) -> None:
    ask = Ask(period, Windows(click=click), journey)
    for name, build in QUERIES.items():
        direct = str(ibis.to_sql(build(unbound(), ask), dialect=DIALECT))
        assert sql_of(name, ask) == _as_timestamp_literals(direct), name


def test_every_dashboard_query_is_prepared() -> None:
    ask = Ask(Period(dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1)), Windows(), None)
    for name in QUERIES:
        assert "__lifetide_bound_" not in sql_of(name, ask)
        assert "MAKE_TIMESTAMP" not in sql_of(name, ask), f"{name} was compiled, not prepared"


def test_a_bound_it_does_not_know_is_refused() -> None:
    sends = ibis.table(SENDS_SCHEMA, name=SENDS)
    with pytest.raises(NotPreparable, match="not a known bound"):
        compile_bounded(
            lambda p: sends.filter(sends.created_at >= p.start - dt.timedelta(hours=3)),
            dt.timedelta(days=5),
        )
