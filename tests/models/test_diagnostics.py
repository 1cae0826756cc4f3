"""Calibration/holdout diagnostics: flat-array bookkeeping by hand, and a simulated BG/NBD world."""

from __future__ import annotations

import time

import numpy as np
import pytest
from numpy.typing import ArrayLike

from lifetide.models import BGNBD
from lifetide.models.diagnostics import (
    calibration_holdout,
    conditional_expectations,
    tracking_curve,
)

# CDNOW's BG/NBD estimates (Fader, Hardie & Lee 2005), per week.
TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


class Linear:
    """A stand-in model buying `rate` per week forever, so predictions are overlap lengths."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def expected_repeat_purchases(self, t: ArrayLike) -> np.ndarray:
        return self.rate * np.asarray(t, dtype=float)

    def conditional_expected_purchases(
        self,
        t: ArrayLike,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
    ) -> np.ndarray:
        return np.asarray(frequency, dtype=float) * np.asarray(t, dtype=float)


# Customer 0 arrives on day 0, customer 1 on day 10; calibration to day 14, holdout to day 30.
FIRST = [0, 10]
CUSTOMER = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
DAY = [0, 0, 3, 3, 7, 15, 31, 10, 14, 28, 29]


def test_tracking_counts_distinct_repeat_days_per_period() -> None:
    curve = tracking_curve(Linear(1.0), FIRST, CUSTOMER, DAY, 14, 30)
    # Periods align on the calibration end: (0, 7], (7, 14], (14, 21], (21, 28], (28, 30].
    np.testing.assert_array_equal(curve.period_start, [0, 7, 14, 21, 28])
    np.testing.assert_array_equal(curve.period_end, [7, 14, 21, 28, 30])
    # Day 0 is customer 0's first purchase, days 3 and 3 one repeat, day 31 after the end.
    np.testing.assert_array_equal(curve.actual, [2, 1, 1, 1, 1])
    np.testing.assert_array_equal(curve.cumulative_actual, [2, 3, 4, 5, 6])
    # E[X(t)] = t weeks: each period predicts the customers' days in it, over 7.
    np.testing.assert_allclose(curve.predicted, np.array([7, 7 + 4, 14, 14, 4]) / 7)
    assert curve.cumulative_predicted[-1] == pytest.approx((30 + 20) / 7)
    assert curve.calibration_end == 14.0


def test_periods_of_other_lengths_and_a_short_first_period() -> None:
    curve = tracking_curve(Linear(1.0), [3], [0, 0], [4, 9], 10, 14, time_unit_days=2.0)
    np.testing.assert_array_equal(curve.period_start, [3, 4, 6, 8, 10, 12])
    np.testing.assert_array_equal(curve.actual, [1, 0, 0, 1, 0, 0])
    np.testing.assert_allclose(curve.predicted, [0.5, 1, 1, 1, 1, 1])


def test_a_unit_that_does_not_divide_the_days_leaves_no_sliver_period() -> None:
    curve = tracking_curve(Linear(1.0), [0], [0], [3], 0.3 * 7, 0.3 * 14, time_unit_days=0.3)
    assert len(curve.actual) == 14
    assert np.diff(curve.period_start).min() == pytest.approx(0.3)


def test_calibration_holdout_summaries() -> None:
    split = calibration_holdout(FIRST, CUSTOMER, DAY, 14, 30)
    np.testing.assert_allclose(split.frequency, [2, 1])
    np.testing.assert_allclose(split.recency, [1, 4 / 7])
    np.testing.assert_allclose(split.T, [2, 4 / 7])
    np.testing.assert_allclose(split.holdout_frequency, [1, 2])
    assert split.holdout_length == pytest.approx(16 / 7)


def test_conditional_expectations_group_by_frequency_with_an_open_last_bucket() -> None:
    x = np.array([0, 0, 1, 3, 8, 9.0])
    result = conditional_expectations(
        Linear(1.0), x, np.minimum(x, 1), np.full(6, 10.0), [0, 1, 2, 2, 5, 6], 14, max_frequency=7
    )
    np.testing.assert_array_equal(result.frequency, [0, 1, 3, 7])
    assert result.label == ("0", "1", "3", "7+")
    np.testing.assert_array_equal(result.count, [2, 1, 1, 2])
    np.testing.assert_allclose(result.actual, [0.5, 2, 2, 5.5])
    # The stand-in predicts x * (14 days = 2 weeks).
    np.testing.assert_allclose(result.predicted, [0, 2, 6, 17])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: tracking_curve(Linear(1), [0], [0], [5], 14, 14), "after calibration_end"),
        (lambda: tracking_curve(Linear(1), [20], [0], [25], 14, 30), "acquired before"),
        (lambda: tracking_curve(Linear(1), [0], [1], [5], 14, 30), "positions 0 to 0"),
        (lambda: tracking_curve(Linear(1), [5], [0], [3], 14, 30), "before its customer"),
        (lambda: tracking_curve(Linear(1), [0.5], [0], [3], 14, 30), "whole-number days"),
        (lambda: tracking_curve(Linear(1), [0], [0, 0], [3], 14, 30), "2 rows, purchase_day 1"),
        (lambda: tracking_curve(Linear(1), [], [], [], 14, 30), "no customers"),
        (lambda: tracking_curve(Linear(1), [0], [0], [3], 14, 30, 0), "time_unit_days"),
        (lambda: calibration_holdout([0, 14], [0], [3], 14, 30), "precede calibration_end"),
        (lambda: conditional_expectations(Linear(1), [1], [2], [1], [0], 7), "t_x <= T"),
        (lambda: conditional_expectations(Linear(1), [1.5], [0], [1], [0], 7), "whole"),
        (lambda: conditional_expectations(Linear(1), [1], [0], [1], [0], 0), "positive"),
        (lambda: conditional_expectations(Linear(1), [1], [0], [1], [0], 7, 7, 0), "max_freq"),
    ],
)
def test_bad_input_is_a_clear_value_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def simulate(
    n: int, seed: int, acquisition_days: int, end_day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD purchase days: (first_day, purchase_customer, purchase_day), first days included.

    Customers arrive uniformly over the acquisition days; while active they buy as a Poisson
    process with rate lambda ~ Gamma(r, rate alpha) per week and drop out after each repeat
    purchase with probability p ~ Beta(a, b). A purchase at t weeks falls on day
    first + ceil(7 t).
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, acquisition_days, n)
    weeks = (end_day - first) / 7
    lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], n)
    p = rng.beta(TRUE["a"], TRUE["b"], n)
    arrivals = rng.poisson(lam * weeks)
    who = np.repeat(np.arange(n), arrivals)
    when = rng.uniform(0, weeks[who])
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    rank = np.arange(len(who)) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    # Active for the first `lifetime` repeat purchases, shifted-geometric.
    kept = rank < rng.geometric(p)[who]
    who, day = who[kept], first[who[kept]] + np.ceil(when[kept] * 7)
    return (
        first.astype(float),
        np.concatenate([np.arange(n), who]),
        np.concatenate([first, day]).astype(float),
    )


@pytest.fixture(scope="module")
def world() -> tuple[BGNBD, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """30,000 customers acquired over 12 weeks, a 39-week calibration and a 39-week holdout."""
    data = simulate(30_000, seed=5, acquisition_days=84, end_day=546)
    split = calibration_holdout(*data, 273, 546)
    model = BGNBD().fit(split.frequency, split.recency, split.T)
    assert model.converged_
    return model, data


def test_tracking_matches_a_simulated_bgnbd_world(
    world: tuple[BGNBD, tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    model, data = world
    curve = tracking_curve(model, *data, 273, 546)
    assert len(curve.actual) == 78
    calibration = curve.period_end <= 273
    total_actual, total_predicted = curve.cumulative_actual, curve.cumulative_predicted
    # Fitted on the calibration period, so close there; the holdout is the real test.
    assert total_predicted[calibration][-1] == pytest.approx(
        total_actual[calibration][-1], rel=0.02
    )
    assert total_predicted[-1] == pytest.approx(total_actual[-1], rel=0.04)
    holdout_actual = curve.actual[~calibration].sum()
    assert curve.predicted[~calibration].sum() == pytest.approx(holdout_actual, rel=0.06)
    # Week by week, within a few percent of the largest week once everyone has arrived.
    later = curve.period_start >= 84
    gap = np.abs(curve.predicted[later] - curve.actual[later])
    assert gap.max() < 0.1 * curve.actual.max()


def test_conditional_expectations_match_a_simulated_bgnbd_world(
    world: tuple[BGNBD, tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    model, data = world
    split = calibration_holdout(*data, 273, 546)
    result = conditional_expectations(
        model, split.frequency, split.recency, split.T, split.holdout_frequency, 273
    )
    assert result.label == ("0", "1", "2", "3", "4", "5", "6", "7+")
    assert result.count.sum() == 30_000
    # Within 8% (+0.03) in every bucket: ~2 standard errors of the sparsest bucket's mean.
    tolerance = 0.03 + 0.08 * result.actual
    assert (np.abs(result.predicted - result.actual) < tolerance).all(), (
        result.actual,
        result.predicted,
    )


def test_a_million_customers_track_in_about_a_second() -> None:
    rng = np.random.default_rng(1)
    n = 1_000_000
    first = rng.integers(0, 365, n).astype(float)
    who = rng.integers(0, n, 2 * n)
    day = first[who] + rng.integers(0, 700, 2 * n)
    model = BGNBD()
    model.params_ = TRUE
    started = time.perf_counter()
    curve = tracking_curve(model, first, who, day, 400, 730)
    split = calibration_holdout(first, who, day, 400, 730)
    assert curve.actual.sum() > 0 and split.frequency.sum() > 0
    assert time.perf_counter() - started < 5
