"""An experiment's table to results and verdicts; simulated experiments check the procedure."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from lifetide.experiments import stats
from lifetide.experiments.analysis import (
    analyze,
    analyze_conversion,
    analyze_revenue,
    as_dict,
    outcome_kind,
)
from lifetide.experiments.verdict import MIN_UNPLANNED, decide


def _table(
    seed: int = 0, sizes: tuple[int, int, int] = (3_000, 3_000, 3_000)
) -> dict[str, np.ndarray]:
    """A small three-arm experiment: B converts more and spends more, C is like A."""
    rng = np.random.default_rng(seed)
    arms = np.repeat(np.array(["A", "B", "C"]), sizes)
    rate = np.select([arms == "B"], [0.08], 0.05)
    converted = (rng.random(arms.size) < rate).astype(np.int64)
    spend = converted * rng.lognormal(3.5, 0.8, arms.size)
    order = rng.permutation(arms.size)
    return {"arm": arms[order], "converted": converted[order], "spend": spend[order]}


def test_rates_and_means_per_arm_match_statsmodels() -> None:
    data = _table()
    result = analyze(
        data["arm"], {"converted": data["converted"], "spend": data["spend"]}, control="A"
    )
    assert result.arms == ("A", "B", "C") and result.rows == 9_000
    converted, spend = result.outcomes
    assert (converted.kind, spend.kind) == ("conversion", "revenue")
    for arm in converted.arms:
        values = data["converted"][data["arm"] == arm.arm]
        assert (arm.n, arm.successes) == (values.size, values.sum())
        low, high = proportion_confint(values.sum(), values.size, method="wilson")
        assert (arm.interval.low, arm.interval.high) == pytest.approx((low, high), rel=1e-12)
    for arm in spend.arms:
        values = data["spend"][data["arm"] == arm.arm]
        assert arm.estimate == pytest.approx(values.mean(), rel=1e-12)
        low, high = DescrStatsW(values).tconfint_mean()
        assert (arm.interval.low, arm.interval.high) == pytest.approx((low, high), rel=1e-10)
    b = converted.comparisons[0]
    a_values = data["converted"][data["arm"] == "A"]
    b_values = data["converted"][data["arm"] == "B"]
    low, high = confint_proportions_2indep(
        b_values.sum(), b_values.size, a_values.sum(), a_values.size, method="newcomb"
    )
    assert (b.arm, b.control) == ("B", "A")
    assert (b.difference_interval.low, b.difference_interval.high) == pytest.approx((low, high))
    assert b.verdict.kind == "treatment_wins" and b.verdict.winner == "B"
    welch = CompareMeans(
        DescrStatsW(data["spend"][data["arm"] == "B"]),
        DescrStatsW(data["spend"][data["arm"] == "A"]),
    ).tconfint_diff(usevar="unequal")
    sb = spend.comparisons[0]
    assert (sb.difference_interval.low, sb.difference_interval.high) == pytest.approx(welch)
    assert sb.bootstrap_difference_interval is not None
    assert sb.bootstrap_lift_interval is not None
    assert converted.comparisons[1].verdict.kind == "no_difference"
    assert sum(a.prob_best for a in converted.arms) == pytest.approx(1.0)
    assert max(converted.arms, key=lambda a: a.prob_best).arm == "B"
    assert not result.sample_ratio.mismatch and not result.warnings


def test_arrow_columns_give_the_same_result_as_numpy() -> None:
    data = _table(seed=1)
    outcomes = {"converted": data["converted"], "spend": data["spend"]}
    from_numpy = analyze(data["arm"], outcomes, control="A")
    from_arrow = analyze(
        pa.chunked_array([data["arm"][:100], data["arm"][100:]]),
        {name: pa.array(values) for name, values in outcomes.items()},
        control="A",
    )
    assert from_arrow == from_numpy


def test_the_same_input_gives_the_same_result() -> None:
    data = _table(seed=2)
    outcomes = {"spend": data["spend"]}
    assert analyze(data["arm"], outcomes, control="A") == analyze(
        data["arm"], outcomes, control="A"
    )


def test_outcome_kinds_and_forced_revenue() -> None:
    assert outcome_kind([0, 1, 1, 0]) == "conversion"
    assert outcome_kind([True, False]) == "conversion"
    assert outcome_kind([0, 2.5]) == "revenue"
    data = _table()
    result = analyze(data["arm"], {"converted": data["converted"]}, control="A",
                     revenue=["converted"])  # fmt: skip
    assert result.outcomes[0].kind == "revenue"
    assert result.outcomes[0].arms[0].estimate == pytest.approx(
        data["converted"][data["arm"] == "A"].mean()
    )


def test_sample_ratio_mismatch_is_a_warning() -> None:
    data = _table(sizes=(3_000, 3_300, 3_000))
    result = analyze(data["arm"], {"converted": data["converted"]}, control="A")
    assert result.sample_ratio.mismatch
    assert result.warnings and "sample ratio mismatch" in result.warnings[0]
    planned = analyze(
        data["arm"],
        {"converted": data["converted"]},
        control="A",
        weights={"A": 10, "B": 11, "C": 10},
    )
    assert not planned.sample_ratio.mismatch and not planned.warnings
    assert planned.sample_ratio.weights == (10.0, 11.0, 10.0)


def test_planned_size_holds_the_verdict_until_the_horizon() -> None:
    data = _table()
    early = analyze(data["arm"], {"converted": data["converted"]}, control="A", planned=5_000)
    assert {c.verdict.kind for c in early.outcomes[0].comparisons} == {"not_enough_data"}
    assert early.outcomes[0].comparisons[0].verdict.short == "not enough data"
    done = analyze(data["arm"], {"converted": data["converted"]}, control="A", planned=3_000)
    assert done.outcomes[0].comparisons[0].verdict.short == "B wins"
    assert "finished" not in done.outcomes[0].comparisons[0].verdict.text


@pytest.mark.parametrize(
    ("low", "high", "planned", "kind", "winner"),
    [
        (0.01, 0.03, None, "treatment_wins", "B"),
        (-0.03, -0.01, None, "control_wins", "A"),
        (-0.01, 0.02, None, "no_difference", None),
        (0.01, 0.03, 2_000, "not_enough_data", None),
        (0.01, 0.03, 1_000, "treatment_wins", "B"),
        (-0.01, 0.02, 1_000, "no_difference", None),
        (0.0, 0.02, None, "no_difference", None),
    ],
)
def test_verdicts(
    low: float, high: float, planned: int | None, kind: str, winner: str | None
) -> None:
    verdict = decide(arm="B", control="A", low=low, high=high, n_arm=1_500, n_control=1_200,
                     planned=planned, confidence=0.95)  # fmt: skip
    assert (verdict.kind, verdict.winner) == (kind, winner)
    if kind == "not_enough_data":
        assert "1,500" in verdict.text and "1,200" in verdict.text and "2,000" in verdict.text
    if planned is None:
        assert "no planned size" in verdict.text


@pytest.mark.parametrize(
    ("n_arm", "n_control", "planned", "kind"),
    [
        (137, 4, None, "not_enough_data"),  # the demo's global control group
        (29, 500, None, "not_enough_data"),
        (30, 30, None, "treatment_wins"),
        (10, 10, 10, "treatment_wins"),  # a planned size, reached, is the test's own horizon
    ],
)
def test_a_test_without_a_plan_is_read_only_once_each_arm_has_thirty(
    n_arm: int, n_control: int, planned: int | None, kind: str
) -> None:
    verdict = decide(arm="B", control="A", low=0.01, high=0.03, n_arm=n_arm,
                     n_control=n_control, planned=planned, confidence=0.95)  # fmt: skip
    assert verdict.kind == kind
    if kind == "not_enough_data":
        assert f"B has {n_arm}" in verdict.text and f"A {n_control}" in verdict.text
        assert f"at least {MIN_UNPLANNED}" in verdict.text


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: analyze(d["arm"], {"converted": d["converted"]}, control="Z"), "'Z' is not"),
        (lambda d: analyze(d["arm"], {}, control="A"), "at least one outcome"),
        (lambda d: analyze(np.array(["A"] * 9_000), {"c": d["converted"]}, control="A"),
         "at least 2 arms"),
        (lambda d: analyze(d["arm"], {"c": d["converted"][:10]}, control="A"), "10 values"),
        (lambda d: analyze(d["arm"], {"c": d["converted"]}, control="A", revenue=["x"]),
         "revenue names"),
        (lambda d: analyze(d["arm"], {"c": d["converted"]}, control="A", weights={"A": 1}),
         "missing 'B', 'C'"),
        (lambda d: analyze(d["arm"], {"c": d["converted"]}, control="A",
                           weights={"A": 1, "B": 1, "C": 1, "D": 1}), "not in the data 'D'"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_its_reason(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(_table())  # type: ignore[operator]


def test_missing_values_are_refused_with_the_first_row() -> None:
    arms = pa.array(["A", "B", None, "A", None])
    with pytest.raises(ValueError, match=r"missing on 2 rows \(first at row 3\)"):
        analyze(arms, {"c": [0, 1, 0, 1, 0]}, control="A")
    with pytest.raises(ValueError, match=r"'spend' is missing .* on 1 rows \(first at row 2\)"):
        analyze(["A", "B", "A", "B"], {"spend": pa.array([1.0, None, 2.0, 3.0])}, control="A")
    with pytest.raises(ValueError, match="'c' is not numeric"):
        analyze(["A", "B"], {"c": pa.array(["x", "y"])}, control="A")
    with pytest.raises(ValueError, match="has 1 values; a mean needs 2"):
        analyze_revenue("spend", {"A": [1.0, 2.0], "B": [3.0]}, control="A")


def test_zero_conversions_make_the_lift_undefined_not_an_error() -> None:
    result = analyze_conversion("c", {"A": (0, 500), "B": (4, 500)}, control="A")
    comparison = result.comparisons[0]
    assert comparison.lift is None and comparison.lift_interval is None
    assert comparison.difference_interval.contains(comparison.difference)
    text = json.dumps(as_dict(analyze(["A", "B"] * 50, {"c": [0, 1] * 50}, control="A")),
                      allow_nan=False)  # fmt: skip
    assert '"kind": "conversion"' in text


def _verdict_kinds(low: np.ndarray, high: np.ndarray, n: int) -> list[str]:
    return [
        decide(arm="B", control="A", low=float(lo), high=float(hi), n_arm=n, n_control=n,
               planned=n, confidence=0.95).kind
        for lo, hi in zip(low, high, strict=True)
    ]  # fmt: skip


def test_a_planned_conversion_test_finds_the_effect_at_its_planned_power() -> None:
    n = stats.sample_size(0.02, baseline=0.10, power=0.8)
    rng = np.random.default_rng(20)
    reps = 1_000
    control = rng.binomial(n, 0.10, reps)
    treated = rng.binomial(n, 0.12, reps)
    low, high = stats.newcombe_difference(treated, n, control, n)
    kinds = _verdict_kinds(low, high, n)
    detected = kinds.count("treatment_wins") / reps
    # 1,000 runs: the standard error of the rate is 0.013.
    assert 0.76 <= detected <= 0.84
    assert kinds.count("control_wins") == 0


def _revenue_moments(buyers: float, mu: float, sigma: float) -> tuple[float, float]:
    """Mean and variance of revenue per recipient: a share buys, order values log-normal."""
    mean = buyers * math.exp(mu + sigma**2 / 2)
    return mean, buyers * math.exp(2 * mu + 2 * sigma**2) - mean**2


def test_a_planned_revenue_test_finds_the_effect_at_its_planned_power() -> None:
    # 10% of A's recipients buy and 13% of B's; the plan uses the arms' true variances.
    (mean_a, var_a), (mean_b, var_b) = (_revenue_moments(q, 3.0, 0.9) for q in (0.10, 0.13))
    n = stats.sample_size(mean_b - mean_a, sd=math.sqrt((var_a + var_b) / 2))
    rng = np.random.default_rng(21)
    reps = 400
    a = (rng.random((reps, n)) < 0.10) * rng.lognormal(3.0, 0.9, (reps, n))
    b = (rng.random((reps, n)) < 0.13) * rng.lognormal(3.0, 0.9, (reps, n))
    welch = stats.welch_test(
        b.mean(axis=1), b.var(axis=1, ddof=1), n, a.mean(axis=1), a.var(axis=1, ddof=1), n
    )
    detected = _verdict_kinds(welch.low, welch.high, n).count("treatment_wins") / reps
    # 400 runs: the standard error is 0.02.
    assert 0.74 <= detected <= 0.86


def test_an_aa_conversion_test_says_no_difference_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(22)
    reps, n = 4_000, 2_000
    a, b = rng.binomial(n, 0.05, reps), rng.binomial(n, 0.05, reps)
    low, high = stats.newcombe_difference(b, n, a, n)
    share = _verdict_kinds(low, high, n).count("no_difference") / reps
    assert 0.93 <= share <= 0.97


def test_an_aa_revenue_test_says_no_difference_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(23)
    reps, n = 2_000, 1_500
    a = (rng.random((reps, n)) < 0.05) * rng.lognormal(3.0, 1.0, (reps, n))
    b = (rng.random((reps, n)) < 0.05) * rng.lognormal(3.0, 1.0, (reps, n))
    welch = stats.welch_test(
        b.mean(axis=1), b.var(axis=1, ddof=1), n, a.mean(axis=1), a.var(axis=1, ddof=1), n
    )
    share = _verdict_kinds(welch.low, welch.high, n).count("no_difference") / reps
    assert 0.93 <= share <= 0.97


def test_the_whole_analysis_of_an_aa_test_finds_no_winner() -> None:
    # Through `analyze`, bootstrap included: identical arms, 30 tables.
    rng = np.random.default_rng(24)
    wins = 0
    for _ in range(30):
        arms = np.repeat(["A", "B"], 1_000)
        spend = (rng.random(2_000) < 0.1) * rng.lognormal(3.0, 1.0, 2_000)
        result = analyze(arms, {"spend": spend}, control="A", resamples=500)
        comparison = result.outcomes[0].comparisons[0]
        assert comparison.bootstrap_difference_interval is not None
        wins += comparison.verdict.kind != "no_difference"
        assert math.isfinite(comparison.p_value)
    # 30 runs at 5%: more than 6 false winners has probability below 0.001.
    assert wins <= 6


def test_the_summary_path_gives_what_the_values_give_without_the_bootstrap() -> None:
    from lifetide.experiments.analysis import analyze_revenue_summary

    rng = np.random.default_rng(3)
    values = {"control": rng.exponential(10, 500), "B": rng.exponential(11, 700)}
    full = analyze_revenue("spend", values, control="control", resamples=200)
    summaries = {a: (v.size, float(v.mean()), float(v.var(ddof=1))) for a, v in values.items()}
    short = analyze_revenue_summary("spend", summaries, control="control")
    assert short.arms == full.arms
    (b,), (a,) = short.comparisons, full.comparisons
    assert (b.difference, b.difference_interval, b.lift, b.lift_interval, b.p_value, b.verdict) == (
        a.difference,
        a.difference_interval,
        a.lift,
        a.lift_interval,
        a.p_value,
        a.verdict,
    )
    assert b.bootstrap_difference_interval is None and "bootstrap" not in short.methods


@pytest.mark.parametrize(
    ("summaries", "message"),
    [
        ({"control": (1, 1.0, 0.0), "B": (5, 1.0, 1.0)}, "has 1 values"),
        ({"control": (5, float("nan"), 1.0), "B": (5, 1.0, 1.0)}, "mean nan"),
        ({"control": (5, 1.0, -1.0), "B": (5, 1.0, 1.0)}, "variance -1.0"),
    ],
)
def test_a_summary_that_cannot_be_analysed_is_refused_by_arm(
    summaries: dict[str, tuple[int, float, float]], message: str
) -> None:
    from lifetide.experiments.analysis import analyze_revenue_summary

    with pytest.raises(ValueError, match=message):
        analyze_revenue_summary("spend", summaries, control="control")
