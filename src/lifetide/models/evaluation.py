"""Metrics for the propensity classifiers and the future-top-share model.

Every function takes plain arrays: binary outcomes `y` (0/1 or booleans) and predicted
probabilities or scores `p`, one per customer. Tables are dataclasses of arrays, one entry per
bin, ready for the model report.

Tied scores never depend on row order. Binned tables (`calibration_table`, `lift_table`) sort
by score and cut equal-count bins; a group of tied scores that straddles a cut contributes its
mean outcome to every position it occupies, which is the expectation over a random order of
the ties. `top_share_capture` likewise selects tied scores at the cut fractionally.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import roc_auc_score

from lifetide.models.fitting import FloatArray, as_vector

IntArray = NDArray[np.int64]


def _outcomes(y: ArrayLike, name: str = "y") -> FloatArray:
    """Binary outcomes as a float vector of 0s and 1s, or a ValueError."""
    values = as_vector(y, name)
    if len(values) == 0:
        raise ValueError(f"{name} is empty")
    if not np.isin(values, (0.0, 1.0)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (or booleans)")
    return values


def _scores(p: ArrayLike, n: int, name: str = "p", probabilities: bool = True) -> FloatArray:
    """Finite scores, one per outcome; probabilities must also lie in [0, 1]."""
    values = as_vector(p, name)
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} rows, y {n}")
    if probabilities and ((values < 0) | (values > 1)).any():
        raise ValueError(f"{name} must be probabilities in [0, 1]")
    return values


def _bin_count(bins: int, n: int) -> int:
    """The number of bins actually used: at most one per row."""
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive whole number, got {bins!r}")
    return min(int(bins), n)


def _tie_averaged(y_sorted: FloatArray, p_sorted: FloatArray) -> FloatArray:
    """Outcomes in score order with each run of tied scores replaced by the run's mean."""
    starts = np.ones(len(p_sorted), dtype=bool)
    starts[1:] = p_sorted[1:] != p_sorted[:-1]
    run = np.cumsum(starts) - 1
    sums = np.bincount(run, weights=y_sorted)
    counts = np.bincount(run)
    return np.asarray((sums / counts)[run], dtype=np.float64)


