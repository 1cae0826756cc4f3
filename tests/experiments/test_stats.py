"""The formulas against statsmodels and scipy, computed here; invariants by hypothesis."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as sps
from scipy.special import betaln
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from lifetide.experiments import stats

# (successes, n) of arm 1, of arm 2, alpha: small and large, rare and common, edges.
PAIRS = [
    (267, 21_307, 122, 21_306, 0.05),
    (3_894, 21_307, 2_262, 21_306, 0.05),
    (5, 40, 9, 38, 0.05),
    (1, 10, 1, 12, 0.10),
    (48, 50, 45, 50, 0.01),
    (120, 1_000, 100, 1_000, 0.20),
    (0, 30, 4, 31, 0.05),
    (30, 30, 25, 31, 0.05),
    (7, 7, 0, 9, 0.05),
]


def _samples(seed: int, n1: int, n2: int, zero: float) -> tuple[np.ndarray, np.ndarray]:
    """Revenue-like values: mostly zeros, a log-normal tail."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(3.0, 1.2, n1) * (rng.random(n1) > zero)
    b = rng.lognormal(3.1, 1.0, n2) * (rng.random(n2) > zero)
    return a, b


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "alpha"), PAIRS)
def test_wilson_matches_statsmodels(x1: int, n1: int, x2: int, n2: int, alpha: float) -> None:
    for x, n in ((x1, n1), (x2, n2)):
        low, high = stats.wilson_interval(x, n, alpha)
        expected = proportion_confint(x, n, alpha=alpha, method="wilson")
        assert float(low) == pytest.approx(expected[0], abs=1e-12)
        assert float(high) == pytest.approx(expected[1], abs=1e-12)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "alpha"), PAIRS)
def test_newcombe_matches_statsmodels(x1: int, n1: int, x2: int, n2: int, alpha: float) -> None:
    low, high = stats.newcombe_difference(x1, n1, x2, n2, alpha)
    expected = confint_proportions_2indep(
        x1, n1, x2, n2, method="newcomb", compare="diff", alpha=alpha
    )
    assert float(low) == pytest.approx(expected[0], abs=1e-12)
    assert float(high) == pytest.approx(expected[1], abs=1e-12)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "alpha"), PAIRS)
def test_katz_ratio_matches_statsmodels(x1: int, n1: int, x2: int, n2: int, alpha: float) -> None:
    low, high = stats.katz_ratio(x1, n1, x2, n2, alpha)
    if x1 == 0 or x2 == 0:
        assert math.isnan(float(low)) and math.isnan(float(high))
        return
    expected = confint_proportions_2indep(
        x1, n1, x2, n2, method="log", compare="ratio", alpha=alpha
    )
    assert float(low) == pytest.approx(expected[0], rel=1e-12)
    assert float(high) == pytest.approx(expected[1], rel=1e-12)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "alpha"), PAIRS)
def test_ztest_matches_statsmodels(x1: int, n1: int, x2: int, n2: int, alpha: float) -> None:
    z, p = stats.two_proportion_ztest(x1, n1, x2, n2)
    expected_z, expected_p = proportions_ztest([x1, x2], [n1, n2])
    assert float(z) == pytest.approx(expected_z, rel=1e-10)
    assert float(p) == pytest.approx(expected_p, rel=1e-9, abs=1e-300)


def test_ztest_without_variation_is_not_significant() -> None:
    assert float(stats.two_proportion_ztest(0, 10, 0, 12).p_value) == 1.0
    assert float(stats.two_proportion_ztest(10, 10, 12, 12).p_value) == 1.0


def test_vectorized_intervals_equal_one_at_a_time() -> None:
    x1, n1, x2, n2 = (np.array(column) for column in zip(*[p[:4] for p in PAIRS], strict=True))
    low, high = stats.newcombe_difference(x1, n1, x2, n2)
    for i, (a, b, c, d, _) in enumerate(PAIRS):
        one = stats.newcombe_difference(a, b, c, d)
        assert (float(one.low), float(one.high)) == (low[i], high[i])


