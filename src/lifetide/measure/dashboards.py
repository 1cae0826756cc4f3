"""The figures of the Studio's dashboards: overview, one journey, from the warehouse.

Each dashboard is six queries on the warehouse (measure.board_queries), each reading the chosen
period and the one before it in one scan, on two threads with a warehouse cursor each; what
comes back is a few hundred rows, and the credited orders. The operational database is asked
only for journey names and their live per-step counts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lifetide.context import Lifetide
from lifetide.measure.attribution import CLICK, OPEN, Windows
from lifetide.measure.board_queries import Ask, Runner
from lifetide.measure.lift import Lift, lift, summaries
from lifetide.measure.queries import Period
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
        """The period's figures and the previous period's.

        Every query reads both periods in one scan. The engagement queries (funnel, opt-outs)
        run on a second thread, on its own warehouse cursor, while this one joins the orders
        to customers and credits them (see docs/benchmarks.md, Dashboards).
        """
        periods = (period, period.previous())
        figures = [_Figures(p, journey_id, names) for p in periods]
        with ThreadPoolExecutor(1, thread_name_prefix="lifetide-dashboard") as pool:
            engagement = pool.submit(self._engagement, period, journey_id, figures)
            self._revenue(period, journey_id, figures)
            engagement.result()
        return figures[0].done(), figures[1].done()

    def _journey_names(self) -> dict[int, str]:
        with self._app.sessions() as session:
            return dict(session.query(JourneyRecord.id, JourneyRecord.name).all())  # type: ignore[arg-type]

    def _engagement(self, period: Period, journey_id: int | None, figures: list[_Figures]) -> None:
        run = Runner(self._app.warehouse, Ask(period, self._windows, journey_id))
        for row in run.rows("sent"):
            _of(figures, row).count_sent(row)
        for row in run.rows("engaged"):
            _of(figures, row).count_engaged(row)
        for row in run.rows("opt_outs"):
            funnel = _of(figures, row).funnel
            funnel.unsubscribes = int(row["unsubscribes"] or 0)
            funnel.complaints = int(row["complaints"] or 0)

    def _revenue(self, period: Period, journey_id: int | None, figures: list[_Figures]) -> None:
        run = Runner(self._app.warehouse, Ask(period, self._windows, journey_id))
        for row in run.rows("credited"):
            figures[0 if row["ordered_at"] >= period.start else 1].credit(row)
        arms = run.rows("arms")
        for i, f in enumerate(figures):
            f.lift = lift(summaries(arms, i))


class _Figures:
    """One period's figures as the queries' rows come in."""

    def __init__(self, period: Period, journey_id: int | None, names: dict[int, str]) -> None:
        self.period = period
        self.funnel = Funnel()
        self.attributed = Attributed()
        self.lift = lift({})
        self._by = "journey_id" if journey_id is None else "step"
        self._names = names
        self._lines: dict[str, Line] = {}
        self._daily: dict[dt.date, Attributed] = defaultdict(Attributed)
        self._ordered: set[str] = set()

    def line(self, row: dict[str, Any]) -> Line:
        """The breakdown line a row belongs to (a journey on the overview, else a step)."""
        value = row[self._by]
        key = "" if value is None else str(value)
        if key not in self._lines:
            label = (
                self._names.get(int(value), f"Journey {value}")
                if self._by == "journey_id" and value is not None
                else (key or "(none)")
            )
            self._lines[key] = Line(key, label)
        return self._lines[key]

    def count_sent(self, row: dict[str, Any]) -> None:
        """Add a `sent` row: messages sent, some refused at once."""
        for funnel in (self.funnel, self.line(row).funnel):
            sent, refused = int(row["sent"] or 0), int(row["refused"] or 0)
            funnel.sent += sent
            funnel.bounced += refused
            funnel.delivered += sent - refused

    def count_engaged(self, row: dict[str, Any]) -> None:
        """Add an `engaged` row: sends opened, clicked, or bounced after the provider took them."""
        sends = int(row["sends"] or 0)
        for funnel in (self.funnel, self.line(row).funnel):
            if row["kind"] == OPEN:
                funnel.opened += sends
            elif row["kind"] == CLICK:
                funnel.clicked += sends
            else:
                funnel.bounced += sends
                funnel.delivered -= sends

    def credit(self, row: dict[str, Any]) -> None:
        """Count one order credited to a send."""
        revenue = float(row["revenue"] or 0.0)
        self.attributed.add(revenue)
        self.line(row).attributed.add(revenue)
        self._daily[row["ordered_at"].date()].add(revenue)
        self._ordered.add(row["send_key"])

    def done(self) -> PeriodFigures:
        """The period's figures, lines by attributed revenue."""
        self.funnel.ordered = len(self._ordered)
        return PeriodFigures(
            self.period,
            self.funnel,
            self.attributed,
            dict(sorted(self._lines.items(), key=lambda kv: -kv[1].attributed.revenue)),
            [(d, self._daily[d].orders, self._daily[d].revenue) for d in _days(self.period)],
            self.lift,
        )


def _of(figures: list[_Figures], row: dict[str, Any]) -> _Figures:
    # The queries read both periods in one scan and mark the later one `current`.
    return figures[0 if row["current"] else 1]


def _days(period: Period) -> list[dt.date]:
    first, last = period.start.date(), (period.end - dt.timedelta(microseconds=1)).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
