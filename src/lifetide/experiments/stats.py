"""The statistics of an experiment: intervals, tests, P(best), sample ratio and sample size.

Pure and vectorized: counts, means and variances may be numbers or numpy arrays of the same
shape (one entry per experiment), so a thousand simulated experiments cost one call. Only the
bootstrap takes raw values. Formulas and references are in docs/experiments.md:

- Wilson score interval for a rate (Wilson 1927).
- Newcombe's hybrid score interval for a difference of rates (Newcombe 1998, method 10).
- Katz's log interval for a ratio of rates (Katz et al. 1978); lift = ratio - 1.
- The pooled two-proportion z-test.
- Student's t interval for a mean; Welch's t-test with the Welch-Satterthwaite degrees of
  freedom for a difference of means (Welch 1947); the delta method on the log ratio for the
  relative lift of means.
- The percentile bootstrap for the difference and lift of means (Efron & Tibshirani 1993).
- Monte-Carlo P(best) from Beta(1 + x, 1 + n - x) posteriors, or from normal approximations of
  each arm's mean.
- Pearson's chi-square goodness of fit for sample-ratio mismatch.
- Normal-approximation sample sizes: Cohen's arcsine effect h for rates, d = delta / sd for means.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps
from scipy.optimize import brentq

FloatArray = NDArray[np.float64]

# A sample-ratio p-value under this means assignment is broken, not unlucky: with a check on
# every experiment, 0.001 keeps false alarms rare (Kohavi, Tang & Xu 2020, ch. 21).
SRM_THRESHOLD = 0.001
# Bootstrap draws come in chunks of about this many values: small enough to stay in cache.
_CHUNK_DRAWS = 2**18


class Bounds(NamedTuple):
    """The two ends of an interval (numbers or arrays)."""

    low: FloatArray
    high: FloatArray


class ZTest(NamedTuple):
    """A two-proportion z-test: the statistic and its two-sided p-value."""

    z: FloatArray
    p_value: FloatArray


class WelchTest(NamedTuple):
    """Welch's t-test of a difference of means, with its interval."""

    difference: FloatArray
    se: FloatArray
    df: FloatArray
    t: FloatArray
    p_value: FloatArray
    low: FloatArray
    high: FloatArray


class BootstrapIntervals(NamedTuple):
    """Percentile-bootstrap intervals of a difference and a relative lift of means."""

    difference: Bounds
    lift: Bounds | None


class SampleRatioTest(NamedTuple):
    """Pearson's chi-square test of observed arm sizes against the planned weights."""

    expected: FloatArray
    statistic: float
    p_value: float
    mismatch: bool


def _z(alpha: float) -> float:
    _check_alpha(alpha)
    return float(sps.norm.isf(alpha / 2))


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")


