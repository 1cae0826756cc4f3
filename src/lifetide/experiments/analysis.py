"""The analysis of an experiment: per-arm estimates, comparisons with the control, verdicts.

Pure: it takes arrays (one arm label and one value per outcome for each recipient) or per-arm
counts and values, and returns frozen dataclasses. Binary outcomes (every value 0 or 1) are
rates; other outcomes, and those named as revenue, are means per recipient. The methods are in
`lifetide.experiments.stats` and docs/experiments.md.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

from lifetide.experiments import stats
from lifetide.experiments.verdict import Verdict, decide

OutcomeKind = Literal["conversion", "revenue"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

CONVERSION_METHODS = {
    "estimate": "rate, Wilson score interval",
    "difference": "Newcombe hybrid score interval",
    "lift": "Katz log interval of the ratio",
    "p_value": "pooled two-proportion z-test",
    "prob_best": "Beta(1 + x, 1 + n - x) posteriors, Monte Carlo",
}
REVENUE_METHODS = {
    "estimate": "mean per recipient, Student t interval",
    "difference": "Welch-Satterthwaite interval",
    "lift": "delta method on the log ratio",
    "p_value": "Welch's t-test",
    "prob_best": "normal approximation of each mean, Monte Carlo",
    "bootstrap": "percentile bootstrap",
}


@dataclass(frozen=True)
class Interval:
    """A confidence interval."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Whether `value` lies in the interval (ends included)."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class ArmResult:
    """One arm on one outcome: its size, rate or mean with interval, and P(best)."""

    arm: str
    n: int
    estimate: float
    interval: Interval
    prob_best: float
    successes: int | None = None
    sd: float | None = None


@dataclass(frozen=True)
class Comparison:
    """One arm against the control on one outcome (differences are arm minus control)."""

    arm: str
    control: str
    difference: float
    difference_interval: Interval
    lift: float | None
    lift_interval: Interval | None
    p_value: float
    verdict: Verdict
    bootstrap_difference_interval: Interval | None = None
    bootstrap_lift_interval: Interval | None = None


@dataclass(frozen=True)
class OutcomeResult:
    """Every arm and every comparison on one outcome, with the methods used."""

    name: str
    kind: OutcomeKind
    methods: Mapping[str, str]
    arms: tuple[ArmResult, ...]
    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True)
class SampleRatio:
    """Arm sizes against the planned weights (chi-square goodness of fit)."""

    arms: tuple[str, ...]
    counts: tuple[int, ...]
    weights: tuple[float, ...]
    expected: tuple[float, ...]
    statistic: float
    p_value: float
    mismatch: bool


@dataclass(frozen=True)
class ExperimentResult:
    """The whole analysis: arms (control first), sample ratio, outcomes and warnings."""

    control: str
    arms: tuple[str, ...]
    rows: int
    alpha: float
    planned: int | None
    sample_ratio: SampleRatio
    outcomes: tuple[OutcomeResult, ...]
    warnings: tuple[str, ...]


def outcome_kind(values: ArrayLike) -> OutcomeKind:
    """The kind of an outcome: a rate ("conversion") when every value is 0 or 1, else a mean."""
    data = np.asarray(values, dtype=np.float64)
    return "conversion" if bool(np.all((data == 0) | (data == 1))) else "revenue"


def _ordered(arms: Collection[str], control: str) -> list[str]:
    if control not in arms:
        known = ", ".join(repr(a) for a in sorted(arms))
        raise ValueError(f"control arm {control!r} is not among the arms ({known})")
    if len(arms) < 2:
        raise ValueError(f"an experiment needs at least 2 arms, got only {control!r}")
    return [control, *sorted(a for a in arms if a != control)]


def _interval(bounds: stats.Bounds) -> Interval:
    return Interval(float(bounds.low), float(bounds.high))


def _optional(bounds: stats.Bounds | None, shift: float = 0.0) -> Interval | None:
    if bounds is None or math.isnan(float(bounds.low)) or math.isnan(float(bounds.high)):
        return None
    return Interval(float(bounds.low) + shift, float(bounds.high) + shift)


