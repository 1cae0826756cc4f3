"""Customer lifetime value from a repeat-purchase model and a spend model.

Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "RFM and CLV: Using Iso-Value Curves
for Customer Base Analysis", Journal of Marketing Research 42(4), 415-430: a customer's
value is their expected purchases times their expected spend per purchase, discounted. As
in lifetimes' `customer_lifetime_value`, the horizon is cut into months and each month's
expected purchases are discounted at its end:

    CLV = margin * E[spend] * sum_{m=1..M} (E[Y(m) | x, t_x, T] - E[Y(m-1) | x, t_x, T])
                                          / (1 + d)^m,

with d the monthly rate of the annual discount rate, (1 + annual)^(1/12) - 1, and a month
365.25 / 12 days long. The purchase model is anything with BG/NBD's
`conditional_expected_purchases(t, x, t_x, T)` (BGNBD, ParetoNBD), fitted in a time unit of
`time_unit_days` days (weeks, 7.0, in our pipeline); the spend is either a fitted Gamma-Gamma
model (anything with `conditional_expected_average_value(x, m_x)`) or an expected spend per
purchase per customer.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from lifetide.models.fitting import FloatArray, IntArray, PurchaseModel, as_vector

DAYS_PER_MONTH = 365.25 / 12


@runtime_checkable
class SpendModel(Protocol):
    """A fitted spend model: expected value per purchase given x purchases of mean m_x."""

    def conditional_expected_average_value(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> FloatArray:
        """E[M | x, m_x]."""
        ...


def _histories(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,  # noqa: N803 (T is the literature's name)
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Checked (x, t_x, T), unfolded: one row per customer, as given."""
    x = as_vector(frequency, "x")
    t_x = as_vector(recency, "t_x")
    t = as_vector(T, "T")
    if not len(x) == len(t_x) == len(t):
        raise ValueError(f"x, t_x and T differ in length: {len(x)}, {len(t_x)}, {len(t)}")
    if (x < 0).any() or (x != np.round(x)).any():
        raise ValueError("x must be non-negative whole numbers (repeat purchases)")
    if (t <= 0).any():
        raise ValueError("T must be positive")
    if (t_x < 0).any() or (t_x > t).any():
        raise ValueError("t_x must satisfy 0 <= t_x <= T")
    if (t_x[x == 0] != 0).any():
        raise ValueError("t_x must be 0 for customers without repeat purchases (x = 0)")
    return x, t_x, t


def _checked_time_unit(time_unit_days: float) -> float:
    unit = float(time_unit_days)
    if not np.isfinite(unit) or unit <= 0:
        raise ValueError(f"time_unit_days must be positive, got {time_unit_days}")
    return unit