@pytest.mark.parametrize(
    ("seed", "n1", "n2", "zero", "alpha"),
    [(1, 500, 700, 0.0, 0.05), (2, 4_000, 3_000, 0.95, 0.05), (3, 20, 9, 0.5, 0.10)],
)
def test_means_and_welch_match_statsmodels_and_scipy(
    seed: int, n1: int, n2: int, zero: float, alpha: float
) -> None:
    a, b = _samples(seed, n1, n2, zero)
    for values in (a, b):
        low, high = stats.t_interval(values.mean(), values.var(ddof=1), values.size, alpha)
        expected = DescrStatsW(values).tconfint_mean(alpha=alpha)
        assert (float(low), float(high)) == pytest.approx(expected, rel=1e-10)
    welch = stats.welch_test(
        a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1), b.size, alpha
    )
    t, p, df = ttest_ind(a, b, usevar="unequal")
    assert float(welch.t) == pytest.approx(t, rel=1e-10)
    assert float(welch.p_value) == pytest.approx(p, rel=1e-9)
    assert float(welch.df) == pytest.approx(df, rel=1e-10)
    compare = CompareMeans(DescrStatsW(a), DescrStatsW(b))
    expected = compare.tconfint_diff(alpha=alpha, usevar="unequal")
    assert (float(welch.low), float(welch.high)) == pytest.approx(expected, rel=1e-10)
    scipy_result = sps.ttest_ind(a, b, equal_var=False)
    assert float(welch.p_value) == pytest.approx(scipy_result.pvalue, rel=1e-9)
    interval = scipy_result.confidence_interval(1 - alpha)
    assert float(welch.low) == pytest.approx(interval.low, rel=1e-9)


def test_welch_with_constant_arms() -> None:
    same = stats.welch_test(2.0, 0.0, 10, 2.0, 0.0, 12)
    assert float(same.p_value) == 1.0 and float(same.low) == float(same.high) == 0.0
    apart = stats.welch_test(3.0, 0.0, 10, 2.0, 0.0, 12)
    assert float(apart.p_value) == 0.0 and float(apart.low) == float(apart.high) == 1.0


def test_delta_lift_interval_covers_the_true_lift_about_95_percent() -> None:
    # 2,000 simulated pairs of arms with a known ratio of means (1.1), vectorized.
    rng = np.random.default_rng(7)
    reps, n = 2_000, 400
    a = rng.gamma(2.0, 5.5, (reps, n))
    b = rng.gamma(2.0, 5.0, (reps, n))
    se_a = a.std(axis=1, ddof=1) / math.sqrt(n)
    se_b = b.std(axis=1, ddof=1) / math.sqrt(n)
    low, high = stats.log_ratio_interval(a.mean(axis=1), se_a, b.mean(axis=1), se_b)
    covered = float(np.mean((low <= 1.1) & (high >= 1.1)))
    assert 0.93 <= covered <= 0.97


def test_delta_lift_interval_is_undefined_without_positive_means() -> None:
    low, high = stats.log_ratio_interval(1.0, 0.1, 0.0, 0.1)
    assert math.isnan(float(low)) and math.isnan(float(high))


def test_zero_split_bootstrap_draws_like_the_naive_bootstrap() -> None:
    # The shortcut must give the distribution of plain resampling: compare both to theory.
    values = np.array([0.0] * 90 + [5.0] * 7 + [40.0] * 3)
    means = stats.bootstrap_means(values, 40_000, np.random.default_rng(3))
    rng = np.random.default_rng(4)
    naive = values[rng.integers(0, values.size, (40_000, values.size))].mean(axis=1)
    sd = values.std(ddof=0) / math.sqrt(values.size)
    for sample in (means, naive):
        assert sample.mean() == pytest.approx(values.mean(), abs=4 * sd / 200)
        assert sample.std() == pytest.approx(sd, rel=0.02)
    # Whole distributions agree too (a resample drawing no non-zero value has mean 0).
    assert sps.ks_2samp(means, naive).pvalue > 0.001
    assert np.mean(means == 0) == pytest.approx(0.9**100, abs=1e-3)


def test_bootstrap_of_values_without_zeros_and_of_all_zeros() -> None:
    values = np.arange(1.0, 11.0)
    means = stats.bootstrap_means(values, 5_000, np.random.default_rng(0))
    assert means.mean() == pytest.approx(5.5, abs=0.05)
    assert means.std() == pytest.approx(values.std() / math.sqrt(10), rel=0.05)
    assert not np.any(stats.bootstrap_means(np.zeros(50), 10, np.random.default_rng(0)))


