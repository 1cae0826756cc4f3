"""The future top 20%: who will be worth most next year, tested against last year's spend.

On a time split one year back, customers who had bought by then are ranked two ways: by the
12-month CLV the lifetime models predict, and by the naive rule, their spend in the year
before. Each picks its top 20%; both are scored against the customers' actual spend in the
following year (precision: share of the pick who really were in the top 20%; revenue
captured: their share of next year's spend).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from lifetide.models.evaluation import TopShareResult, top_share_capture
from lifetide.scoring.features import Bases, labels
from lifetide.scoring.lifetime import LifetimeModels, fit_lifetime, predict_lifetime
from lifetide.scoring.tables import floats
from lifetide.warehouse.connection import Warehouse

SHARE = 0.2
HORIZON_DAYS = 365


@dataclass(frozen=True)
class TopShareEvaluation:
    """The model's and the naive rule's top-20% picks scored on the following year."""

    cut: dt.date
    customers: int
    model: TopShareResult
    naive: TopShareResult
    models: LifetimeModels
    calibration: dict[str, np.ndarray]

    @property
    def metrics(self) -> dict[str, Any]:
        """The figures as plain numbers, for the run record."""
        return {
            "cut": self.cut.isoformat(),
            "customers": self.customers,
            "model_precision": self.model.precision,
            "model_revenue_captured": self.model.revenue_captured,
            "naive_precision": self.naive.precision,
            "naive_revenue_captured": self.naive.revenue_captured,
            "best_revenue_captured": self.model.best_revenue_captured,
        }


def evaluate_top_share(
    warehouse: Warehouse,
    features: pa.Table,
    cut: dt.date,
    *,
    months: int = 12,
    annual_discount_rate: float = 0.10,
    inputs: Bases | None = None,
) -> TopShareEvaluation | str:
    """Fit as of `cut`, pick the top 20% by CLV and by last year's spend, score both.

    Returns the evaluation, or the reason it could not be made.
    """
    buyers = features.filter(pa.compute.greater(features.column("orders"), 0))
    if buyers.num_rows < 50:
        return f"only {buyers.num_rows} customers had bought by {cut}: no top-20% test"
    x, t_x, big_t, monetary = (floats(buyers, c, fill=0.0) for c in ("x", "t_x", "T", "monetary"))
    models = fit_lifetime(x, t_x, big_t, monetary)
    if models.purchase is None:
        return "; ".join(models.notes) or "no purchase model as of the cut"
    predicted = predict_lifetime(
        models, x, t_x, big_t, monetary, months=months, annual_discount_rate=annual_discount_rate
    )
    future = labels(warehouse, cut, HORIZON_DAYS, inputs).to_pyarrow()
    joined = buyers.select(["profile_id", "spend_365d"]).join(
        future.select(["profile_id", "future_spend", "future_purchase_days"]),
        "profile_id",
        join_type="left outer",
    )
    # The join does not keep order: put next year's figures back in the buyers' order.
    order = np.argsort(joined.column("profile_id").to_numpy())
    position = np.argsort(np.argsort(buyers.column("profile_id").to_numpy()))
    actual = np.maximum(floats(joined, "future_spend", fill=0.0)[order][position], 0.0)
    repeat_days = floats(joined, "future_purchase_days", fill=0.0)[order][position]
    if actual.sum() <= 0:
        return f"no customer who had bought by {cut} spent in the following year"
    last_year = floats(buyers, "spend_365d", fill=0.0)
    return TopShareEvaluation(
        cut=cut,
        customers=buyers.num_rows,
        model=top_share_capture(predicted.clv_12m, actual, SHARE),
        naive=top_share_capture(last_year, actual, SHARE),
        models=models,
        calibration={
            "x": x,
            "t_x": t_x,
            "T": big_t,
            "holdout_purchase_days": repeat_days,
            "profile_id": buyers.column("profile_id").to_numpy(),
        },
    )
