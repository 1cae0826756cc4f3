"""Lifetime value stage: BG/NBD and Gamma-Gamma fit on the feature table, then predictions.

A model that cannot be identified from the data is not fit: with fewer than
`MIN_REPEAT_BUYERS` repeat buyers BG/NBD's dropout process (a, b) has nothing to learn from,
and its predictions would be the optimizer's accident. Those columns are then null, with a
note saying why, rather than numbers that look real.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lifetide.models.bgnbd import BGNBD
from lifetide.models.clv import customer_lifetime_value
from lifetide.models.fitting import FloatArray
from lifetide.models.gamma_gamma import GammaGamma

MIN_REPEAT_BUYERS = 20
DAYS_PER_WEEK = 7.0


@dataclass
class LifetimeModels:
    """The fitted purchase and spend models (None where the data could not support one)."""

    purchase: BGNBD | None
    spend: GammaGamma | None
    mean_order_value: float
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LifetimePredictions:
    """Per-customer predictions; NaN marks 'no model', written as null, never as a number."""

    p_alive: FloatArray
    expected_orders_90d: FloatArray
    expected_order_value: FloatArray
    clv_12m: FloatArray


def fit_lifetime(
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,  # noqa: N803 (the literature's name)
    monetary: FloatArray,
    order_value: FloatArray | None = None,
) -> LifetimeModels:
    """Fit BG/NBD on every buyer and Gamma-Gamma on repeat buyers with positive spend.

    `order_value`, each buyer's mean order value, stands in for the spend model's mean
    when there are no repeat purchases to learn spend from.
    """
    notes: list[str] = []
    buyers = len(x)
    repeat = int((x > 0).sum())
    purchase: BGNBD | None = None
    if buyers == 0:
        notes.append("no customer has a purchase: lifetime models not fit")
    elif repeat < MIN_REPEAT_BUYERS:
        notes.append(
            f"BG/NBD not fit: {repeat} repeat buyers among {buyers:,} buyers, "
            f"at least {MIN_REPEAT_BUYERS} needed to learn how customers drop out"
        )
    else:
        purchase = BGNBD().fit(x, t_x, T)
        if not purchase.converged_:
            notes.append("BG/NBD's optimizer stopped before converging; predictions may be off")
    positive = (x > 0) & (monetary > 0)
    spend: GammaGamma | None = None
    if int(positive.sum()) >= MIN_REPEAT_BUYERS:
        spend = GammaGamma().fit(x[positive], monetary[positive])
        if spend.params_["q"] <= 1:
            notes.append("Gamma-Gamma's q <= 1 (no finite mean spend): spend model not used")
            spend = None
    elif buyers:
        notes.append(
            f"Gamma-Gamma not fit: {int(positive.sum())} repeat buyers with positive spend, "
            f"at least {MIN_REPEAT_BUYERS} needed; the mean order value is used instead"
        )
    if positive.any():
        mean_value = float(monetary[positive].mean())
    elif order_value is not None and len(order_value):
        mean_value = float(np.mean(order_value))
    else:
        mean_value = 0.0
    return LifetimeModels(purchase, spend, mean_value, notes)


def predict_lifetime(
    models: LifetimeModels,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,  # noqa: N803
    monetary: FloatArray,
    *,
    months: int = 12,
    annual_discount_rate: float = 0.10,
) -> LifetimePredictions:
    """P(alive), expected orders in 90 days, expected order value and discounted CLV."""
    n = len(x)
    if models.spend is not None:
        # Customers with no positive repeat spend get the population mean (x = 0 there).
        usable = (x > 0) & (monetary > 0)
        value = models.spend.conditional_expected_average_value(
            np.where(usable, x, 0.0), np.where(usable, monetary, 0.0)
        )
    else:
        value = np.full(n, models.mean_order_value)
    if models.purchase is None:
        missing = np.full(n, np.nan)
        return LifetimePredictions(missing, missing.copy(), value, missing.copy())
    model = models.purchase
    p_alive = model.probability_alive(x, t_x, T)
    orders_90d = model.conditional_expected_purchases(90 / DAYS_PER_WEEK, x, t_x, T)
    clv = customer_lifetime_value(
        model,
        value,
        x,
        t_x,
        T,
        months=months,
        annual_discount_rate=annual_discount_rate,
        time_unit_days=DAYS_PER_WEEK,
    )
    return LifetimePredictions(p_alive, orders_90d, value, clv)


def spread(predictions: LifetimePredictions, rows: np.ndarray) -> LifetimePredictions:
    """Predictions made for the rows where `rows` is true, NaN elsewhere."""

    def full(values: FloatArray) -> FloatArray:
        out = np.full(len(rows), np.nan)
        out[rows] = values
        return out

    return LifetimePredictions(
        full(predictions.p_alive),
        full(predictions.expected_orders_90d),
        full(predictions.expected_order_value),
        full(predictions.clv_12m),
    )