@pytest.mark.parametrize("zero", [0.0, 0.9])
def test_bootstrap_intervals_match_scipy(zero: float) -> None:
    a, b = _samples(11, 2_000, 2_500, zero)
    rng = np.random.default_rng(12)
    ours = stats.bootstrap_intervals(
        stats.bootstrap_means(a, 4_000, rng), stats.bootstrap_means(b, 4_000, rng)
    )

    def both(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        mx, my = x.mean(axis=axis), y.mean(axis=axis)
        return np.stack([mx - my, mx / my - 1])

    theirs = sps.bootstrap(
        (a, b), both, n_resamples=4_000, method="percentile", rng=np.random.default_rng(13)
    ).confidence_interval
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    # Two Monte-Carlo estimates of a 2.5% quantile: about 0.06 se apart each, so 0.3 se is wide.
    assert ours.lift is not None
    assert float(ours.difference.low) == pytest.approx(theirs.low[0], abs=0.3 * se)
    assert float(ours.difference.high) == pytest.approx(theirs.high[0], abs=0.3 * se)
    lift_se = se / b.mean()
    assert float(ours.lift.low) == pytest.approx(theirs.low[1], abs=0.3 * lift_se)
    assert float(ours.lift.high) == pytest.approx(theirs.high[1], abs=0.3 * lift_se)


def test_bootstrap_lift_is_undefined_when_the_control_can_be_zero() -> None:
    result = stats.bootstrap_intervals(np.array([1.0, 2.0]), np.array([0.0, 1.0]))
    assert result.lift is None


def test_bootstrap_of_64k_revenue_rows_is_fast() -> None:
    rng = np.random.default_rng(5)
    arms = [rng.lognormal(4, 1, 21_333) * (rng.random(21_333) < 0.02) for _ in range(3)]
    started = time.perf_counter()
    draws = np.random.default_rng(0)
    for values in arms:
        stats.bootstrap_means(values, 2_000, draws)
    assert time.perf_counter() - started < 0.5


def test_prob_best_beta_matches_the_closed_form_for_two_arms() -> None:
    # P(p_B > p_A) for Beta posteriors with integer parameters (Evan Miller's formula).
    xa, na, xb, nb = 40, 1_000, 52, 1_000
    aa, ba, ab, bb = 1 + xa, 1 + na - xa, 1 + xb, 1 + nb - xb
    i = np.arange(ab)
    exact = float(
        np.sum(
            np.exp(betaln(aa + i, ba + bb) - np.log(bb + i) - betaln(1 + i, bb) - betaln(aa, ba))
        )
    )
    shares = stats.prob_best_beta([xa, xb], [na, nb])
    assert shares.sum() == pytest.approx(1.0)
    assert shares[1] == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / 100_000))
    assert np.array_equal(shares, stats.prob_best_beta([xa, xb], [na, nb]))


def test_prob_best_normal_matches_numerical_integration_for_three_arms() -> None:
    means, ses = np.array([1.0, 1.3, 1.2]), np.array([0.2, 0.15, 0.25])
    shares = stats.prob_best_normal(means, ses)
    for k in range(3):
        others = [j for j in range(3) if j != k]

        def density(x: float, k: int = k, others: list[int] = others) -> float:
            p = sps.norm.pdf(x, means[k], ses[k])
            for j in others:
                p *= sps.norm.cdf(x, means[j], ses[j])
            return float(p)

        exact = integrate.quad(density, -2.0, 4.0)[0]
        assert shares[k] == pytest.approx(exact, abs=4 * math.sqrt(0.25 / 100_000))


@pytest.mark.parametrize(
    ("counts", "weights"),
    [
        ([21_306, 21_307, 21_387], [1, 1, 1]),
        ([5_100, 4_900], [1, 1]),
        ([900, 100], [9, 1]),
        ([1_000, 1_300], [1, 1]),
        ([480, 260, 260], [2, 1, 1]),
    ],
)
def test_sample_ratio_matches_scipy(counts: list[int], weights: list[float]) -> None:
    result = stats.sample_ratio_test(counts, weights)
    expected = np.array(weights) / sum(weights) * sum(counts)
    statistic, p = sps.chisquare(counts, expected)
    assert result.statistic == pytest.approx(statistic, rel=1e-12)
    assert result.p_value == pytest.approx(p, rel=1e-9, abs=1e-300)
    assert result.mismatch == (p < 0.001)


def test_sample_ratio_flags_a_broken_split() -> None:
    assert stats.sample_ratio_test([1_000, 1_300], [1, 1]).mismatch
    assert not stats.sample_ratio_test([1_000, 1_030], [1, 1]).mismatch


@pytest.mark.parametrize("baseline", [0.005, 0.03, 0.1, 0.5, 0.8])
@pytest.mark.parametrize("mde", [0.001, 0.01, -0.002, 0.05])
@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.8), (0.01, 0.9), (0.1, 0.8)])
def test_sample_size_of_rates_matches_statsmodels(
    baseline: float, mde: float, alpha: float, power: float
) -> None:
    expected = NormalIndPower().solve_power(
        effect_size=proportion_effectsize(baseline + mde, baseline), alpha=alpha, power=power
    )
    assert stats.sample_size(mde, baseline=baseline, alpha=alpha, power=power) == math.ceil(
        expected
    )


