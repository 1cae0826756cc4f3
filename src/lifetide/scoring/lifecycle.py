"""Lifecycle stage: the decision table of models.lifecycle applied to the scored customers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lifetide.models.lifecycle import (
    LifecycleThresholds,
    expected_gap,
    lifecycle_stages,
    stage_counts,
)
from lifetide.scoring.lifetime import DAYS_PER_WEEK, LifetimeModels, LifetimePredictions
from lifetide.scoring.tables import floats


@dataclass(frozen=True)
class Stages:
    """Each feature row's stage, and how many are in each."""

    stages: np.ndarray
    counts: dict[str, int]


def expected_gaps(x: np.ndarray, t_x_days: np.ndarray, models: LifetimeModels) -> np.ndarray:
    """Expected days between purchases: BG/NBD's posterior mean gap, or a pooled stand-in."""
    if models.purchase is not None:
        r, alpha = models.purchase.params_["r"], models.purchase.params_["alpha"]
        return expected_gap(x, t_x_days, alpha / r * DAYS_PER_WEEK, prior_weight=r)
    repeat = x > 0
    pooled = float(t_x_days[repeat].sum() / x[repeat].sum()) if repeat.any() else 0.0
    return expected_gap(x, t_x_days, pooled if pooled > 0 else 90.0)


def lifecycle(
    features: pa.Table,
    life: LifetimePredictions,
    models: LifetimeModels,
    thresholds: LifecycleThresholds,
) -> Stages:
    """Stages from orders, recency, time since the first purchase, P(alive) and the gap."""
    orders = floats(features, "orders", fill=0.0)
    x = floats(features, "x", fill=0.0)
    weeks = DAYS_PER_WEEK
    # t_x and T are in weeks from the first purchase day; T runs to the day after the date.
    t_x_days = np.rint(floats(features, "t_x", fill=0.0) * weeks)
    since_first = np.where(orders > 0, np.rint(floats(features, "T", fill=0.0) * weeks) - 1, 0.0)
    stages = lifecycle_stages(
        orders,
        floats(features, "recency_days", fill=0.0),
        since_first,
        life.p_alive if models.purchase is not None else None,
        expected_gaps(x, t_x_days, models),
        floats(features, "net_spend", fill=0.0),
        thresholds,
    )
    return Stages(stages, stage_counts(stages))
