"""Incremental revenue: what the treated earned per customer beyond their holdout (pure).

A holdout's customers (see experiments.holdouts) are compared with the treated ones on the
revenue each earned in the period from her first exposure on, zero for those who did
not buy: revenue per customer per arm, their difference with Welch's interval (revenue is
heavy tailed and the arms differ in size and variance), the relative lift, and the
incremental revenue (the difference times the treated customers). The per-customer sums are
Ibis expressions run where the data is; only one row per arm comes back.

Inputs: exposures (`experiment`, `profile_id`, `arm`, `first_at`) and orders (`profile_id`,
`ordered_at`, `revenue`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir

from lifetide.experiments.holdouts import HELD_OUT, TREATED
from lifetide.experiments.stats import welch_test
from lifetide.measure.queries import Period


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
    exposures: ir.Table, orders: ir.Table, experiment: str, periods: Sequence[Period]
) -> ir.Table:
    """Per arm and period i: customers exposed before its end, buyers, revenue, squares.

    Columns `customers_i`, `buyers_i`, `revenue_i`, `squares_i`. A customer's revenue in a
    period is what she spent in it from her first exposure on. The periods share one scan of
    the exposures and of the orders.
    """
    if not periods:
        raise ValueError("arm_revenue needs at least one period")
    first, last = min(p.start for p in periods), max(p.end for p in periods)
    exposed = exposures.filter(
        exposures.experiment == experiment, exposures.first_at < last
    ).select("profile_id", "arm", "first_at")
    bought = exposed.join(
        orders,
        [
            exposed.profile_id == orders.profile_id,
            orders.ordered_at >= exposed.first_at,
            orders.ordered_at >= first,
            orders.ordered_at < last,
        ],
    )
    # Only buyers are summed per customer; everyone else adds a zero, so the arms' sizes come
    # from the exposures alone, without joining every exposed customer back.
    spent = bought.group_by(["arm", exposed.profile_id]).aggregate(
        **{
            f"spent_{i}": bought.revenue.sum(
                where=(bought.ordered_at >= p.start) & (bought.ordered_at < p.end)
            )
            for i, p in enumerate(periods)
        }
    )
    money: dict[str, ir.Value] = {}
    for i in range(len(periods)):
        amount = spent[f"spent_{i}"]
        money |= {
            f"buyers_{i}": (amount > 0).sum(),
            f"revenue_{i}": amount.sum(),
            f"squares_{i}": (amount * amount).sum(),
        }
    bought_by_arm = spent.group_by("arm").aggregate(**money).rename(bought_arm="arm")
    sizes = exposed.group_by("arm").aggregate(
        **{f"customers_{i}": (exposed.first_at < p.end).sum() for i, p in enumerate(periods)}
    )
    joined = sizes.left_join(bought_by_arm, sizes.arm == bought_by_arm.bought_arm)
    return joined.select(
        "arm",
        *(
            f"{name}_{i}"
            for i in range(len(periods))
            for name in ("customers", "buyers", "revenue", "squares")
        ),
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


def summaries(rows: Iterable[Mapping[str, Any]], period: int = 0) -> dict[str, ArmRevenue]:
    """Each arm's figures in the `period`-th period from the rows `arm_revenue` returns.

    Arms with no customer exposed before that period's end are left out; sums may be null.
    """
    return {
        str(r["arm"]): summarize(
            int(r[f"customers_{period}"]),
            int(r[f"buyers_{period}"] or 0),
            float(r[f"revenue_{period}"] or 0.0),
            float(r[f"squares_{period}"] or 0.0),
        )
        for r in rows
        if r[f"customers_{period}"]
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