def analyze_conversion(
    name: str,
    counts: Mapping[str, tuple[int, int]],
    *,
    control: str,
    alpha: float = 0.05,
    planned: int | None = None,
    seed: int = 0,
) -> OutcomeResult:
    """A rate outcome from each arm's (successes, recipients)."""
    order = _ordered(counts, control)
    for arm in order:
        successes, size = counts[arm]
        if size < 1 or not 0 <= successes <= size:
            raise ValueError(f"{name}: arm {arm!r} has {successes} successes of {size} recipients")
    x = np.array([counts[a][0] for a in order], dtype=np.float64)
    n = np.array([counts[a][1] for a in order], dtype=np.float64)
    rates = x / n
    wilson = stats.wilson_interval(x, n, alpha)
    best = stats.prob_best_beta(x, n, seed=seed)
    arms = tuple(
        ArmResult(
            arm,
            int(n[i]),
            float(rates[i]),
            Interval(float(wilson.low[i]), float(wilson.high[i])),
            float(best[i]),
            successes=int(x[i]),
        )
        for i, arm in enumerate(order)
    )
    comparisons = []
    for i, arm in enumerate(order[1:], start=1):
        difference = stats.newcombe_difference(x[i], n[i], x[0], n[0], alpha)
        ratio = stats.katz_ratio(x[i], n[i], x[0], n[0], alpha)
        test = stats.two_proportion_ztest(x[i], n[i], x[0], n[0])
        comparisons.append(
            Comparison(
                arm,
                control,
                float(rates[i] - rates[0]),
                _interval(difference),
                float(rates[i] / rates[0] - 1) if x[0] > 0 else None,
                _optional(ratio, shift=-1.0),
                float(test.p_value),
                decide(
                    arm=arm,
                    control=control,
                    low=float(difference.low),
                    high=float(difference.high),
                    n_arm=int(n[i]),
                    n_control=int(n[0]),
                    planned=planned,
                    confidence=1 - alpha,
                ),
            )
        )
    return OutcomeResult(name, "conversion", CONVERSION_METHODS, arms, tuple(comparisons))


def analyze_revenue(
    name: str,
    values: Mapping[str, ArrayLike],
    *,
    control: str,
    alpha: float = 0.05,
    planned: int | None = None,
    resamples: int = 2_000,
    seed: int = 0,
) -> OutcomeResult:
    """A mean-per-recipient outcome (revenue, heavy tailed) from each arm's values."""
    order = _ordered(values, control)
    data = {arm: np.asarray(values[arm], dtype=np.float64).ravel() for arm in order}
    for arm, column in data.items():
        if column.size < 2:
            raise ValueError(f"{name}: arm {arm!r} has {column.size} values; a mean needs 2")
        if not np.all(np.isfinite(column)):
            raise ValueError(f"{name}: arm {arm!r} has missing or infinite values")
    summaries = {
        a: (int(data[a].size), float(data[a].mean()), float(data[a].var(ddof=1))) for a in order
    }
    rng = np.random.default_rng(seed)
    resampled = [stats.bootstrap_means(data[a], resamples, rng) for a in order]
    return _revenue(name, summaries, order, control, alpha, planned, seed, resampled)


def analyze_revenue_summary(
    name: str,
    summaries: Mapping[str, tuple[int, float, float]],
    *,
    control: str,
    alpha: float = 0.05,
    planned: int | None = None,
    seed: int = 0,
) -> OutcomeResult:
    """A mean-per-recipient outcome from each arm's (size, mean, variance with ddof 1).

    For arms too large to bring back value by value (a warehouse sums them): the same
    intervals and tests as `analyze_revenue`, without the bootstrap.
    """
    order = _ordered(summaries, control)
    for arm in order:
        size, mean, variance = summaries[arm]
        if size < 2:
            raise ValueError(f"{name}: arm {arm!r} has {size} values; a mean needs 2")
        if not (math.isfinite(mean) and math.isfinite(variance)) or variance < 0:
            raise ValueError(f"{name}: arm {arm!r} has mean {mean} and variance {variance}")
    return _revenue(name, summaries, order, control, alpha, planned, seed, None)