@pytest.mark.parametrize(
    ("mde", "sd", "alpha", "power"),
    [(5.0, 50.0, 0.05, 0.8), (0.2, 11.6, 0.05, 0.9), (1.0, 3.0, 0.01, 0.8), (-2.0, 4.0, 0.1, 0.95)],
)
def test_sample_size_of_means_matches_statsmodels(
    mde: float, sd: float, alpha: float, power: float
) -> None:
    expected = NormalIndPower().solve_power(effect_size=mde / sd, alpha=alpha, power=power)
    assert stats.sample_size(mde, sd=sd, alpha=alpha, power=power) == math.ceil(expected)


def test_relative_sample_sizes() -> None:
    assert stats.sample_size(0.2, baseline=0.05, relative=True) == stats.sample_size(
        0.01, baseline=0.05
    )
    assert stats.sample_size(0.1, baseline=20.0, sd=40.0, relative=True) == stats.sample_size(
        2.0, sd=40.0
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mde": 0.0, "baseline": 0.1}, "mde"),
        ({"mde": 0.01, "baseline": 1.2}, "baseline"),
        ({"mde": 0.01}, "baseline"),
        ({"mde": 0.5, "baseline": 0.6}, "outside"),
        ({"mde": 0.01, "baseline": 0.1, "power": 0.01}, "power"),
        ({"mde": 0.01, "baseline": 0.1, "alpha": 1.5}, "alpha"),
        ({"mde": 1.0, "sd": -1.0}, "sd"),
        ({"mde": 0.1, "sd": 1.0, "relative": True}, "baseline"),
    ],
)
def test_sample_size_refuses_bad_input(kwargs: dict[str, float], message: str) -> None:
    mde = kwargs.pop("mde")
    with pytest.raises(ValueError, match=message):
        stats.sample_size(mde, **kwargs)  # type: ignore[arg-type]


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and n"):
        stats.wilson_interval(11, 10)
    with pytest.raises(ValueError, match="n > 0"):
        stats.newcombe_difference(0, 0, 1, 2)
    with pytest.raises(ValueError, match="alpha"):
        stats.wilson_interval(1, 10, alpha=0)
    with pytest.raises(ValueError, match="2 weights"):
        stats.sample_ratio_test([1, 2, 3], [1, 1])


@st.composite
def counts(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, 100_000))
    return draw(st.integers(0, n)), n


@settings(max_examples=200, deadline=None)
@given(counts(), counts(), st.sampled_from([0.01, 0.05, 0.1, 0.3]))
def test_intervals_contain_their_estimates(
    one: tuple[int, int], two: tuple[int, int], alpha: float
) -> None:
    (x1, n1), (x2, n2) = one, two
    p1, p2 = x1 / n1, x2 / n2
    low, high = stats.wilson_interval(x1, n1, alpha)
    assert 0 <= float(low) <= p1 + 1e-12 and p1 - 1e-12 <= float(high) <= 1
    low, high = stats.newcombe_difference(x1, n1, x2, n2, alpha)
    assert -1 <= float(low) <= p1 - p2 + 1e-12 and p1 - p2 - 1e-12 <= float(high) <= 1
    if x1 and x2:
        low, high = stats.katz_ratio(x1, n1, x2, n2, alpha)
        assert float(low) <= p1 / p2 * (1 + 1e-12) and p1 / p2 <= float(high) * (1 + 1e-12)
    p = float(stats.two_proportion_ztest(x1, n1, x2, n2).p_value)
    assert 0 <= p <= 1


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0, 1e4), min_size=2, max_size=40),
    st.lists(st.floats(0, 1e4), min_size=2, max_size=40),
)
@example([0.0, 0.0], [0.0, 4.20888359865369e-161])  # df was 0 / 0: the squares underflowed
def test_welch_interval_contains_the_difference(a: list[float], b: list[float]) -> None:
    x, y = np.array(a), np.array(b)
    welch = stats.welch_test(x.mean(), x.var(ddof=1), x.size, y.mean(), y.var(ddof=1), y.size)
    d = x.mean() - y.mean()
    tolerance = 1e-9 * (1 + abs(d))
    assert float(welch.low) - tolerance <= d <= float(welch.high) + tolerance
    assert 0 <= float(welch.p_value) <= 1


@settings(max_examples=100, deadline=None)
@given(
    st.floats(0.01, 0.9),
    st.floats(0.001, 0.09),
    st.sampled_from([0.01, 0.05]),
    st.sampled_from([0.8, 0.9]),
)
def test_sample_size_grows_as_the_effect_shrinks_and_power_rises(
    baseline: float, mde: float, alpha: float, power: float
) -> None:
    n = stats.sample_size(mde, baseline=baseline, alpha=alpha, power=power)
    assert stats.sample_size(mde / 2, baseline=baseline, alpha=alpha, power=power) >= n
    assert stats.sample_size(mde, baseline=baseline, alpha=alpha, power=0.95) >= n
    assert stats.sample_size(mde, baseline=baseline, alpha=alpha / 2, power=power) >= n
