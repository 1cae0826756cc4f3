"""Incremental revenue against a holdout: sums in the warehouse, Welch checked against scipy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as sps

from lifetide.experiments.holdouts import HELD_OUT, TREATED
from lifetide.measure.lift import ArmRevenue, arm_revenue, lift, summaries, summarize
from lifetide.measure.queries import Period

T0 = dt.datetime(2026, 11, 1)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def _exposures(rows: list[tuple[str, int, str, dt.datetime]]) -> Any:
    names = ["experiment", "profile_id", "arm", "first_at"]
    return ibis.memtable(
        pa.table(
            dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)),
            schema=pa.schema(
                [("experiment", pa.string()), ("profile_id", pa.int64()),
                 ("arm", pa.string()), ("first_at", pa.timestamp("us"))]
            ),
        )
    )  # fmt: skip


def _orders(rows: list[tuple[int, dt.datetime, float]]) -> Any:
    schema = pa.schema(
        [("profile_id", pa.int64()), ("ordered_at", pa.timestamp("us")), ("revenue", pa.float64())]
    )
    columns = list(map(list, zip(*rows, strict=True))) if rows else [[], [], []]
    return ibis.memtable(pa.table(dict(zip(schema.names, columns, strict=True)), schema=schema))


def _arms(con: Any, exposures: Any, orders: Any, start: dt.datetime, end: dt.datetime) -> dict:
    rows = con.to_pyarrow(arm_revenue(exposures, orders, "x", [Period(start, end)])).to_pylist()
    return {r.pop("arm"): {k.removesuffix("_0"): v for k, v in r.items()} for r in rows}


def test_revenue_counts_from_the_first_exposure_within_the_period(con: Any) -> None:
    exposures = _exposures(
        [
            ("x", 1, TREATED, T0 + 2 * DAY),
            ("x", 2, TREATED, T0),
            ("x", 3, HELD_OUT, T0),
            ("x", 4, HELD_OUT, T0 + 40 * DAY),  # exposed after the period: not counted
            ("y", 5, TREATED, T0),  # another experiment
        ]
    )
    orders = _orders(
        [
            (1, T0 + DAY, 100.0),  # before her exposure
            (1, T0 + 3 * DAY, 30.0),
            (1, T0 + 4 * DAY, 20.0),
            (2, T0 + 31 * DAY, 70.0),  # after the period
            (3, T0 + 5 * DAY, 10.0),
            (5, T0 + 5 * DAY, 999.0),
        ]
    )
    assert _arms(con, exposures, orders, T0, T0 + 30 * DAY) == {
        TREATED: {"customers": 2, "buyers": 1, "revenue": 50.0, "squares": 2500.0},
        HELD_OUT: {"customers": 1, "buyers": 1, "revenue": 10.0, "squares": 100.0},
    }


def test_an_arm_summary_is_its_mean_and_sample_variance() -> None:
    values = np.array([0.0, 0.0, 12.5, 80.0, 0.0, 3.25])
    got = summarize(len(values), 3, values.sum(), (values**2).sum())
    assert got.mean == pytest.approx(values.mean())
    assert got.variance == pytest.approx(values.var(ddof=1))
    assert summarize(0, 0, 0.0, 0.0) == ArmRevenue(0, 0, 0.0, 0.0, 0.0)


def _summary(values: np.ndarray) -> ArmRevenue:
    return summarize(len(values), int((values > 0).sum()), values.sum(), (values**2).sum())


def test_the_lift_is_welchs_as_scipy_computes_it() -> None:
    rng = np.random.default_rng(7)
    # Heavy tailed: most customers buy nothing, buyers' spend is log-normal.
    treated = rng.lognormal(3.5, 1.0, 4000) * (rng.random(4000) < 0.12)
    holdout = rng.lognormal(3.5, 1.0, 600) * (rng.random(600) < 0.10)
    arms = {TREATED: _summary(treated), HELD_OUT: _summary(holdout)}
    got = lift(arms)
    reference = sps.ttest_ind(treated, holdout, equal_var=False)
    interval = reference.confidence_interval(0.95)
    assert got.difference == pytest.approx(treated.mean() - holdout.mean())
    assert (got.low, got.high) == (
        pytest.approx(interval.low, rel=1e-6),
        pytest.approx(interval.high, rel=1e-6),
    )
    assert got.relative == pytest.approx((treated.mean() - holdout.mean()) / holdout.mean())
    assert got.incremental == pytest.approx((treated.mean() - holdout.mean()) * 4000)
    assert got.incremental_low == pytest.approx(interval.low * 4000, rel=1e-6)


def test_a_known_lift_is_covered_by_its_interval_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    runs = 200
    for _ in range(runs):
        treated = rng.exponential(12.0, 3000)
        holdout = rng.exponential(10.0, 500)
        arms = {
            TREATED: summarize(3000, 3000, treated.sum(), (treated**2).sum()),
            HELD_OUT: summarize(500, 500, holdout.sum(), (holdout**2).sum()),
        }
        got = lift(arms)
        assert got.low is not None and got.high is not None
        covered += got.low <= 2.0 <= got.high
    assert 0.91 <= covered / runs <= 0.99


def test_no_interval_without_two_customers_in_each_arm() -> None:
    got = lift({TREATED: summarize(10, 2, 50.0, 900.0)})
    assert got.difference is None and got.incremental is None
    assert got.holdout.customers == 0


def test_periods_read_together_equal_each_read_alone(con: Any) -> None:
    exposures = _exposures(
        [("x", p, TREATED if p % 3 else HELD_OUT, T0 + (p % 50) * DAY) for p in range(1, 60)]
    )
    orders = _orders([(p % 59 + 1, T0 + (p % 60) * DAY + HOUR, float(p)) for p in range(200)])
    periods = [Period(T0 + 30 * DAY, T0 + 60 * DAY), Period(T0, T0 + 30 * DAY)]
    together = con.to_pyarrow(arm_revenue(exposures, orders, "x", periods)).to_pylist()
    for i, period in enumerate(periods):
        alone = _arms(con, exposures, orders, period.start, period.end)
        assert summaries(together, i) == summaries(
            [{"arm": arm} | {f"{k}_0": v for k, v in r.items()} for arm, r in alone.items()]
        )