def _revenue(
    name: str,
    summaries: Mapping[str, tuple[int, float, float]],
    order: list[str],
    control: str,
    alpha: float,
    planned: int | None,
    seed: int,
    resampled: list[FloatArray] | None,
) -> OutcomeResult:
    n = np.array([summaries[a][0] for a in order], dtype=np.float64)
    means = np.array([summaries[a][1] for a in order], dtype=np.float64)
    variances = np.array([summaries[a][2] for a in order], dtype=np.float64)
    ses = np.sqrt(variances / n)
    intervals = stats.t_interval(means, variances, n, alpha)
    best = stats.prob_best_normal(means, ses, seed=seed)
    arms = tuple(
        ArmResult(
            arm,
            int(n[i]),
            float(means[i]),
            Interval(float(intervals.low[i]), float(intervals.high[i])),
            float(best[i]),
            sd=float(math.sqrt(variances[i])),
        )
        for i, arm in enumerate(order)
    )
    comparisons = []
    for i, arm in enumerate(order[1:], start=1):
        welch = stats.welch_test(means[i], variances[i], n[i], means[0], variances[0], n[0], alpha)
        ratio = stats.log_ratio_interval(means[i], ses[i], means[0], ses[0], alpha)
        boot = (
            stats.bootstrap_intervals(resampled[i], resampled[0], alpha)
            if resampled is not None
            else None
        )
        comparisons.append(
            Comparison(
                arm,
                control,
                float(welch.difference),
                Interval(float(welch.low), float(welch.high)),
                float(means[i] / means[0] - 1) if means[0] > 0 else None,
                _optional(ratio, shift=-1.0),
                float(welch.p_value),
                decide(
                    arm=arm,
                    control=control,
                    low=float(welch.low),
                    high=float(welch.high),
                    n_arm=int(n[i]),
                    n_control=int(n[0]),
                    planned=planned,
                    confidence=1 - alpha,
                ),
                bootstrap_difference_interval=None if boot is None else _interval(boot.difference),
                bootstrap_lift_interval=None if boot is None else _optional(boot.lift),
            )
        )
    methods = (
        REVENUE_METHODS
        if resampled is not None
        else {k: v for k, v in REVENUE_METHODS.items() if k != "bootstrap"}
    )
    return OutcomeResult(name, "revenue", methods, arms, tuple(comparisons))


def sample_ratio(counts: Mapping[str, int], weights: Mapping[str, float] | None) -> SampleRatio:
    """The sample-ratio check of arm sizes (in the order given) against planned weights."""
    order = tuple(counts)
    if weights is None:
        planned = {arm: 1.0 for arm in order}
    else:
        missing = [a for a in order if a not in weights]
        unknown = [a for a in weights if a not in counts]
        if missing or unknown:
            raise ValueError(
                "weights must name exactly the arms in the data: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(map(repr, missing))}" if missing else "",
                        f"not in the data {', '.join(map(repr, unknown))}" if unknown else "",
                    )
                    if part
                )
            )
        planned = dict(weights)
    test = stats.sample_ratio_test([counts[a] for a in order], [planned[a] for a in order])
    return SampleRatio(
        order,
        tuple(int(counts[a]) for a in order),
        tuple(float(planned[a]) for a in order),
        tuple(float(e) for e in test.expected),
        test.statistic,
        test.p_value,
        test.mismatch,
    )


def _first_missing(missing: np.ndarray[Any, np.dtype[np.bool_]]) -> str:
    rows = np.flatnonzero(missing)
    return f"{rows.size:,} rows (first at row {rows[0] + 1:,})"


def _groups(arms: ArrayLike | pa.Array | pa.ChunkedArray) -> tuple[list[str], IntArray]:
    """The distinct arm labels and each row's index into them."""
    if isinstance(arms, pa.ChunkedArray):
        arms = arms.combine_chunks()
    if isinstance(arms, pa.Array):
        # Arrow's own encoding: converting strings to numpy would load pandas, slowly.
        if arms.null_count:
            missing = arms.is_null().to_numpy(zero_copy_only=False)
            raise ValueError(f"the arm is missing on {_first_missing(missing)}")
        encoded = arms if pa.types.is_dictionary(arms.type) else arms.dictionary_encode()
        names = [str(v) for v in encoded.dictionary.to_pylist()]
        return names, encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    raw = np.asarray(arms, dtype=object).ravel()
    missing = np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in raw])
    if missing.any():
        raise ValueError(f"the arm is missing on {_first_missing(missing)}")
    unique, inverse = np.unique(raw.astype(str), return_inverse=True)
    return [str(u) for u in unique], inverse.astype(np.int64)