def _bin_edges(n: int, bins: int) -> NDArray[np.intp]:
    """Row positions cutting n sorted rows into `bins` bins whose sizes differ by at most one."""
    return np.asarray((np.arange(bins + 1) * n) // bins, dtype=np.intp)


def _bin_sums(values: FloatArray, edges: NDArray[np.intp]) -> FloatArray:
    """Sums of sorted values over each bin (every bin is non-empty)."""
    return np.asarray(np.add.reduceat(values, edges[:-1]), dtype=np.float64)


def roc_auc(y: ArrayLike, p: ArrayLike) -> float:
    """Area under the ROC curve: P(a random positive scores above a random negative)."""
    outcomes = _outcomes(y)
    scores = _scores(p, len(outcomes), probabilities=False)
    if outcomes.min() == outcomes.max():
        raise ValueError("roc_auc needs both outcomes (0 and 1) in y")
    return float(roc_auc_score(outcomes, scores))


def brier(y: ArrayLike, p: ArrayLike) -> float:
    """Brier score: the mean squared difference between probability and outcome (lower wins)."""
    outcomes = _outcomes(y)
    probabilities = _scores(p, len(outcomes))
    return float(np.mean((probabilities - outcomes) ** 2))


@dataclass(frozen=True)
class CalibrationTable:
    """Equal-count bins of predicted probability, lowest first: what was predicted and seen."""

    mean_predicted: FloatArray
    observed_rate: FloatArray
    count: IntArray


def calibration_table(y: ArrayLike, p: ArrayLike, bins: int = 10) -> CalibrationTable:
    """Mean predicted probability, observed rate and count in `bins` equal-count bins.

    Rows are sorted by probability and cut into bins whose sizes differ by at most one
    (fewer bins than requested only when there are fewer rows).
    """
    outcomes = _outcomes(y)
    probabilities = _scores(p, len(outcomes))
    n = len(outcomes)
    edges = _bin_edges(n, _bin_count(bins, n))
    order = np.argsort(probabilities, kind="stable")
    p_sorted = probabilities[order]
    y_sorted = _tie_averaged(outcomes[order], p_sorted)
    count = np.diff(edges).astype(np.int64)
    return CalibrationTable(
        mean_predicted=_bin_sums(p_sorted, edges) / count,
        observed_rate=_bin_sums(y_sorted, edges) / count,
        count=count,
    )


def expected_calibration_error(y: ArrayLike, p: ArrayLike, bins: int = 10) -> float:
    """ECE: the row-weighted mean gap |observed rate - mean predicted| over equal-count bins."""
    table = calibration_table(y, p, bins)
    gaps = np.abs(table.observed_rate - table.mean_predicted)
    return float(np.sum(gaps * table.count) / np.sum(table.count))


@dataclass(frozen=True)
class LiftTable:
    """Equal-count bins of score, highest scores first (deciles by default).

    `response_rate` is the bin's share of positives, `lift` that over `base_rate`,
    `cumulative_share` the share of all rows in this and the higher bins and
    `cumulative_capture` the share of all positives they hold (the gains curve).
    """

    count: IntArray
    mean_score: FloatArray
    response_rate: FloatArray
    lift: FloatArray
    cumulative_share: FloatArray
    cumulative_capture: FloatArray
    base_rate: float


def lift_table(y: ArrayLike, p: ArrayLike, bins: int = 10) -> LiftTable:
    """Response rate, lift and cumulative capture of positives by score bin, best first."""
    outcomes = _outcomes(y)
    scores = _scores(p, len(outcomes), probabilities=False)
    positives = float(outcomes.sum())
    if positives == 0:
        raise ValueError("lift_table needs at least one positive outcome in y")
    n = len(outcomes)
    edges = _bin_edges(n, _bin_count(bins, n))
    order = np.argsort(-scores, kind="stable")
    s_sorted = scores[order]
    hits = _bin_sums(_tie_averaged(outcomes[order], s_sorted), edges)
    count = np.diff(edges).astype(np.int64)
    base_rate = positives / n
    response = hits / count
    return LiftTable(
        count=count,
        mean_score=_bin_sums(s_sorted, edges) / count,
        response_rate=response,
        lift=response / base_rate,
        cumulative_share=edges[1:] / n,
        cumulative_capture=np.minimum(np.cumsum(hits) / positives, 1.0),
        base_rate=base_rate,
    )


@dataclass(frozen=True)
class TopShareResult:
    """How well the top share by predicted score matches the top share by actual value.

    `precision` is the share of the selected customers who are in the actual top share,
    `revenue_captured` the share of all actual value they account for, and
    `best_revenue_captured` that of the actual top share itself (what a perfect score gets).
    """

    precision: float
    revenue_captured: float
    n_selected: int
    best_revenue_captured: float


def _selection_weights(values: FloatArray, k: int) -> FloatArray:
    """Weights selecting the k largest values: 1 above the k-th, fractional for ties with it.

    The customers tied with the k-th largest value share its remaining places equally, the
    expectation over a random order of the ties; the weights add up to exactly k.
    """
    threshold = np.partition(values, len(values) - k)[len(values) - k]
    above = values > threshold
    tied = values == threshold
    fraction = (k - int(above.sum())) / int(tied.sum())
    return np.where(above, 1.0, np.where(tied, fraction, 0.0))


def top_share_capture(
    predicted_score: ArrayLike, actual_value: ArrayLike, share: float = 0.2
) -> TopShareResult:
    """Precision and value captured by selecting the top `share` of customers by score.

    k = round(share * n) customers (at least one) are selected by predicted score; tied scores
    at the cut are selected fractionally (see `_selection_weights`), so the result does not
    depend on row order. The actual top share is the k customers of highest actual value;
    where actual values tie at its cut, the tied places go to selected customers first, since
    any of the tied customers belongs there equally. Hence a score that orders customers as
    their actual values do (ties included) has precision 1 and captures the best achievable
    value. Actual values must be non-negative with a positive total.
    """
    scores = as_vector(predicted_score, "predicted_score")
    actual = as_vector(actual_value, "actual_value")
    n = len(scores)
    if n == 0:
        raise ValueError("predicted_score is empty")
    if len(actual) != n:
        raise ValueError(f"actual_value has {len(actual)} rows, predicted_score {n}")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if (actual < 0).any():
        raise ValueError("actual_value must be non-negative (clip net refunds to 0)")
    total = float(actual.sum())
    if total <= 0:
        raise ValueError("actual_value sums to zero: revenue captured is undefined")
    k = min(n, max(1, int(np.floor(share * n + 0.5))))

    selected = _selection_weights(scores, k)
    largest = np.partition(actual, n - k)[n - k :]
    threshold = largest[0]
    above = actual > threshold
    tied_selected = float(selected[actual == threshold].sum())
    hits = float(selected[above].sum()) + min(tied_selected, k - int(above.sum()))
    best = float(largest.sum())
    return TopShareResult(
        precision=min(hits / k, 1.0),
        revenue_captured=min(float(selected @ actual) / total, 1.0),
        n_selected=k,
        best_revenue_captured=min(best / total, 1.0),
    )
