"""Classifier and top-share metrics: hand-computed tables, ties, bad input and properties."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lifetide.models.evaluation import (
    brier,
    calibration_table,
    expected_calibration_error,
    lift_table,
    roc_auc,
    top_share_capture,
)

# Ten customers, scores falling; positives at scores 0.9, 0.7, 0.6 and 0.3.
Y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 0])
P = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])


def test_auc_counts_correctly_ordered_pairs() -> None:
    # Positive-above-negative pairs: 0.9 beats 6 negatives, 0.7 and 0.6 beat 5, 0.3 beats 3.
    assert roc_auc(Y, P) == pytest.approx(19 / 24)
    assert roc_auc(Y, -P) == pytest.approx(5 / 24)


def test_brier_is_the_mean_squared_error() -> None:
    squares = [0.01, 0.64, 0.09, 0.16, 0.25, 0.16, 0.49, 0.04, 0.01, 0.0025]
    assert brier(Y, P) == pytest.approx(sum(squares) / 10)
    assert brier([True, False], [1.0, 0.0]) == 0.0


def test_calibration_table_in_five_bins_of_two() -> None:
    table = calibration_table(Y, P, bins=5)
    np.testing.assert_allclose(table.mean_predicted, [0.075, 0.25, 0.45, 0.65, 0.85])
    np.testing.assert_allclose(table.observed_rate, [0.0, 0.5, 0.0, 1.0, 0.5])
    np.testing.assert_array_equal(table.count, [2, 2, 2, 2, 2])
    gaps = [0.075, 0.25, 0.45, 0.35, 0.35]
    assert expected_calibration_error(Y, P, bins=5) == pytest.approx(sum(gaps) / 5)


def test_lift_table_in_five_bins_best_first() -> None:
    table = lift_table(Y, P, bins=5)
    np.testing.assert_allclose(table.response_rate, [0.5, 1.0, 0.0, 0.5, 0.0])
    np.testing.assert_allclose(table.lift, [1.25, 2.5, 0.0, 1.25, 0.0])
    np.testing.assert_allclose(table.cumulative_capture, [0.25, 0.75, 0.75, 1.0, 1.0])
    np.testing.assert_allclose(table.cumulative_share, [0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(table.mean_score, [0.85, 0.65, 0.45, 0.25, 0.075])
    assert table.base_rate == pytest.approx(0.4)


def test_uneven_rows_give_bins_differing_by_one_and_few_rows_fewer_bins() -> None:
    y, p = np.arange(13) % 2, np.linspace(0, 1, 13)
    assert sorted(calibration_table(y, p, bins=10).count.tolist()) == [1] * 7 + [2] * 3
    assert len(lift_table(y[:4], p[:4], bins=10).count) == 4


def test_tied_scores_spread_their_outcomes_whatever_the_row_order() -> None:
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    constant = np.full(10, 0.3)
    lift = lift_table(y, constant, bins=5)
    np.testing.assert_allclose(lift.lift, 1.0)
    np.testing.assert_allclose(lift.cumulative_capture, [0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(calibration_table(y, constant, bins=5).observed_rate, 0.4)
    # A tie straddling a cut: the two 0.5s share one positive between bins 1 and 2.
    two = lift_table([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1], bins=2)
    np.testing.assert_allclose(two.response_rate, [0.75, 0.25])


@pytest.mark.parametrize(
    ("scores", "actual", "share", "expected"),
    [
        # k = 2 of 5: the model picks rows 0-1 (value 10), the actual top is rows 3-4 (90).
        ([5, 4, 3, 2, 1], [0, 10, 0, 30, 60], 0.4, (0.0, 0.1, 2, 0.9)),
        # Three tied scores compete for 2 places: each is 2/3 selected. Rows 0 and 1 are the
        # actual top: hits 2/3 + 2/3, value 2/3 * 90 of 100.
        ([1, 1, 1, 0], [40, 30, 20, 10], 0.5, (2 / 3, 0.6, 2, 0.7)),
        # Actual ties at 0 fill the one place left after row 0: one selected zero counts.
        ([0, 9, 8, 7, 6, 5, 4, 3, 2, 1], [5, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.2, (0.5, 0.0, 2, 1.0)),
        # k = round(1.4) = 1; a perfect ranking.
        ([7, 6, 5, 4, 3, 2, 1], [70, 60, 50, 40, 30, 20, 10], 0.2, (1.0, 70 / 280, 1, 70 / 280)),
        # k = round(2.5) = 3 (halves round up).
        ([1, 2, 3, 4, 5], [1, 1, 1, 1, 1], 0.5, (1.0, 0.6, 3, 0.6)),
    ],
)
def test_top_share_capture(
    scores: list[float], actual: list[float], share: float, expected: tuple[float, ...]
) -> None:
    result = top_share_capture(scores, actual, share)
    precision, captured, n_selected, best = expected
    assert result.precision == pytest.approx(precision)
    assert result.revenue_captured == pytest.approx(captured)
    assert result.n_selected == n_selected
    assert result.best_revenue_captured == pytest.approx(best)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: roc_auc([1, 1], [0.2, 0.3]), "both outcomes"),
        (lambda: roc_auc([1, 0, 2], [0.2, 0.3, 0.1]), "only 0 and 1"),
        (lambda: brier([1, 0], [0.5, 1.5]), r"probabilities in \[0, 1\]"),
        (lambda: brier([1, 0], [0.5, np.nan]), "finite"),
        (lambda: brier([1, 0], [0.5]), "1 rows, y 2"),
        (lambda: brier([], []), "empty"),
        (lambda: calibration_table([1, 0], [0.5, 0.5], bins=0), "bins"),
        (lambda: lift_table([0, 0], [0.5, 0.4]), "at least one positive"),
        (lambda: top_share_capture([1, 2], [0, 0]), "sums to zero"),
        (lambda: top_share_capture([1, 2], [-1, 3]), "non-negative"),
        (lambda: top_share_capture([1, 2], [1, 3], share=0), "share"),
        (lambda: top_share_capture([1, 2], [1, 3, 4]), "3 rows"),
    ],
)
def test_bad_input_is_a_clear_value_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


scores_and_values = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        # Few distinct values, so that ties are common.
        arrays(np.float64, n, elements=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0])),
        arrays(np.float64, n, elements=st.sampled_from([0.0, 0.0, 1.0, 2.5, 7.0, 100.0])),
    )
)
shares = st.floats(0.01, 1.0)


@settings(max_examples=200, deadline=None)
@given(scores_and_values, shares)
def test_top_share_metrics_are_shares(data: tuple[np.ndarray, np.ndarray], share: float) -> None:
    scores, actual = data
    if actual.sum() == 0:
        actual[0] = 1.0
    result = top_share_capture(scores, actual, share)
    assert 0 <= result.precision <= 1
    assert 0 <= result.revenue_captured <= result.best_revenue_captured + 1e-12
    assert result.best_revenue_captured <= 1
    assert 1 <= result.n_selected <= len(scores)


@settings(max_examples=200, deadline=None)
@given(scores_and_values, shares)
def test_a_perfect_score_is_precise_and_captures_the_best(
    data: tuple[np.ndarray, np.ndarray], share: float
) -> None:
    _, actual = data
    if actual.sum() == 0:
        actual[-1] = 1.0
    # Any increasing function of the actual value ranks exactly like it, ties included.
    result = top_share_capture(np.log1p(actual) * 3 - 1, actual, share)
    assert result.precision == pytest.approx(1.0)
    assert result.revenue_captured == pytest.approx(result.best_revenue_captured)


@settings(max_examples=200, deadline=None)
@given(scores_and_values, st.integers(1, 20))
def test_bins_partition_the_rows_and_ignore_row_order(
    data: tuple[np.ndarray, np.ndarray], bins: int
) -> None:
    p, value = data
    y = (value > 1).astype(float)
    table = calibration_table(y, p, bins)
    assert table.count.sum() == len(y)
    assert len(table.count) == min(bins, len(y))
    assert table.count.max() - table.count.min() <= 1
    assert ((table.observed_rate >= 0) & (table.observed_rate <= 1)).all()
    order = np.random.default_rng(len(y) + bins).permutation(len(y))
    shuffled = calibration_table(y[order], p[order], bins)
    np.testing.assert_allclose(shuffled.observed_rate, table.observed_rate, atol=1e-12)
    if y.sum() > 0:
        lift = lift_table(y, p, bins)
        assert lift.count.sum() == len(y)
        assert lift.cumulative_capture[-1] == pytest.approx(1.0)
        assert (np.diff(lift.cumulative_capture) >= -1e-12).all()
        again = lift_table(y[order], p[order], bins)
        np.testing.assert_allclose(again.cumulative_capture, lift.cumulative_capture, atol=1e-12)
    result = top_share_capture(p, value + 1, 0.3)
    again_top = top_share_capture(p[order], value[order] + 1, 0.3)
    assert again_top.precision == pytest.approx(result.precision)
    assert again_top.revenue_captured == pytest.approx(result.revenue_captured)


def test_a_million_rows_take_about_a_second() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(1_000_000)
    y = (rng.random(1_000_000) < p).astype(float)
    value = rng.gamma(0.5, 100.0, 1_000_000) * y
    started = time.perf_counter()
    roc_auc(y, p)
    brier(y, p)
    expected_calibration_error(y, p)
    lift_table(y, p)
    top_share_capture(p, value)
    # Generous for a busy CI machine; a regression to per-row Python would take minutes.
    assert time.perf_counter() - started < 10
