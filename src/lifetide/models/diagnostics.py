"""Goodness of fit of a repeat-purchase model on a calibration/holdout split.

The checks of Fader, Hardie & Lee (2005), figures 2-4 (and lifetimes' plotting module): fit
BG/NBD (or Pareto/NBD) on the calibration period, then compare with what happened

- over time (`tracking_curve`): repeat transactions per period, actual against the sum of
  the customers' unconditional expectations E[X(t)] since their first purchase;
- per customer (`conditional_expectations`): mean holdout repeat purchases by calibration
  frequency, actual against the model's E[Y(t) | x, t_x, T].

Transactions come as flat arrays: `first_day` per customer, and `purchase_customer` (a position
in `first_day`) with `purchase_day` per purchase, days being whole numbers on any one scale
(days since 1970, since the first order, ...). As in `summarize_transactions`, purchases on
one day count once and the first purchase is not a repeat purchase; a purchase on day d
happens at time d, so the calibration period holds the days in (first_day, calibration_end]
and the holdout those in (calibration_end, holdout_end].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lifetide.models.fitting import FloatArray, PurchaseModel, as_vector, check_lengths

IntArray = NDArray[np.int64]


class RepeatPurchaseModel(PurchaseModel, Protocol):
    """What the diagnostics need of a fitted model: BG/NBD and Pareto/NBD both qualify."""

    def expected_repeat_purchases(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] for a new customer."""
        ...


def _whole_days(values: ArrayLike, name: str) -> FloatArray:
    """A vector of whole-number days, or a ValueError."""
    days = as_vector(values, name)
    if (days != np.round(days)).any():
        raise ValueError(f"{name} must be whole-number days")
    return days


def _repeat_days(
    first_day: ArrayLike, purchase_customer: ArrayLike, purchase_day: ArrayLike, end: float
) -> tuple[FloatArray, IntArray, FloatArray]:
    """First days, and the distinct (customer, day) repeat purchases up to `end`, checked.

    Purchases on a customer's first day are not repeats; later ones on one day count once.
    """
    first = _whole_days(first_day, "first_day")
    if len(first) == 0:
        raise ValueError("first_day is empty: no customers")
    customer_f = as_vector(purchase_customer, "purchase_customer")
    day = _whole_days(purchase_day, "purchase_day")
    if len(customer_f) != len(day):
        raise ValueError(f"purchase_customer has {len(customer_f)} rows, purchase_day {len(day)}")
    if ((customer_f != np.round(customer_f)) | (customer_f < 0) | (customer_f >= len(first))).any():
        raise ValueError(f"purchase_customer must be positions 0 to {len(first) - 1} in first_day")
    customer = customer_f.astype(np.int64)
    if (day < first[customer]).any():
        raise ValueError("a purchase falls before its customer's first_day")
    keep = (day > first[customer]) & (day <= end)
    customer, day = customer[keep], day[keep]
    if len(day) == 0:
        return first, customer, day
    # One key per (customer, day): days since the earliest fit in the low digits.
    offset = day - day.min()
    key = customer * (int(offset.max()) + 1) + offset.astype(np.int64)
    # Sorting and dropping repeats: np.unique's hashing is ~10x slower on millions of keys.
    key.sort()
    key = key[np.append(True, key[1:] != key[:-1])]
    span = int(offset.max()) + 1
    return first, key // span, (key % span) + day.min()


@dataclass(frozen=True)
class CalibrationHoldout:
    """Per customer (in `first_day` order): calibration (x, t_x, T) and holdout repeat purchases.

    Times are in the model's time unit; `holdout_length` is the holdout's length in that unit.
    """

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    holdout_frequency: FloatArray
    holdout_length: float


def _check_ends(calibration_end_day: float, holdout_end_day: float, unit: float) -> None:
    """A ValueError unless the holdout follows the calibration period and the unit is positive."""
    if not np.isfinite([calibration_end_day, holdout_end_day, unit]).all():
        raise ValueError("calibration_end_day, holdout_end_day and time_unit_days must be finite")
    if holdout_end_day <= calibration_end_day:
        raise ValueError("holdout_end_day must come after calibration_end_day")
    if unit <= 0:
        raise ValueError("time_unit_days must be positive")