def _floats(name: str, column: ArrayLike | pa.Array | pa.ChunkedArray) -> FloatArray:
    """An outcome column as floats, refusing missing and non-numeric values."""
    if isinstance(column, pa.ChunkedArray | pa.Array):
        kind = column.type
        if not (
            pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_decimal(kind)
        ):
            raise ValueError(f"outcome {name!r} is not numeric (its type is {kind})")
        column = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    try:
        values = np.asarray(column, dtype=np.float64).ravel()
    except (TypeError, ValueError) as err:
        raise ValueError(f"outcome {name!r} is not numeric: {err}") from None
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"outcome {name!r} is missing or not finite on {_first_missing(bad)}")
    return values


def analyze(
    arms: ArrayLike | pa.Array | pa.ChunkedArray,
    outcomes: Mapping[str, ArrayLike | pa.Array | pa.ChunkedArray],
    *,
    control: str,
    revenue: Collection[str] = (),
    weights: Mapping[str, float] | None = None,
    planned: int | None = None,
    alpha: float = 0.05,
    resamples: int = 2_000,
    seed: int = 0,
) -> ExperimentResult:
    """Analyze an experiment table: one arm label and one value per outcome for each recipient.

    Outcomes in `revenue`, and outcomes that are not all 0/1, are analyzed as means; the rest
    as rates. `weights` are the planned allocation (equal when None); `planned` is the planned
    number of recipients per arm, the fixed horizon of the verdicts.
    """
    names, inverse = _groups(arms)
    if not outcomes:
        raise ValueError("name at least one outcome to analyze")
    unknown = [r for r in revenue if r not in outcomes]
    if unknown:
        raise ValueError(f"revenue names outcomes that are not analyzed: {', '.join(unknown)}")
    order = _ordered(names, control)
    members = {arm: inverse == names.index(arm) for arm in order}
    results = []
    for name, column in outcomes.items():
        values = _floats(name, column)
        if values.size != inverse.size:
            raise ValueError(
                f"outcome {name!r} has {values.size:,} values for {inverse.size:,} rows"
            )
        per_arm = {arm: values[members[arm]] for arm in order}
        if name not in revenue and outcome_kind(values) == "conversion":
            counts = {arm: (int(v.sum()), int(v.size)) for arm, v in per_arm.items()}
            results.append(
                analyze_conversion(
                    name, counts, control=control, alpha=alpha, planned=planned, seed=seed
                )
            )
        else:
            results.append(
                analyze_revenue(
                    name,
                    per_arm,
                    control=control,
                    alpha=alpha,
                    planned=planned,
                    resamples=resamples,
                    seed=seed,
                )
            )
    ratio = sample_ratio({arm: int(members[arm].sum()) for arm in order}, weights)
    warnings = []
    if ratio.mismatch:
        sizes = ", ".join(f"{a} {c:,}" for a, c in zip(ratio.arms, ratio.counts, strict=True))
        warnings.append(
            f"sample ratio mismatch: arm sizes ({sizes}) are unlikely under the planned weights "
            f"(chi-square p = {ratio.p_value:.2g} < {stats.SRM_THRESHOLD}); assignment or "
            "logging looks broken, so do not trust these results until it is explained"
        )
    return ExperimentResult(
        control,
        tuple(order),
        int(inverse.size),
        alpha,
        planned,
        ratio,
        tuple(results),
        tuple(warnings),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def as_dict(result: ExperimentResult) -> dict[str, Any]:
    """The result as plain JSON-ready data (non-finite numbers become None)."""
    plain: dict[str, Any] = _plain(asdict(result))
    return plain
