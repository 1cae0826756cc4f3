"""The dashboards as JSON and CSV: figures, and every chart as a table of columns and rows.

The page draws each chart from its table and offers the same table as a CSV download, so what
is drawn and what is downloaded cannot differ.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from typing import Any

from lifetide.experiments.analysis import OutcomeResult
from lifetide.measure.dashboards import Dashboard, PeriodFigures, period_ending
from lifetide.measure.experiment_report import ExperimentReport
from lifetide.measure.lift import Lift
from lifetide.measure.queries import Period
from lifetide.segments.export import csv_cell

RANGES = {"today": 0, "7d": 7, "30d": 30, "90d": 90}
RANGE_LABELS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days"}
MAX_DAYS = 731
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadRange(ValueError):
    """A time range that cannot be read."""


@dataclass(frozen=True)
class Chosen:
    """The period a viewer asked for, and what to call it."""

    period: Period
    label: str
    query: dict[str, str]


def choose_period(
    now: dt.datetime, range_: str | None, start: str | None, end: str | None, default: str = "7d"
) -> Chosen:
    """The period named by `range` (today, 7d, 30d, 90d) or by `start`/`end` dates (inclusive)."""
    if start or end:
        if range_:
            raise BadRange("give either range or start and end, not both")
        if not (start and end):
            raise BadRange("a custom range needs both start and end (YYYY-MM-DD)")
        first, last = _date("start", start), _date("end", end)
        if last < first:
            raise BadRange(f"end ({last}) is before start ({first})")
        if (last - first).days + 1 > MAX_DAYS:
            raise BadRange(f"a range may span at most {MAX_DAYS} days")
        begin = dt.datetime.combine(first, dt.time())
        period = Period(begin, dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
        return Chosen(
            period, f"{first:%b %-d, %Y} to {last:%b %-d, %Y}", {"start": start, "end": end}
        )
    name = range_ or default
    if name not in RANGES:
        raise BadRange(f"unknown range {name!r}; use one of {', '.join(RANGES)} or start and end")
    return Chosen(period_ending(now, RANGES[name]), RANGE_LABELS[name], {"range": name})


def _date(name: str, value: str) -> dt.date:
    if not _DATE.fullmatch(value):
        raise BadRange(f"{name} must be a date as YYYY-MM-DD, not {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRange(f"{name} {value!r} is not a calendar date") from None


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def _change(current: float, previous: float) -> float | None:
    return _num(current / previous - 1) if previous else None


def _period(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat() + "Z", "end": period.end.isoformat() + "Z"}


def _lift(lift: Lift) -> dict[str, Any]:
    return {
        "treated_customers": lift.treated.customers,
        "holdout_customers": lift.holdout.customers,
        "treated_per_customer": _num(lift.treated.mean),
        "holdout_per_customer": _num(lift.holdout.mean),
        "difference": _num(lift.difference),
        "low": _num(lift.low),
        "high": _num(lift.high),
        "relative": _num(lift.relative),
        "incremental": _num(lift.incremental),
        "incremental_low": _num(lift.incremental_low),
        "incremental_high": _num(lift.incremental_high),
    }


FUNNEL = ("sent", "delivered", "opened", "clicked", "ordered")
OPT_OUTS = ("bounced", "unsubscribes", "complaints")


def dashboard_payload(board: Dashboard, chosen: Chosen, by: str) -> dict[str, Any]:
    """A dashboard as JSON: KPIs, funnel, lines (journeys or steps), days, lift."""
    now, before = board.current, board.previous
    incremental = now.lift.incremental
    return {
        "label": chosen.label,
        "query": chosen.query,
        "period": _period(now.period),
        "previous": _period(before.period),
        "computed_at": board.computed_at.astimezone(dt.UTC).isoformat(),
        "kpis": {
            "attributed_revenue": _kpi(now.attributed.revenue, before.attributed.revenue),
            "attributed_orders": _kpi(now.attributed.orders, before.attributed.orders),
            "incremental_revenue": {
                "current": _num(incremental),
                "previous": _num(before.lift.incremental),
                "low": _num(now.lift.incremental_low),
                "high": _num(now.lift.incremental_high),
            },
            "sent": _kpi(now.funnel.sent, before.funnel.sent),
            "conversion": _kpi(
                now.attributed.orders / now.funnel.sent if now.funnel.sent else 0.0,
                before.attributed.orders / before.funnel.sent if before.funnel.sent else 0.0,
            ),
        },
        "lift": _lift(now.lift),
        "charts": {
            "funnel": _funnel_chart(now, before),
            "daily": {
                "title": "Attributed revenue by day",
                "columns": ["date", "orders", "revenue"],
                "rows": [[d.isoformat(), n, _num(r)] for d, n, r in now.daily],
            },
            "lines": _lines_chart(now, by),
            "lift": {
                "title": "Revenue per customer: treated against holdout",
                "columns": ["arm", "customers", "buyers", "revenue", "revenue_per_customer"],
                "rows": [
                    [arm, a.customers, a.buyers, _num(a.revenue), _num(a.mean)]
                    for arm, a in (("treated", now.lift.treated), ("holdout", now.lift.holdout))
                ],
            },
        },
    }


def _kpi(current: float, previous: float) -> dict[str, Any]:
    return {
        "current": _num(current),
        "previous": _num(previous),
        "change": _change(current, previous),
    }


def _funnel_chart(now: PeriodFigures, before: PeriodFigures) -> dict[str, Any]:
    return {
        "title": "Funnel",
        "columns": ["stage", "current", "previous"],
        "rows": [
            [stage, getattr(now.funnel, stage), getattr(before.funnel, stage)]
            for stage in (*FUNNEL, *OPT_OUTS)
        ],
    }


def _lines_chart(now: PeriodFigures, by: str) -> dict[str, Any]:
    name = "journey" if by == "journey_id" else "step"
    return {
        "title": f"Revenue by {name}",
        "columns": [
            f"{name}_key",
            name,
            "sent",
            "delivered",
            "opened",
            "clicked",
            "orders",
            "revenue",
            "revenue_per_message",
        ],
        "rows": [
            [
                line.key,
                line.label,
                line.funnel.sent,
                line.funnel.delivered,
                line.funnel.opened,
                line.funnel.clicked,
                line.attributed.orders,
                _num(line.attributed.revenue),
                _num(line.attributed.revenue / line.funnel.sent) if line.funnel.sent else None,
            ]
            for line in now.lines.values()
        ],
    }


def experiment_payload(result: ExperimentReport, label: str) -> dict[str, Any]:
    """An experiment as JSON: what it is, its arms' figures, the comparisons and verdicts."""
    about = result.experiment
    outcomes = [o for o in (result.conversion, result.revenue) if o is not None]
    ratio = result.sample_ratio
    return {
        "label": label,
        "period": _period(result.period),
        "experiment": {
            "key": about.key,
            "kind": about.kind,
            "title": about.title,
            "control": about.control,
            "weights": about.weights,
            "journey_id": about.journey_id,
            "planned": about.planned,
            "plan": about.plan_text,
        },
        "customers": {arm: result.customers.get(arm, 0) for arm in result.arms},
        "progress": _num(result.progress),
        "warnings": list(result.warnings),
        "sample_ratio": None
        if ratio is None
        else {
            "p_value": _num(ratio.p_value),
            "mismatch": ratio.mismatch,
            "expected": dict(zip(ratio.arms, [_num(e) for e in ratio.expected], strict=True)),
        },
        "outcomes": [_outcome(o) for o in outcomes],
        "charts": {"arms": _arms_chart(result)},
    }