def calibration_holdout(
    first_day: ArrayLike,
    purchase_customer: ArrayLike,
    purchase_day: ArrayLike,
    calibration_end_day: float,
    holdout_end_day: float,
    time_unit_days: float = 7.0,
) -> CalibrationHoldout:
    """Each customer's calibration (x, t_x, T) and holdout repeat purchases from flat arrays.

    Every customer must have been acquired before the calibration end (T > 0); purchases
    after the holdout end are ignored.
    """
    _check_ends(calibration_end_day, holdout_end_day, time_unit_days)
    first, customer, day = _repeat_days(first_day, purchase_customer, purchase_day, holdout_end_day)
    if (first >= calibration_end_day).any():
        raise ValueError("every customer's first_day must precede calibration_end_day")
    n = len(first)
    calibration = day <= calibration_end_day
    x = np.bincount(customer[calibration], minlength=n).astype(np.float64)
    last = first.copy()
    # Repeat days come sorted by (customer, day): each customer's run ends at their latest.
    buyer, bought = customer[calibration], day[calibration]
    run_end = np.flatnonzero(np.append(buyer[1:] != buyer[:-1], True)) if len(buyer) else buyer
    last[buyer[run_end]] = bought[run_end]
    holdout = np.bincount(customer[~calibration], minlength=n).astype(np.float64)
    return CalibrationHoldout(
        frequency=x,
        recency=(last - first) / time_unit_days,
        T=(calibration_end_day - first) / time_unit_days,
        holdout_frequency=holdout,
        holdout_length=(holdout_end_day - calibration_end_day) / time_unit_days,
    )


@dataclass(frozen=True)
class TrackingCurve:
    """Repeat transactions per period, actual and predicted (FHL 2005, figures 2 and 3).

    Period i covers the days in (period_start[i], period_end[i]]. Periods are
    `time_unit_days` long and aligned so that `calibration_end` is a period boundary; the
    first period (from the first acquisition) and the last (to the holdout end) may be shorter.
    """

    period_start: FloatArray
    period_end: FloatArray
    actual: FloatArray
    predicted: FloatArray
    calibration_end: float
    time_unit_days: float

    @property
    def cumulative_actual(self) -> FloatArray:
        """Actual repeat transactions up to the end of each period."""
        return np.asarray(np.cumsum(self.actual), dtype=np.float64)

    @property
    def cumulative_predicted(self) -> FloatArray:
        """Predicted repeat transactions up to the end of each period."""
        return np.asarray(np.cumsum(self.predicted), dtype=np.float64)


def _boundaries(start: float, calibration_end: float, end: float, unit: float) -> FloatArray:
    """Period boundaries from start to end, unit apart, one of them at calibration_end."""
    # The slack keeps a rounding error in the division from adding a period of ~1e-15 days.
    before = int(np.ceil((calibration_end - start) / unit - 1e-9))
    after = int(np.ceil((end - calibration_end) / unit - 1e-9))
    inner = calibration_end + unit * np.arange(-(before - 1), after, dtype=np.float64)
    return np.concatenate(([start], inner, [end]))


