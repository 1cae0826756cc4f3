"""Qini curves and coefficients: hand-computed cases, then properties of any data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from lifetide.models.qini import (
    perfect_qini_curve,
    qini_coefficient,
    qini_curve,
    uplift_at_top,
)


@dataclass(frozen=True)
class Case:
    """Outcomes, treatment, scores and the Qini figures worked out by hand."""

    name: str
    y: list[float]
    t: list[int]
    score: list[float]
    fraction: list[float]
    gain: list[float]
    area: float  # area over random, per customer
    coefficient: float


# Worked by hand: a treated responder adds N/N_t, a control responder subtracts N/N_c.
CASES = [
    # N = 4, N_t = N_c = 2: contributions 2, 0, 0, -2 in score order; the end point is 0.
    # Area: 0.25 * (1 + 2 + 2 + 1) = 1.5, per customer 0.375; this is the best order.
    Case("best order", [1, 0, 0, 1], [1, 1, 0, 0], [4, 3, 2, 1],
         [0, 0.25, 0.5, 0.75, 1], [0, 2, 2, 2, 0], 0.375, 1.0),
    Case("worst order", [1, 0, 0, 1], [1, 1, 0, 0], [1, 2, 3, 4],
         [0, 0.25, 0.5, 0.75, 1], [0, -2, -2, -2, 0], -0.375, -1.0),
    # One run of ties: a straight line from 0 to the end point, which is random targeting.
    Case("all tied", [1, 0, 0, 1], [1, 1, 0, 0], [5, 5, 5, 5], [0, 1], [0, 0], 0.0, 0.0),
    # N = 3, N_t = 1, N_c = 2: contributions 3, -1.5, 0; end point 1.5 = 3 * (1 - 1/2).
    # Over the random line (0, .5, 1, 1.5): 0, 2.5, .5, 0 -> area (1.25 + 1.5 + .25) / 3 = 1,
    # per customer 1/3. Best order 3, 0, -1.5: 0, 2.5, 2, 0 -> 1.5, per customer 1/2.
    Case("unequal groups", [1, 1, 0], [1, 0, 0], [3, 2, 1],
         [0, 1 / 3, 2 / 3, 1], [0, 3, 1.5, 1.5], 1 / 3, 2 / 3),
    # Contributions 2, 0, -2, 0; the middle two tie and make one step of the curve.
    # Area 0.25 * 1 + 0.5 * 1 = 0.75 (the mean of the two orders, 1.0 and 0.5), per
    # customer 0.1875; best order's 0.375.
    Case("ties in the middle", [1, 0, 1, 0], [1, 0, 0, 1], [2, 1, 1, 0],
         [0, 0.25, 0.75, 1], [0, 2, 0, 0], 0.1875, 0.5),
    # Amounts, not 0/1: contributions 2 * 10, -2 * 4, 0, 2 * 1 -> 20, 12, 12, 14.
    # Random line 0, 3.5, 7, 10.5, 14: differences 0, 16.5, 5, 1.5, 0 -> area
    # 0.25 * (8.25 + 10.75 + 3.25 + .75) = 5.75, per customer 1.4375. Best order 20, 2, 0, -8:
    # 0, 20, 22, 22, 14 -> differences 0, 16.5, 15, 11.5, 0 -> 0.25 * 43 = 10.75 -> 2.6875.
    Case("spend amounts", [10, 4, 0, 1], [1, 0, 0, 1], [0.9, 0.8, 0.7, 0.1],
         [0, 0.25, 0.5, 0.75, 1], [0, 20, 12, 12, 14], 1.4375, 1.4375 / 2.6875),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_hand_computed_qini(case: Case) -> None:
    curve = qini_curve(case.y, case.t, case.score)
    np.testing.assert_allclose(curve.fraction, case.fraction, atol=1e-12)
    np.testing.assert_allclose(curve.gain, case.gain, atol=1e-12)
    assert curve.n == len(case.y)
    assert curve.area_over_random() == pytest.approx(case.area, abs=1e-12)
    assert qini_coefficient(case.y, case.t, case.score, normalize=False) == pytest.approx(
        case.area, abs=1e-12
    )
    assert qini_coefficient(case.y, case.t, case.score) == pytest.approx(
        case.coefficient, abs=1e-12
    )


def test_gain_and_share_at_interpolate_the_curve() -> None:
    curve = qini_curve([1, 1, 0], [1, 0, 0], [3, 2, 1])  # gains 0, 3, 1.5, 1.5
    assert curve.total_gain == 1.5
    assert curve.gain_at(0.0) == 0.0
    assert curve.gain_at(1 / 6) == pytest.approx(1.5)
    assert curve.gain_at(0.5) == pytest.approx(2.25)
    assert curve.share_at(1 / 3) == pytest.approx(2.0)  # more than everyone's effect
    assert curve.share_at(1.0) == pytest.approx(1.0)


def test_share_needs_a_positive_total_effect() -> None:
    curve = qini_curve([1, 0, 0, 1], [1, 1, 0, 0], [4, 3, 2, 1])  # end point 0
    with pytest.raises(ValueError, match="no incremental responses overall"):
        curve.share_at(0.3)


def test_perfect_curve_puts_treated_responders_first() -> None:
    curve = perfect_qini_curve([0, 1, 1, 0, 1, 0], [0, 0, 1, 1, 1, 0])
    # N_t = N_c = 3: contributions 0, -2, 2, 0, 2, 0 sorted 2, 2, 0, 0, 0, -2.
    np.testing.assert_allclose(curve.gain, [0, 2, 4, 4, 4, 4, 2])


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.5, 1 / 2 - 1 / 1),  # rows 0-2: treated rows 0, 1 (y 1, 0); control row 2 (y 1)
        (5 / 6, 1 / 3 - 1 / 2),  # rows 0-4: treated 0, 1, 4 (1, 0, 0); control 2, 3 (1, 0)
        (1.0, 1 / 3 - 2 / 3),  # everyone: control rows 2, 3, 5 (1, 0, 1)
    ],
)
def test_uplift_at_top_hand_computed(fraction: float, expected: float) -> None:
    y = [1, 0, 1, 0, 0, 1]
    t = [1, 1, 0, 0, 1, 0]
    score = [6, 5, 4, 3, 2, 1]
    assert uplift_at_top(y, t, score, fraction) == pytest.approx(expected)


def test_uplift_at_top_shares_the_tied_customers_at_the_cut() -> None:
    # Top 2 of 4: row 0 whole, rows 1 and 2 (tied) half each.
    # Treated: row 0 (y 1, w 1), row 2 (y 0, w .5) -> 2/3; control: row 1 (y 0) -> 0.
    assert uplift_at_top([1, 0, 0, 1], [1, 0, 1, 0], [3, 2, 2, 1], 0.5) == pytest.approx(2 / 3)
    # Everyone tied: half of each, which is the whole population's rates.
    assert uplift_at_top([1, 0, 1, 0], [1, 0, 1, 0], [1, 1, 1, 1], 0.5) == pytest.approx(1.0)


def test_uplift_at_top_needs_both_groups_in_the_top() -> None:
    with pytest.raises(ValueError, match="holds no control customers"):
        uplift_at_top([1, 0, 0, 1], [1, 1, 0, 0], [4, 3, 2, 1], 0.5)


@pytest.mark.parametrize(
    ("y", "t", "score", "message"),
    [
        ([1, 0], [1, 0], [1, 2, 3], "score has 3 entries"),
        ([1, 0, 1], [1, 0], [1, 2, 3], "y has 3 entries, treatment 2"),
        ([1, 0], [1, 2], [1, 2], r"treatment must be 0/1 or booleans, also found \[2.0\]"),
        ([1, 0], [1, 1], [1, 2], "no control customers"),
        ([1, 0], [0, 0], [1, 2], "no treated customers"),
        ([1, 0], [1, 0], [1, float("nan")], "score has 1 NaN or infinite values, first at row 1"),
        ([1, float("inf")], [1, 0], [1, 2], "y has 1 NaN"),
        (["a", "b"], [1, 0], [1, 2], "y must be numeric"),
        ([[1, 0]], [[1, 0]], [[1, 2]], "y must be one-dimensional"),
        ([], [], [], "empty"),
    ],
)
def test_bad_input_is_named(y: object, t: object, score: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        qini_curve(y, t, score)  # type: ignore[arg-type]


def test_no_responses_leave_the_coefficient_undefined() -> None:
    with pytest.raises(ValueError, match="no ranking can beat random targeting"):
        qini_coefficient([0, 0, 0, 0], [1, 0, 1, 0], [1, 2, 3, 4])


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_fraction_out_of_range(fraction: float) -> None:
    with pytest.raises(ValueError, match=r"fraction must be a number in \(0, 1\]"):
        uplift_at_top([1, 0], [1, 0], [1, 2], fraction)
    if fraction != 0.0:
        with pytest.raises(ValueError, match=r"fraction must be a number in \[0, 1\]"):
            qini_curve([1, 0], [1, 0], [1, 2]).gain_at(fraction)


# Properties.

experiments = st.integers(min_value=2, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),  # y
        st.lists(st.integers(0, 1), min_size=n, max_size=n),  # treatment
        st.lists(st.integers(-20, 20), min_size=n, max_size=n),  # scores, ties likely
    )
)


def _both_groups(t: list[int]) -> bool:
    return 0 < sum(t) < len(t)


@given(experiments)
def test_strictly_increasing_transforms_change_nothing(
    data: tuple[list[int], list[int], list[int]],
) -> None:
    y, t, score = data
    assume(_both_groups(t))
    base = qini_curve(y, t, score)
    s = np.asarray(score, dtype=np.float64)
    for transformed in (3 * s + 7, s**3, np.exp(s / 10), np.arctan(s), -1 / (s + 21.5)):
        other = qini_curve(y, t, transformed)
        np.testing.assert_allclose(other.fraction, base.fraction)
        np.testing.assert_allclose(other.gain, base.gain)
        if sum(y) > 0:
            assert qini_coefficient(y, t, transformed) == pytest.approx(
                qini_coefficient(y, t, score), abs=1e-12
            )
        assert uplift_at_top(y, t, transformed, 1.0) == pytest.approx(
            uplift_at_top(y, t, score, 1.0)
        )


@given(experiments, st.data())
def test_row_order_changes_nothing(
    data: tuple[list[int], list[int], list[int]], draw: st.DataObject
) -> None:
    y, t, score = data
    assume(_both_groups(t))
    order = draw.draw(st.permutations(range(len(y))))
    base = qini_curve(y, t, score)
    shuffled = qini_curve(np.take(y, order), np.take(t, order), np.take(score, order))
    np.testing.assert_allclose(shuffled.gain, base.gain, atol=1e-9)
    assert uplift_at_top(np.take(y, order), np.take(t, order), np.take(score, order), 1.0) == (
        pytest.approx(uplift_at_top(y, t, score, 1.0))
    )


@given(experiments)
def test_curve_ends_at_everyones_effect_and_stays_under_the_best(
    data: tuple[list[int], list[int], list[int]],
) -> None:
    y, t, score = data
    assume(_both_groups(t))
    ya, ta = np.asarray(y, dtype=float), np.asarray(t) == 1
    effect = ya[ta].mean() - ya[~ta].mean()
    curve = qini_curve(y, t, score)
    best = perfect_qini_curve(y, t)
    assert curve.total_gain == pytest.approx(len(y) * effect, abs=1e-9)
    assert best.total_gain == pytest.approx(curve.total_gain, abs=1e-9)
    # The curve's points are prefixes of the ranking: no prefix beats the best one that long.
    positions = np.rint(curve.fraction * len(y)).astype(int)
    assert (curve.gain <= best.gain[positions] + 1e-9).all()
    assert uplift_at_top(y, t, score, 1.0) == pytest.approx(effect)
    if sum(y) > 0 and best.area_over_random() > 0:
        assert qini_coefficient(y, t, score) <= 1 + 1e-9


@given(experiments)
def test_a_constant_score_is_exactly_random_targeting(
    data: tuple[list[int], list[int], list[int]],
) -> None:
    y, t, _ = data
    assume(_both_groups(t))
    assume(perfect_qini_curve(y, t).area_over_random() > 0)
    assert qini_coefficient(y, t, [0.5] * len(y)) == 0.0


@given(experiments)
def test_ranking_by_each_customers_own_contribution_scores_one(
    data: tuple[list[int], list[int], list[int]],
) -> None:
    y, t, _ = data
    assume(_both_groups(t))
    assume(perfect_qini_curve(y, t).area_over_random() > 0)
    # Treated responders first, non-responders, control responders last: Radcliffe's optimum.
    oracle = np.where(np.asarray(y) == 1, np.where(np.asarray(t) == 1, 1.0, -1.0), 0.0)
    assert qini_coefficient(y, t, oracle) == pytest.approx(1.0)


def known_uplift_population(
    seed: int, n: int, uplift: float
) -> tuple[NDArray[np.int8], NDArray[np.int8], NDArray[np.float64]]:
    """Customers whose true uplift is `uplift` for half of them and 0 (or less) for the rest.

    The base rate varies too, so ranking by it (a propensity model) is not ranking by uplift.
    """
    rng = np.random.default_rng(seed)
    persuadable = rng.random(n) < 0.5
    true_uplift = np.where(persuadable, uplift, -0.02)
    base = rng.uniform(0.05, 0.4, n)
    treated = (rng.random(n) < 0.5).astype(np.int8)
    y = (rng.random(n) < base + treated * true_uplift).astype(np.int8)
    return y, treated, true_uplift + rng.normal(0, 1e-3, n)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.3, 0.5))
def test_the_true_uplift_ranking_beats_random(seed: int, uplift: float) -> None:
    y, treated, true_uplift = known_uplift_population(seed, 20_000, uplift)
    random_score = np.random.default_rng(seed + 1).random(len(y))
    knowing = qini_coefficient(y, treated, true_uplift)
    guessing = qini_coefficient(y, treated, random_score)
    # The normalizer is the order of the realized outcomes, which no score can know, so even
    # the true uplift reaches only ~0.16-0.23 here (1 sd ~0.009); random gets 0 +- 0.009.
    assert knowing > 0.1
    assert knowing > guessing + 0.08
    curve = qini_curve(y, treated, true_uplift)
    assert curve.share_at(0.5) > 0.9  # the persuadable half brings nearly all of the gain
    assert uplift_at_top(y, treated, true_uplift, 0.5) > uplift_at_top(y, treated, true_uplift, 1)


def test_random_scores_give_a_coefficient_near_zero() -> None:
    y, treated, _ = known_uplift_population(7, 20_000, 0.2)
    rng = np.random.default_rng(8)
    coefficients = np.array([qini_coefficient(y, treated, rng.random(len(y))) for _ in range(100)])
    # The mean of 100 is ~0 +- 0.003; each one is within a few of its deviations (~0.03).
    assert abs(coefficients.mean()) < 0.015
    assert np.abs(coefficients).max() < 0.15
    assert coefficients.std() > 0  # really different rankings