def _outcome(outcome: OutcomeResult) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "kind": outcome.kind,
        "methods": dict(outcome.methods),
        "arms": [
            {
                "arm": a.arm,
                "n": a.n,
                "estimate": _num(a.estimate),
                "low": _num(a.interval.low),
                "high": _num(a.interval.high),
                "prob_best": _num(a.prob_best),
                "successes": a.successes,
            }
            for a in outcome.arms
        ],
        "comparisons": [
            {
                "arm": c.arm,
                "control": c.control,
                "difference": _num(c.difference),
                "low": _num(c.difference_interval.low),
                "high": _num(c.difference_interval.high),
                "lift": _num(c.lift),
                "lift_low": _num(c.lift_interval.low) if c.lift_interval else None,
                "lift_high": _num(c.lift_interval.high) if c.lift_interval else None,
                "p_value": _num(c.p_value),
                "verdict": c.verdict.short,
                "verdict_kind": c.verdict.kind,
                "verdict_text": c.verdict.text,
            }
            for c in outcome.comparisons
        ],
    }


def _arms_chart(result: ExperimentReport) -> dict[str, Any]:
    columns = [
        "arm",
        "customers",
        "buyers",
        "conversion",
        "conversion_low",
        "conversion_high",
        "revenue_per_customer",
        "revenue_low",
        "revenue_high",
        "prob_best_revenue",
    ]
    conv = {a.arm: a for a in result.conversion.arms} if result.conversion else {}
    rev = {a.arm: a for a in result.revenue.arms} if result.revenue else {}
    rows = []
    for arm in result.arms:
        c, r = conv.get(arm), rev.get(arm)
        rows.append(
            [
                arm,
                result.customers.get(arm, 0),
                c.successes if c else None,
                _num(c.estimate) if c else None,
                _num(c.interval.low) if c else None,
                _num(c.interval.high) if c else None,
                _num(r.estimate) if r else None,
                _num(r.interval.low) if r else None,
                _num(r.interval.high) if r else None,
                _num(r.prob_best) if r else None,
            ]
        )
    return {"title": "Arms", "columns": columns, "rows": rows}


def chart_csv(payload: dict[str, Any], chart: str) -> str:
    """One chart of a payload as CSV (header, rows; text a spreadsheet would run is quoted)."""
    table = payload["charts"][chart]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table["columns"])
    writer.writerows([csv_cell(v) for v in row] for row in table["rows"])
    return out.getvalue()
