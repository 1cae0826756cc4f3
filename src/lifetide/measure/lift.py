"""Incremental revenue: what the treated earned per customer beyond their holdout (pure).

A holdout's customers (see experiments.holdouts) are compared with the treated ones on the
revenue each earned from her first exposure to the end of the period, zero for those who did
not buy: revenue per customer per arm, their difference with Welch's interval (revenue is
heavy tailed and the arms differ in size and variance), the relative lift, and the
incremental revenue (the difference times the treated customers). The per-customer sums are
Ibis expressions run where the data is; only one row per arm comes back.

Inputs: exposures (`experiment`, `profile_id`, `arm`, `first_at`) and orders (`profile_id`,
`ordered_at`, `revenue`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir

from lifetide.experiments.holdouts import HELD_OUT, TREATED
from lifetide.experiments.stats import welch_test


@dataclass(frozen=True)
class ArmRevenue:
    """One arm's customers, buyers, and revenue per customer (mean and variance, ddof 1)."""

    customers: int
    buyers: int
    revenue: float
    mean: float
    variance: float


@dataclass(frozen=True)
class Lift:
    """Treated against holdout, per customer, with a 95% interval where there is data."""

    treated: ArmRevenue
    holdout: ArmRevenue
    difference: float | None
    low: float | None
    high: float | None
    relative: float | None
    incremental: float | None
    incremental_low: float | None
    incremental_high: float | None


def arm_revenue(
    exposures: ir.Table,
    orders: ir.Table,
    experiment: str,
    start: dt.datetime,
    end: dt.datetime,
) -> ir.Table:
    """Per arm: customers exposed before `end`, buyers, revenue and its sum of squares.

    A customer's revenue is what she spent in [start, end) from her first exposure on.
    """
    exposed = exposures.filter(exposures.experiment == experiment, exposures.first_at < end).select(
        "profile_id", "arm", "first_at"
    )
    bought = exposed.join(
        orders,
        [
            exposed.profile_id == orders.profile_id,
            orders.ordered_at >= exposed.first_at,
            orders.ordered_at >= start,
            orders.ordered_at < end,
        ],
    )
    spent = bought.group_by("profile_id").aggregate(spent=bought.revenue.sum())
    each = exposed.left_join(spent, exposed.profile_id == spent.profile_id).select(
        "arm", spent=spent.spent.fill_null(0.0)
    )
    return each.group_by("arm").aggregate(
        customers=each.count(),
        buyers=(each.spent > 0).sum(),
        revenue=each.spent.sum(),
        squares=(each.spent * each.spent).sum(),
    )


def summarize(customers: int, buyers: int, revenue: float, squares: float) -> ArmRevenue:
    """An arm's mean and variance per customer from its count, sum and sum of squares."""
    if customers <= 0:
        return ArmRevenue(0, 0, 0.0, 0.0, 0.0)
    mean = revenue / customers
    # ddof 1; the max() keeps rounding from making a tiny variance negative.
    variance = (
        max(0.0, (squares - customers * mean * mean) / (customers - 1)) if customers > 1 else 0.0
    )
    return ArmRevenue(customers, buyers, revenue, mean, variance)


def summaries(rows: Iterable[Mapping[str, Any]]) -> dict[str, ArmRevenue]:
    """Each arm's figures from the rows `arm_revenue` returns (sums may be null when empty)."""
    return {
        str(r["arm"]): summarize(
            int(r["customers"]),
            int(r["buyers"] or 0),
            float(r["revenue"] or 0.0),
            float(r["squares"] or 0.0),
        )
        for r in rows
    }


def lift(arms: Mapping[str, ArmRevenue], alpha: float = 0.05) -> Lift:
    """Treated against holdout; the interval fields are None with fewer than 2 per arm."""
    empty = ArmRevenue(0, 0, 0.0, 0.0, 0.0)
    treated, holdout = arms.get(TREATED, empty), arms.get(HELD_OUT, empty)
    if treated.customers < 2 or holdout.customers < 2:
        return Lift(treated, holdout, None, None, None, None, None, None, None)
    test = welch_test(
        treated.mean,
        treated.variance,
        treated.customers,
        holdout.mean,
        holdout.variance,
        holdout.customers,
        alpha,
    )
    difference, low, high = float(test.difference), float(test.low), float(test.high)
    relative = difference / holdout.mean if holdout.mean > 0 else None
    scale = treated.customers
    return Lift(
        treated,
        holdout,
        difference,
        low,
        high,
        relative if relative is None or math.isfinite(relative) else None,
        difference * scale,
        low * scale,
        high * scale,
    )
