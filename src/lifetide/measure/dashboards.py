"""The figures of the Studio's dashboards: overview, one journey, from the warehouse.

Each dashboard is a handful of aggregate queries (measure.queries, measure.attribution,
measure.lift) on the warehouse, for the chosen period and the one before it, run on the
calling thread's connection; what comes back is a few hundred rows at most. The operational
database is asked only for journey names and their live per-step counts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import ibis

from lifetide.context import Lifetide
from lifetide.experiments.holdouts import GLOBAL
from lifetide.measure.attribution import Windows, attribute
from lifetide.measure.lift import Lift, arm_revenue, lift, summaries
from lifetide.measure.queries import Period, funnel, opt_outs, profile_orders, touches
from lifetide.measure.tables import EXPOSURES, SENDS
from lifetide.ops.models import JourneyRecord


@dataclass
class Funnel:
    """Messages sent in a period and what came of them."""

    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    opened: int = 0
    clicked: int = 0
    ordered: int = 0
    unsubscribes: int = 0
    complaints: int = 0

    def add(self, row: dict[str, Any]) -> None:
        """Add one funnel row's counts."""
        for name in ("sent", "delivered", "bounced", "opened", "clicked"):
            setattr(self, name, getattr(self, name) + int(row[name] or 0))


@dataclass
class Attributed:
    """Orders credited to messages, and their revenue."""

    orders: int = 0
    revenue: float = 0.0

    def add(self, revenue: float) -> None:
        """Count one credited order."""
        self.orders += 1
        self.revenue += revenue


@dataclass
class Line:
    """One row of a breakdown (a journey, a step): its funnel and attributed revenue."""

    key: str
    label: str
    funnel: Funnel = field(default_factory=Funnel)
    attributed: Attributed = field(default_factory=Attributed)


@dataclass
class PeriodFigures:
    """Everything a dashboard shows about one period."""

    period: Period
    funnel: Funnel
    attributed: Attributed
    lines: dict[str, Line]
    daily: list[tuple[dt.date, int, float]]
    lift: Lift


@dataclass(frozen=True)
class Dashboard:
    """A period's figures beside the previous period's, as of `computed_at`."""

    current: PeriodFigures
    previous: PeriodFigures
    computed_at: dt.datetime
    journey_id: int | None = None


def period_ending(now: dt.datetime, days: int) -> Period:
    """The last `days` days up to `now` (naive UTC); 0 days means today since midnight UTC."""
    end = now.astimezone(dt.UTC).replace(tzinfo=None)
    if days <= 0:
        return Period(end.replace(hour=0, minute=0, second=0, microsecond=0), end)
    return Period(end - dt.timedelta(days=days), end)


class Dashboards:
    """Computes the dashboards of one Lifetide."""

    def __init__(self, app: Lifetide, windows: Windows | None = None) -> None:
        self._app = app
        self._windows = windows or Windows()

    def overview(self, period: Period) -> Dashboard:
        """All journeys: the funnel, attributed and incremental revenue, revenue by journey."""
        names = self._journey_names()
        current, previous = self._both(period, None, names)
        return Dashboard(current, previous, self._app.clock.now())

    def journey(self, journey_id: int, period: Period) -> Dashboard:
        """One journey: its funnel and attributed revenue by step, lift over its holdout."""
        current, previous = self._both(period, journey_id, {})
        return Dashboard(current, previous, self._app.clock.now(), journey_id)

    def _both(
        self, period: Period, journey_id: int | None, names: dict[int, str]
    ) -> tuple[PeriodFigures, PeriodFigures]:
        """The period's figures and the previous period's, computed side by side.

        Each thread queries on its own warehouse cursor; while one waits on DuckDB the other
        compiles its expressions and reads its results (see docs/benchmarks.md, Dashboards).
        """
        with ThreadPoolExecutor(1, thread_name_prefix="lifetide-dashboard") as pool:
            before = pool.submit(self._figures, period.previous(), journey_id, names)
            now = self._figures(period, journey_id, names)
            return now, before.result()

    def _journey_names(self) -> dict[int, str]:
        with self._app.sessions() as session:
            return dict(session.query(JourneyRecord.id, JourneyRecord.name).all())  # type: ignore[arg-type]

    def _figures(
        self, period: Period, journey_id: int | None, names: dict[int, str]
    ) -> PeriodFigures:
        backend = self._app.warehouse.thread_backend()
        events, sends = backend.table("events"), backend.table(SENDS)
        by = "journey_id" if journey_id is None else "step"
        lines: dict[str, Line] = {}

        def line(value: Any) -> Line:
            key = "" if value is None else str(value)
            if key not in lines:
                label = (
                    names.get(int(value), f"Journey {value}")
                    if by == "journey_id" and value is not None
                    else (key or "(none)")
                )
                lines[key] = Line(key, label)
            return lines[key]

        total = Funnel()
        for row in funnel(sends, events, period, journey_id).to_pyarrow().to_pylist():
            total.add(row)
            line(row[by]).funnel.add(row)
        outs = opt_outs(events, period, journey_id).to_pyarrow().to_pylist()[0]
        total.unsubscribes = int(outs["unsubscribes"] or 0)
        total.complaints = int(outs["complaints"] or 0)

        # Once per period: attribution and the lift both read these, and joining every order
        # to its customer is the costliest part of either.
        orders = ibis.memtable(
            profile_orders(
                backend.table("orders"), backend.table("profile_keys"), period
            ).to_pyarrow()
        )
        seen = touches(events, sends, period.start - self._windows.click, period.end)
        if journey_id is not None:
            seen = seen.filter(seen.journey_id == journey_id)
        credited = attribute(orders, seen, self._windows)
        credited = credited.filter(credited.send_key.notnull()).select(
            "send_key", "journey_id", "step", "ordered_at", "revenue"
        )
        attributed = Attributed()
        daily: dict[dt.date, Attributed] = defaultdict(Attributed)
        ordered_sends: set[str] = set()
        for row in credited.to_pyarrow().to_pylist():
            revenue = float(row["revenue"] or 0.0)
            attributed.add(revenue)
            line(row[by]).attributed.add(revenue)
            daily[row["ordered_at"].date()].add(revenue)
            ordered_sends.add(row["send_key"])
        total.ordered = len(ordered_sends)

        experiment = GLOBAL if journey_id is None else f"journey-{journey_id}-holdout"
        arms = arm_revenue(backend.table(EXPOSURES), orders, experiment, period.start, period.end)
        days = _days(period)
        return PeriodFigures(
            period,
            total,
            attributed,
            dict(sorted(lines.items(), key=lambda kv: -kv[1].attributed.revenue)),
            [(d, daily[d].orders, daily[d].revenue) for d in days],
            lift(summaries(arms.to_pyarrow().to_pylist())),
        )


def _days(period: Period) -> list[dt.date]:
    first, last = period.start.date(), (period.end - dt.timedelta(microseconds=1)).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