def tracking_curve(
    model: RepeatPurchaseModel,
    first_day: ArrayLike,
    purchase_customer: ArrayLike,
    purchase_day: ArrayLike,
    calibration_end_day: float,
    holdout_end_day: float,
    time_unit_days: float = 7.0,
) -> TrackingCurve:
    """Actual and predicted repeat transactions per period, from the first acquisition on.

    Predicted for a period (s, e]: the sum over customers of E[X(e - first)] - E[X(s - first)]
    (0 before their first purchase), the model's unconditional expectation in its time unit
    of `time_unit_days` days. Customers may be acquired up to the holdout end.
    """
    _check_ends(calibration_end_day, holdout_end_day, time_unit_days)
    first, _, day = _repeat_days(first_day, purchase_customer, purchase_day, holdout_end_day)
    start = float(first.min())
    if start >= calibration_end_day:
        raise ValueError("no customer was acquired before calibration_end_day")
    if first.max() > holdout_end_day:
        raise ValueError("a customer's first_day falls after holdout_end_day")
    edges = _boundaries(start, calibration_end_day, holdout_end_day, time_unit_days)
    actual = np.bincount(
        np.searchsorted(edges, day, side="left") - 1, minlength=len(edges) - 1
    ).astype(np.float64)

    # E[X(t)] depends on (boundary - first day) alone, which takes few distinct values:
    # evaluate the special functions once per value, not once per customer and period.
    firsts, acquired = np.unique(first, return_counts=True)
    ages = np.maximum(edges[None, :] - firsts[:, None], 0.0) / time_unit_days
    distinct, at = np.unique(ages, return_inverse=True)
    expected = np.asarray(model.expected_repeat_purchases(distinct), dtype=np.float64)
    if not np.isfinite(expected).all():
        raise ValueError("the model's expected_repeat_purchases is not finite for these ages")
    cumulative = acquired.astype(np.float64) @ expected[at.reshape(ages.shape)]
    return TrackingCurve(
        period_start=edges[:-1],
        period_end=edges[1:],
        actual=actual,
        predicted=np.diff(cumulative),
        calibration_end=float(calibration_end_day),
        time_unit_days=float(time_unit_days),
    )


@dataclass(frozen=True)
class ConditionalExpectations:
    """Mean holdout repeat purchases by calibration frequency (FHL 2005, figure 4).

    One entry per non-empty bucket: `frequency` x = 0, 1, ..., the last bucket holding all
    x >= max_frequency (`label` "7+"); `actual` and `predicted` are means over its `count`
    customers.
    """

    frequency: IntArray
    label: tuple[str, ...]
    count: IntArray
    actual: FloatArray
    predicted: FloatArray


def conditional_expectations(
    model: RepeatPurchaseModel,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803 (T is the literature's name)
    holdout_x: ArrayLike,
    holdout_days: float,
    time_unit_days: float = 7.0,
    max_frequency: int = 7,
) -> ConditionalExpectations:
    """Actual against predicted mean holdout repeat purchases, grouped by calibration x.

    x, t_x and T are the calibration summaries in the model's time unit of `time_unit_days`
    days; `holdout_x` the repeat purchases in the `holdout_days` after the calibration end.
    """
    freq, recency, age, holdout = (
        as_vector(v, name)
        for v, name in ((x, "x"), (t_x, "t_x"), (T, "T"), (holdout_x, "holdout_x"))
    )
    check_lengths(x=freq, t_x=recency, T=age, holdout_x=holdout)
    if (freq < 0).any() or (freq != np.round(freq)).any():
        raise ValueError("x must be non-negative whole numbers")
    if (holdout < 0).any():
        raise ValueError("holdout_x must be non-negative")
    if (age <= 0).any() or (recency < 0).any() or (recency > age).any():
        raise ValueError("need 0 <= t_x <= T and T > 0")
    if not (np.isfinite(holdout_days) and holdout_days > 0 and time_unit_days > 0):
        raise ValueError("holdout_days and time_unit_days must be positive")
    if isinstance(max_frequency, bool) or not isinstance(max_frequency, int) or max_frequency < 1:
        raise ValueError(f"max_frequency must be a whole number >= 1, got {max_frequency!r}")

    predicted = np.asarray(
        model.conditional_expected_purchases(holdout_days / time_unit_days, freq, recency, age),
        dtype=np.float64,
    )
    if not np.isfinite(predicted).all():
        raise ValueError("the model's conditional_expected_purchases is not finite for these rows")
    bucket = np.minimum(freq, max_frequency).astype(np.int64)
    count = np.bincount(bucket, minlength=max_frequency + 1)
    present = np.flatnonzero(count)
    n = count[present]
    labels = tuple(str(b) if b < max_frequency else f"{b}+" for b in present.tolist())
    return ConditionalExpectations(
        frequency=present.astype(np.int64),
        label=labels,
        count=n.astype(np.int64),
        actual=np.bincount(bucket, weights=holdout, minlength=max_frequency + 1)[present] / n,
        predicted=np.bincount(bucket, weights=predicted, minlength=max_frequency + 1)[present] / n,
    )