def _counts(successes: ArrayLike, n: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    if np.any(m <= 0):
        raise ValueError("every arm needs at least one recipient (n > 0)")
    if np.any(x < 0) or np.any(x > m):
        raise ValueError("successes must lie between 0 and n")
    return x, m


def wilson_interval(successes: ArrayLike, n: ArrayLike, alpha: float = 0.05) -> Bounds:
    """Wilson's score interval for the rate successes / n."""
    x, m = _counts(successes, n)
    z = _z(alpha)
    p = x / m
    denominator = 1 + z**2 / m
    center = (p + z**2 / (2 * m)) / denominator
    half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / denominator
    # At 0 or n successes an end is exactly 0 or 1; rounding must not push it outside.
    return Bounds(np.clip(center - half, 0.0, 1.0), np.clip(center + half, 0.0, 1.0))


def newcombe_difference(
    successes1: ArrayLike, n1: ArrayLike, successes2: ArrayLike, n2: ArrayLike, alpha: float = 0.05
) -> Bounds:
    """Newcombe's hybrid score interval for the difference of rates p1 - p2 (method 10)."""
    x1, m1 = _counts(successes1, n1)
    x2, m2 = _counts(successes2, n2)
    p1, p2 = x1 / m1, x2 / m2
    low1, high1 = wilson_interval(x1, m1, alpha)
    low2, high2 = wilson_interval(x2, m2, alpha)
    difference = p1 - p2
    low = difference - np.sqrt((p1 - low1) ** 2 + (high2 - p2) ** 2)
    high = difference + np.sqrt((high1 - p1) ** 2 + (p2 - low2) ** 2)
    return Bounds(np.clip(low, -1.0, 1.0), np.clip(high, -1.0, 1.0))


def katz_ratio(
    successes1: ArrayLike, n1: ArrayLike, successes2: ArrayLike, n2: ArrayLike, alpha: float = 0.05
) -> Bounds:
    """Katz's log interval for the ratio of rates p1 / p2; NaN where a count is zero."""
    x1, m1 = _counts(successes1, n1)
    x2, m2 = _counts(successes2, n2)
    z = _z(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log((x1 / m1) / (x2 / m2))
        half = z * np.sqrt(1 / x1 - 1 / m1 + 1 / x2 - 1 / m2)
        defined = (x1 > 0) & (x2 > 0)
        low = np.where(defined, np.exp(log_ratio - half), np.nan)
        high = np.where(defined, np.exp(log_ratio + half), np.nan)
    return Bounds(low, high)


def two_proportion_ztest(
    successes1: ArrayLike, n1: ArrayLike, successes2: ArrayLike, n2: ArrayLike
) -> ZTest:
    """The pooled two-proportion z-test of p1 = p2; p = 1 when neither arm varies."""
    x1, m1 = _counts(successes1, n1)
    x2, m2 = _counts(successes2, n2)
    pooled = (x1 + x2) / (m1 + m2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / m1 + 1 / m2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (x1 / m1 - x2 / m2) / se, 0.0)
    return ZTest(z, 2 * sps.norm.sf(np.abs(z)))


def t_interval(mean: ArrayLike, variance: ArrayLike, n: ArrayLike, alpha: float = 0.05) -> Bounds:
    """Student's t interval for a mean from its sample mean, variance (ddof 1) and size."""
    mu = np.asarray(mean, dtype=np.float64)
    var = np.asarray(variance, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    _check_alpha(alpha)
    if np.any(m < 2):
        raise ValueError("a mean's interval needs at least 2 values per arm")
    half = sps.t.isf(alpha / 2, m - 1) * np.sqrt(var / m)
    return Bounds(mu - half, mu + half)


def welch_test(
    mean1: ArrayLike,
    variance1: ArrayLike,
    n1: ArrayLike,
    mean2: ArrayLike,
    variance2: ArrayLike,
    n2: ArrayLike,
    alpha: float = 0.05,
) -> WelchTest:
    """Welch's t-test of mean1 - mean2 and its Welch-Satterthwaite interval."""
    _check_alpha(alpha)
    mu1, mu2 = np.asarray(mean1, dtype=np.float64), np.asarray(mean2, dtype=np.float64)
    m1, m2 = np.asarray(n1, dtype=np.float64), np.asarray(n2, dtype=np.float64)
    if np.any(m1 < 2) or np.any(m2 < 2):
        raise ValueError("Welch's test needs at least 2 values per arm")
    a = np.asarray(variance1, dtype=np.float64) / m1
    b = np.asarray(variance2, dtype=np.float64) / m2
    difference = mu1 - mu2
    se = np.sqrt(a + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        # (a + b)^2 / (a^2 / (m1 - 1) + b^2 / (m2 - 1)), written in each arm's share of the
        # variance: the squares of tiny variances (1e-161) underflow to 0 / 0 otherwise.
        share1, share2 = a / (a + b), b / (a + b)
        df = 1 / (share1**2 / (m1 - 1) + share2**2 / (m2 - 1))
        t = difference / se
    # Neither arm varies: the difference is known exactly, so it is either 0 or certain.
    constant = se == 0
    df = np.where(constant, m1 + m2 - 2, df)
    t = np.where(constant, np.where(difference == 0, 0.0, np.copysign(np.inf, difference)), t)
    p_value = 2 * sps.t.sf(np.abs(t), df)
    half = sps.t.isf(alpha / 2, df) * se
    return WelchTest(difference, se, df, t, p_value, difference - half, difference + half)


def log_ratio_interval(
    mean1: ArrayLike, se1: ArrayLike, mean2: ArrayLike, se2: ArrayLike, alpha: float = 0.05
) -> Bounds:
    """Delta-method interval of mean1 / mean2 on the log scale; NaN unless both means > 0."""
    mu1, mu2 = np.asarray(mean1, dtype=np.float64), np.asarray(mean2, dtype=np.float64)
    s1, s2 = np.asarray(se1, dtype=np.float64), np.asarray(se2, dtype=np.float64)
    z = _z(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(mu1 / mu2)
        half = z * np.sqrt((s1 / mu1) ** 2 + (s2 / mu2) ** 2)
        defined = (mu1 > 0) & (mu2 > 0)
        low = np.where(defined, np.exp(log_ratio - half), np.nan)
        high = np.where(defined, np.exp(log_ratio + half), np.nan)
    return Bounds(low, high)


def bootstrap_means(values: ArrayLike, resamples: int, rng: np.random.Generator) -> FloatArray:
    """The means of `resamples` resamples (with replacement, same size) of `values`.

    Exact and fast for revenue, which is mostly zeros: the number of non-zero values a resample
    draws is Binomial(n, k/n), and only those need drawing, uniformly from the k non-zero ones.
    """
    data = np.asarray(values, dtype=np.float64).ravel()
    n = data.size
    if n == 0:
        raise ValueError("cannot bootstrap an empty arm")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    nonzero = data[data != 0]
    k = nonzero.size
    if k == 0:
        return np.zeros(resamples)
    drawn = np.full(resamples, n) if k == n else rng.binomial(n, k / n, size=resamples)
    index_type = np.int32 if k < 2**31 else np.int64
    sums = np.zeros(resamples)
    start = 0
    while start < resamples:
        # As many resamples as fit in one cache-sized chunk of draws (at least one).
        cumulative = np.cumsum(drawn[start:])
        stop = start + max(1, int(np.searchsorted(cumulative, _CHUNK_DRAWS, side="right")))
        counts = drawn[start:stop]
        picks = nonzero[rng.integers(0, k, size=int(counts.sum()), dtype=index_type)]
        if k == n:
            sums[start:stop] = picks.reshape(stop - start, n).sum(axis=1)
        else:
            drew = counts > 0
            offsets = (np.cumsum(counts) - counts)[drew]
            if offsets.size:
                sums[start:stop][drew] = np.add.reduceat(picks, offsets)
        start = stop
    return sums / n


def bootstrap_intervals(
    resampled1: FloatArray, resampled2: FloatArray, alpha: float = 0.05
) -> BootstrapIntervals:
    """Percentile intervals of mean1 - mean2 and mean1 / mean2 - 1 from resampled means.

    The lift's interval is None when a resampled mean of arm 2 is not positive (a ratio to
    zero or to a negative mean says nothing).
    """
    _check_alpha(alpha)
    quantiles = [alpha / 2, 1 - alpha / 2]
    low, high = np.quantile(resampled1 - resampled2, quantiles)
    difference = Bounds(np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64))
    if np.any(resampled2 <= 0):
        return BootstrapIntervals(difference, None)
    low, high = np.quantile(resampled1 / resampled2 - 1, quantiles)
    lift = Bounds(np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64))
    return BootstrapIntervals(difference, lift)


def _best_shares(draws: FloatArray) -> FloatArray:
    best = np.argmax(draws, axis=1)
    shares: FloatArray = np.bincount(best, minlength=draws.shape[1]) / draws.shape[0]
    return shares


def prob_best_beta(
    successes: ArrayLike, n: ArrayLike, *, draws: int = 100_000, seed: int = 0
) -> FloatArray:
    """P(each arm has the highest rate) under Beta(1 + x, 1 + n - x) posteriors (Monte Carlo)."""
    x, m = _counts(successes, n)
    rng = np.random.default_rng(seed)
    samples = rng.beta(1 + x, 1 + m - x, size=(draws, x.size))
    return _best_shares(samples)


def prob_best_normal(
    means: ArrayLike, ses: ArrayLike, *, draws: int = 100_000, seed: int = 0
) -> FloatArray:
    """P(each arm has the highest mean), each mean ~ Normal(mean, se^2) (Monte Carlo)."""
    mu = np.asarray(means, dtype=np.float64).ravel()
    se = np.asarray(ses, dtype=np.float64).ravel()
    rng = np.random.default_rng(seed)
    samples = mu + se * rng.standard_normal(size=(draws, mu.size))
    return _best_shares(samples)


def sample_ratio_test(
    counts: ArrayLike, weights: ArrayLike, threshold: float = SRM_THRESHOLD
) -> SampleRatioTest:
    """Pearson's chi-square of arm sizes against planned weights; mismatch when p < threshold."""
    observed = np.asarray(counts, dtype=np.float64).ravel()
    planned = np.asarray(weights, dtype=np.float64).ravel()
    if observed.size != planned.size:
        raise ValueError(f"{observed.size} arm counts but {planned.size} weights")
    if observed.size < 2:
        raise ValueError("a sample-ratio check needs at least 2 arms")
    if np.any(planned <= 0) or not np.all(np.isfinite(planned)):
        raise ValueError("planned weights must be positive numbers")
    if np.any(observed < 0) or observed.sum() == 0:
        raise ValueError("arm counts must be non-negative and not all zero")
    expected = observed.sum() * planned / planned.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    p_value = float(sps.chi2.sf(statistic, observed.size - 1))
    return SampleRatioTest(expected, statistic, p_value, p_value < threshold)


def sample_size(
    mde: float,
    *,
    baseline: float | None = None,
    sd: float | None = None,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Recipients needed in each of two equal arms to detect `mde` with a two-sided test.

    Without `sd`, a conversion rate: `baseline` is the control's rate and the treatment's is
    baseline + mde (or baseline * (1 + mde) when `relative`); the effect is Cohen's
    h = 2 asin(sqrt(p2)) - 2 asin(sqrt(p1)). With `sd`, a mean (e.g. revenue per recipient) of
    that standard deviation: the effect is delta / sd, where delta = mde, or baseline * mde when
    `relative` (then `baseline` is the control's mean). The answer is the least n whose power,
    Phi(e sqrt(n/2) - z_{1-a/2}) + Phi(-e sqrt(n/2) - z_{1-a/2}), reaches `power`.
    """
    _check_alpha(alpha)
    if not alpha < power < 1:
        raise ValueError(f"power must be between alpha ({alpha}) and 1, got {power}")
    if not math.isfinite(mde) or mde == 0:
        raise ValueError(f"mde (the minimum detectable effect) must be non-zero, got {mde}")
    if sd is None:
        if baseline is None or not 0 < baseline < 1:
            raise ValueError(f"baseline must be a rate between 0 and 1, got {baseline}")
        target = baseline * (1 + mde) if relative else baseline + mde
        if not 0 < target < 1:
            raise ValueError(
                f"baseline {baseline} with mde {mde} gives a rate of {target}, outside (0, 1)"
            )
        effect = abs(2 * math.asin(math.sqrt(target)) - 2 * math.asin(math.sqrt(baseline)))
    else:
        if not math.isfinite(sd) or sd <= 0:
            raise ValueError(f"sd must be a positive number, got {sd}")
        if relative and (baseline is None or not math.isfinite(baseline) or baseline == 0):
            raise ValueError("a relative mde on a mean needs the baseline mean (non-zero)")
        effect = abs((baseline or 0.0) * mde if relative else mde) / sd
    z_alpha = _z(alpha)

    def shortfall(n: float) -> float:
        shift = effect * math.sqrt(n / 2)
        reach = float(sps.norm.cdf(shift - z_alpha) + sps.norm.cdf(-shift - z_alpha))
        return reach - power

    # Ignoring the far tail gives a size that is always enough; the exact one is a little less.
    enough = 2 * ((z_alpha + float(sps.norm.ppf(power))) / effect) ** 2
    exact = float(brentq(shortfall, 1e-9, enough, xtol=1e-9))
    return max(1, math.ceil(exact))