@runtime_checkable
class _AliveModel(Protocol):
    """A purchase model that also gives P(alive at T | x, t_x, T)."""

    def probability_alive(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803 (T is the literature's name)
    ) -> FloatArray:
        """P(alive at T | x, t_x, T)."""
        ...


class _Cumulative:
    """E[Y(t) | x, t_x, T] at several t, evaluating the model once per distinct (x, T).

    Given that a customer is alive at T, BG/NBD's and Pareto/NBD's future no longer depends on
    t_x (the posterior of the purchase rate is then Gamma(r + x, alpha + T)), so
    E[Y(t) | x, t_x, T] = P(alive | x, t_x, T) E[Y(t) | alive, x, T] (FHL 2005, eq. 10;
    Schmittlein et al. 1987). (x, T) takes far fewer values than (x, t_x, T): x is small and
    T is one value per first-purchase day, while the hypergeometric series costs ~0.5 s per
    million rows and horizon. The factorization is checked on the model at hand; a model
    without it (or without `probability_alive`) is evaluated row by row.
    """

    def __init__(
        self,
        model: PurchaseModel,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803 (T is the literature's name)
    ) -> None:
        self.model = model
        self.x, self.t_x, self.t = x, t_x, T
        self.factored = False
        self.checked = False
        self.at: IntArray
        self.x_u: FloatArray
        self.t_u: FloatArray
        self.alive_share: FloatArray
        if isinstance(model, _AliveModel) and len(x) > 0:
            t_values, t_at = np.unique(T, return_inverse=True)
            n_t = len(t_values)
            keys, at = np.unique(x.astype(np.int64) * n_t + t_at.ravel(), return_inverse=True)
            self.at = at.ravel()
            self.x_u = (keys // n_t).astype(np.float64)
            self.t_u = t_values[keys % n_t]
            top = np.asarray(model.probability_alive(self.x_u, self.t_u, self.t_u))
            if np.isfinite(top).all() and (top > 0).all():
                self.alive_share = np.asarray(model.probability_alive(x, t_x, T)) / top[self.at]
                self.factored = bool(np.isfinite(self.alive_share).all())

    def _probe(self) -> IntArray:
        """Rows to check the factorization on: the repeat buyers silent longest, a few others."""
        n = len(self.x)
        if n <= 64:
            return np.arange(n)
        silence = np.where(self.x > 0, self.t - self.t_x, -1.0)
        return np.unique(np.concatenate([np.argpartition(-silence, 47)[:48], np.arange(16)]))

    def _direct(self, horizon: float, rows: slice | IntArray) -> FloatArray:
        return np.asarray(
            self.model.conditional_expected_purchases(
                horizon, self.x[rows], self.t_x[rows], self.t[rows]
            ),
            dtype=np.float64,
        )

    def __call__(self, horizon: float) -> FloatArray:
        """E[Y(horizon) | x, t_x, T] per customer, in the input's order."""
        if horizon <= 0 or len(self.x) == 0:
            return np.zeros(len(self.x))
        if self.factored:
            alive = self.model.conditional_expected_purchases(horizon, self.x_u, self.t_u, self.t_u)
            out = np.asarray(alive, dtype=np.float64)[self.at] * self.alive_share
            if not self.checked:
                self.checked = True
                if not np.allclose(out[probe := self._probe()], self._direct(horizon, probe)):
                    self.factored = False
        if not self.factored:
            out = self._direct(horizon, slice(None))
        # Rounding may leave -1e-17 where a customer is almost surely gone; more is an error.
        if not np.isfinite(out).all() or (out < -1e-9).any():
            raise ValueError(
                "the purchase model gave non-finite or negative expected purchases: "
                "check its parameters (BG/NBD's formula is undefined at a = 1)"
            )
        return np.maximum(out, 0.0)


def expected_purchases(
    purchase_model: PurchaseModel,
    horizon_days: float,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803 (T is the literature's name)
    time_unit_days: float = 7.0,
) -> FloatArray:
    """Expected purchases in the next `horizon_days` days per customer, E[Y(t) | x, t_x, T].

    x, t_x and T are in the model's time unit, `time_unit_days` days long (FHL 2005, eq. 10
    for BG/NBD).
    """
    unit = _checked_time_unit(time_unit_days)
    horizon = float(horizon_days)
    if not np.isfinite(horizon) or horizon < 0:
        raise ValueError(f"horizon_days must be non-negative, got {horizon_days}")
    cumulative = _Cumulative(purchase_model, *_histories(x, t_x, T))
    return cumulative(horizon / unit)


def expected_spend(spend_model: SpendModel, x: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
    """Expected spend per future purchase per customer from a Gamma-Gamma model.

    E[M | x, m_x] = (gamma + m_x x) p / (p x + q - 1) (Fader & Hardie 2013, eq. 5). A customer
    without repeat purchases (x = 0) has no m_x (the model is fitted on repeat purchases, so
    the first order's value is not evidence): at x = 0 the formula is the population mean
    p gamma / (q - 1) whatever m_x, so m_x is set to 0 there and may be missing (NaN) in the
    input. The population mean exists only for q > 1; a model without it is rejected.
    """
    xs = as_vector(x, "x")
    m = np.asarray(monetary_value, dtype=np.float64)
    if m.shape != xs.shape:
        raise ValueError(f"monetary_value has shape {m.shape}, x {xs.shape}")
    repeat = xs > 0
    if not np.isfinite(m[repeat]).all() or (m[repeat] <= 0).any():
        raise ValueError("monetary_value must be positive and finite where x > 0")
    m = np.where(repeat, m, 0.0)
    spend = np.asarray(spend_model.conditional_expected_average_value(xs, m), dtype=np.float64)
    if not np.isfinite(spend).all() or (spend <= 0).any():
        raise ValueError(
            "the spend model gave a non-finite or non-positive expected spend: Gamma-Gamma "
            "needs q > 1 for the population mean p gamma / (q - 1) to exist"
        )
    return spend


def customer_lifetime_value(
    purchase_model: PurchaseModel,
    spend: SpendModel | ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803 (T is the literature's name)
    *,
    monetary_value: ArrayLike | None = None,
    months: int = 12,
    annual_discount_rate: float = 0.10,
    time_unit_days: float = 7.0,
    margin: float = 1.0,
) -> FloatArray:
    """Discounted expected value of each customer's purchases over the next `months` months.

    `spend` is a fitted spend model (then `monetary_value`, the mean repeat-purchase value
    m_x, is required; see `expected_spend`) or the expected spend per purchase itself, one
    per customer or one for all. Monthly steps, discounted at each month's end, as in
    Fader, Hardie & Lee (2005, JMR) and lifetimes; `margin` turns revenue into profit.
    """
    histories = _histories(x, t_x, T)
    n = len(histories[0])
    unit = _checked_time_unit(time_unit_days)
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 1:
        raise ValueError(f"months must be a whole number >= 1, got {months!r}")
    rate = float(annual_discount_rate)
    if not np.isfinite(rate) or rate < 0:
        raise ValueError(f"annual_discount_rate must be >= 0, got {annual_discount_rate}")
    gain = float(margin)
    if not np.isfinite(gain) or gain < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")

    if isinstance(spend, SpendModel):
        if monetary_value is None:
            raise ValueError("monetary_value is required with a spend model")
        per_purchase = expected_spend(spend, histories[0], monetary_value)
    else:
        if monetary_value is not None:
            raise ValueError("monetary_value is only used with a spend model, not a spend array")
        given = np.asarray(spend, dtype=np.float64)
        if given.shape not in ((), (n,)):
            raise ValueError(
                f"spend must be one value or one per customer ({n}), got {given.shape}"
            )
        per_purchase = np.broadcast_to(given, (n,))
        if not np.isfinite(per_purchase).all() or (per_purchase < 0).any():
            raise ValueError("spend must be non-negative and finite")

    cumulative = _Cumulative(purchase_model, *histories)
    month = DAYS_PER_MONTH / unit
    # (1 + d)^m with d = (1 + annual)^(1/12) - 1 is (1 + annual)^(m/12): no rounding via d.
    discount = (1 + rate) ** (-np.arange(1, months + 1) / 12)
    previous = np.zeros(n)
    purchases = np.zeros(n)
    for m in range(months):
        current = cumulative((m + 1) * month)
        purchases += (current - previous) * discount[m]
        previous = current
    return np.asarray(gain * per_purchase * purchases, dtype=np.float64)
