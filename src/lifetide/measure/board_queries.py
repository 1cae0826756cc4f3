"""The queries a dashboard runs, as functions of its period, and running them on the warehouse.

Five queries (measure.queries, measure.attribution, measure.lift): the credited orders; the
revenue of the holdout's arms; sends, engagement and opt-outs. Orders are read by profile from
`placed_orders` (measure.placed). On a DuckDB warehouse each query is compiled once
(measure.prepared) and sent as SQL; on any other backend it runs through Ibis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from lifetide.experiments.holdouts import GLOBAL, journey_key
from lifetide.measure.attribution import Windows, credits
from lifetide.measure.lift import arm_revenue
from lifetide.measure.prepared import (
    DIALECT,
    STAND_IN,
    BoundedSql,
    NotPreparable,
    bounds,
    compile_bounded,
)
from lifetide.measure.queries import (
    Period,
    engaged,
    opt_outs,
    placed_in,
    profile_orders,
    sent,
    touches,
)
from lifetide.measure.tables import (
    EXPOSURES,
    EXPOSURES_SCHEMA,
    PLACED,
    PLACED_SCHEMA,
    SENDS,
    SENDS_SCHEMA,
    TOUCHES,
    TOUCHES_SCHEMA,
)
from lifetide.warehouse.connection import Warehouse, ibis_schema
from lifetide.warehouse.schema import EVENTS, ORDERS


@dataclass(frozen=True)
class Source:
    """The tables the dashboard queries read."""

    sends: ir.Table
    touches: ir.Table
    exposures: ir.Table
    events: ir.Table
    placed: ir.Table


@dataclass(frozen=True)
class Ask:
    """What a dashboard asks about: its period, attribution windows, and journey (or all)."""

    period: Period
    windows: Windows
    journey_id: int | None


def experiment_of(journey_id: int | None) -> str:
    """The holdout a dashboard measures lift over: the global one, or the journey's."""
    return GLOBAL if journey_id is None else journey_key(journey_id)


def _credited(s: Source, a: Ask) -> ir.Table:
    both = a.period.with_previous()
    seen = touches(s.touches, both.start - a.windows.click, both.end, a.journey_id)
    return credits(placed_in(s.placed, both), seen, a.windows).select(
        "send_key", "journey_id", "step", "ordered_at", "revenue"
    )


def _arms(s: Source, a: Ask) -> ir.Table:
    periods = [a.period, a.period.previous()]
    return arm_revenue(s.exposures, s.placed, experiment_of(a.journey_id), periods)


QUERIES: dict[str, Callable[[Source, Ask], ir.Table]] = {
    "credited": _credited,
    "arms": _arms,
    "sent": lambda s, a: sent(s.sends, a.period, a.journey_id),
    "engaged": lambda s, a: engaged(s.touches, s.sends, a.period, a.journey_id),
    "opt_outs": lambda s, a: opt_outs(s.events, a.period, a.journey_id),
}


def unbound() -> Source:
    """The tables by name and schema, for compiling to SQL."""
    return Source(
        sends=ibis.table(SENDS_SCHEMA, name=SENDS),
        touches=ibis.table(TOUCHES_SCHEMA, name=TOUCHES),
        exposures=ibis.table(EXPOSURES_SCHEMA, name=EXPOSURES),
        events=ibis.table(ibis_schema(EVENTS), name=EVENTS.name),
        placed=ibis.table(PLACED_SCHEMA, name=PLACED),
    )


@dataclass(frozen=True)
class _Compiled:
    """A query's SQL with its bounds as tokens (or None), and the schema Ibis gives its rows."""

    sql: BoundedSql | None
    schema: pa.Schema


@lru_cache(maxsize=256)
def _compiled(name: str, windows: Windows, journey_id: int | None) -> _Compiled:
    build = QUERIES[name]

    def expr(period: Period) -> ir.Table:
        return build(unbound(), Ask(period, windows, journey_id))

    try:
        sql: BoundedSql | None = compile_bounded(expr, windows.click)
    except NotPreparable:
        sql = None
    return _Compiled(sql, expr(STAND_IN).schema().to_pyarrow())


def sql_of(name: str, ask: Ask) -> str:
    """The SQL of one dashboard query for this ask, as DuckDB runs it."""
    prepared = _compiled(name, ask.windows, ask.journey_id).sql
    if prepared is None:
        return str(ibis.to_sql(QUERIES[name](unbound(), ask), dialect=DIALECT))
    return prepared.fill(bounds(ask.period, ask.windows.click))


class Runner:
    """Runs the dashboard queries of one ask on the calling thread's warehouse connection."""

    def __init__(self, warehouse: Warehouse, ask: Ask, *, as_sql: bool | None = None) -> None:
        self._warehouse = warehouse
        self._ask = ask
        # Prepared SQL where the warehouse is DuckDB; Ibis otherwise (or when a test asks).
        self._as_sql = warehouse.is_duckdb if as_sql is None else as_sql

    def rows(self, name: str) -> list[dict[str, Any]]:
        """The rows of query `name`."""
        if self._as_sql:
            cursor = self._warehouse.duckdb.execute(sql_of(name, self._ask))
            # In the types Ibis gives (DuckDB sums whole numbers as decimals).
            schema = _compiled(name, self._ask.windows, self._ask.journey_id).schema
            return list(cursor.fetch_arrow_table().cast(schema).to_pylist())
        return list(QUERIES[name](self._bound(), self._ask).to_pyarrow().to_pylist())

    def _bound(self) -> Source:
        backend = self._warehouse.thread_backend()
        return Source(
            sends=backend.table(SENDS),
            touches=backend.table(TOUCHES),
            exposures=backend.table(EXPOSURES),
            events=backend.table(EVENTS.name),
            # What placed_orders keeps, where no import writer keeps it (and in the tests
            # that hold the two to each other).
            placed=profile_orders(backend.table(ORDERS.name), backend.table("profile_keys")),
        )
