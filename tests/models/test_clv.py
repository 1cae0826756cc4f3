"""Customer lifetime value: the formula by hand, its limits, lifetimes on CDNOW, bad input."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from numpy.typing import ArrayLike

from lifetide.models import BGNBD, GammaGamma, ParetoNBD, summarize_transactions
from lifetide.models.clv import (
    DAYS_PER_MONTH,
    customer_lifetime_value,
    expected_purchases,
    expected_spend,
)
from lifetide.models.fitting import FloatArray

# The CDNOW fits (Fader, Hardie & Lee 2005), weeks and dollars.
BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def bgnbd(params: dict[str, float] = BG) -> BGNBD:
    model = BGNBD()
    model.params_ = dict(params)
    return model


def pareto() -> ParetoNBD:
    model = ParetoNBD()
    model.params_ = dict(PARETO)
    return model


def gamma_gamma(params: dict[str, float] = GG) -> GammaGamma:
    model = GammaGamma()
    model.params_ = dict(params)
    return model


def histories(n: int, seed: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(x, t_x, big_t, m_x) in weeks on a daily grid, m_x NaN without repeat purchases."""
    rng = np.random.default_rng(seed)
    x = rng.poisson(1.0, n).astype(float)
    big_t = np.floor(rng.uniform(7, 400, n)) / 7
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, n) * big_t * 7) / 7, 0.0)
    m = np.where(x > 0, rng.gamma(4.0, 10.0, n), np.nan)
    return x, t_x, big_t, m


class RowByRow:
    """A purchase model without probability_alive: the CLV code must evaluate it row by row."""

    def __init__(self, model: BGNBD | ParetoNBD) -> None:
        self.model = model

    def conditional_expected_purchases(
        self,
        t: ArrayLike,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
    ) -> FloatArray:
        return self.model.conditional_expected_purchases(t, frequency, recency, T)


class NotFactoring(RowByRow):
    """Has probability_alive, but its expectation is not P(alive) times a function of (x, T)."""

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Any:  # noqa: N803
        return self.model.probability_alive(frequency, recency, T)

    def conditional_expected_purchases(
        self,
        t: ArrayLike,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
    ) -> FloatArray:
        base = self.model.conditional_expected_purchases(t, frequency, recency, T)
        return base * (1 + np.asarray(recency, dtype=float) / 100)


def by_hand(
    model: Any,
    spend: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    big_t: FloatArray,
    months: int,
    annual: float,
    unit_days: float,
) -> FloatArray:
    """The CLV sum written out: one customer, one month at a time."""
    monthly = (1 + annual) ** (1 / 12) - 1
    step = 365.25 / 12 / unit_days
    out = np.zeros(len(x))
    for i in range(len(x)):
        for m in range(1, months + 1):
            now = model.conditional_expected_purchases(
                m * step, x[i : i + 1], t_x[i : i + 1], big_t[i : i + 1]
            )
            before = (
                model.conditional_expected_purchases(
                    (m - 1) * step, x[i : i + 1], t_x[i : i + 1], big_t[i : i + 1]
                )
                if m > 1
                else np.zeros(1)
            )
            out[i] += float((now - before)[0]) * spend[i] / (1 + monthly) ** m
    return out


@pytest.mark.parametrize("model", [bgnbd(), pareto()], ids=["bgnbd", "pareto_nbd"])
def test_matches_the_sum_written_out(model: BGNBD | ParetoNBD) -> None:
    x, t_x, big_t, m = histories(25, seed=1)
    spend = expected_spend(gamma_gamma(), x, m)
    clv = customer_lifetime_value(
        model, gamma_gamma(), x, t_x, big_t, monetary_value=m, months=7, annual_discount_rate=0.08
    )
    expected = by_hand(model, spend, x, t_x, big_t, months=7, annual=0.08, unit_days=7.0)
    np.testing.assert_allclose(clv, expected, rtol=1e-10)


@pytest.mark.parametrize("model", [bgnbd(), pareto()], ids=["bgnbd", "pareto_nbd"])
def test_folding_by_x_and_T_equals_row_by_row(model: BGNBD | ParetoNBD) -> None:
    x, t_x, big_t, m = histories(3_000, seed=2)
    folded = customer_lifetime_value(model, gamma_gamma(), x, t_x, big_t, monetary_value=m)
    plain = customer_lifetime_value(RowByRow(model), gamma_gamma(), x, t_x, big_t, monetary_value=m)
    np.testing.assert_allclose(folded, plain, rtol=1e-10)


def test_a_model_that_does_not_factor_is_evaluated_row_by_row() -> None:
    x, t_x, big_t, _ = histories(500, seed=3)
    odd = NotFactoring(bgnbd())
    clv = customer_lifetime_value(odd, 30.0, x, t_x, big_t, months=3)
    spend = np.full(len(x), 30.0)
    np.testing.assert_allclose(clv, by_hand(odd, spend, x, t_x, big_t, 3, 0.10, 7.0), rtol=1e-10)


def test_without_discounting_clv_is_expected_purchases_times_spend() -> None:
    x, t_x, big_t, m = histories(2_000, seed=4)
    model, spend_model = bgnbd(), gamma_gamma()
    clv = customer_lifetime_value(
        model, spend_model, x, t_x, big_t, monetary_value=m, months=18, annual_discount_rate=0.0,
        margin=0.3,
    )  # fmt: skip
    purchases = expected_purchases(model, 18 * DAYS_PER_MONTH, x, t_x, big_t)
    np.testing.assert_allclose(clv, 0.3 * purchases * expected_spend(spend_model, x, m), rtol=1e-10)


def test_grows_with_the_horizon_and_shrinks_with_the_discount_rate() -> None:
    x, t_x, big_t, m = histories(1_000, seed=5)
    model, spend_model = bgnbd(), gamma_gamma()
    by_months = np.array(
        [
            customer_lifetime_value(model, spend_model, x, t_x, big_t, monetary_value=m, months=k)
            for k in (1, 2, 3, 6, 12, 24, 60)
        ]
    )
    assert (np.diff(by_months, axis=0) > 0).all()
    by_rate = np.array(
        [
            customer_lifetime_value(
                model, spend_model, x, t_x, big_t, monetary_value=m, annual_discount_rate=d
            )
            for d in (0.0, 0.05, 0.10, 0.5)
        ]
    )
    assert (np.diff(by_rate, axis=0) < 0).all()


def test_time_unit_only_rescales_the_model() -> None:
    x, t_x, big_t, m = histories(500, seed=6)
    weeks = customer_lifetime_value(bgnbd(), gamma_gamma(), x, t_x, big_t, monetary_value=m)
    in_days = dict(BG, alpha=BG["alpha"] * 7)
    days = customer_lifetime_value(
        bgnbd(in_days), gamma_gamma(), x, t_x * 7, big_t * 7, monetary_value=m, time_unit_days=1.0
    )
    np.testing.assert_allclose(days, weeks, rtol=1e-9)


def test_no_repeat_purchase_gets_the_population_mean_spend() -> None:
    p, q, g = GG["p"], GG["q"], GG["gamma"]
    spend = expected_spend(gamma_gamma(), [0, 0, 3], [np.nan, 0.0, 50.0])
    assert spend[0] == spend[1] == pytest.approx(p * g / (q - 1))
    assert spend[2] == pytest.approx((g + 150) * p / (3 * p + q - 1))


def test_spend_may_be_given_per_customer_or_for_all() -> None:
    x, t_x, big_t, _ = histories(300, seed=7)
    one = customer_lifetime_value(bgnbd(), 40.0, x, t_x, big_t)
    each = customer_lifetime_value(bgnbd(), np.full(len(x), 20.0), x, t_x, big_t, margin=2.0)
    np.testing.assert_allclose(one, each, rtol=1e-12)
    assert customer_lifetime_value(bgnbd(), 40.0, [], [], []).shape == (0,)


def test_permuting_customers_permutes_values() -> None:
    x, t_x, big_t, m = histories(1_000, seed=8)
    clv = customer_lifetime_value(bgnbd(), gamma_gamma(), x, t_x, big_t, monetary_value=m)
    order = np.random.default_rng(0).permutation(len(x))
    shuffled = customer_lifetime_value(
        bgnbd(), gamma_gamma(), x[order], t_x[order], big_t[order], monetary_value=m[order]
    )
    np.testing.assert_allclose(shuffled, clv[order], rtol=1e-12)


GOOD = {"x": [0.0, 2.0], "t_x": [0.0, 5.0], "T": [10.0, 10.0]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"months": 0}, "months"),
        ({"months": 2.5}, "months"),
        ({"annual_discount_rate": -0.1}, "annual_discount_rate"),
        ({"margin": -1.0}, "margin"),
        ({"margin": float("nan")}, "margin"),
        ({"time_unit_days": 0.0}, "time_unit_days"),
        ({"x": [0.0, 2.5]}, "x must be"),
        ({"x": [0.0, -1.0]}, "x must be"),
        ({"t_x": [0.0, 11.0]}, "t_x"),
        ({"t_x": [1.0, 5.0]}, "t_x must be 0"),
        ({"T": [10.0]}, "differ in length"),
        ({"T": [0.0, 10.0]}, "T must be positive"),
        ({"x": [np.nan, 2.0]}, "x must be finite"),
        ({"spend": [10.0, -1.0]}, "spend"),
        ({"spend": [10.0, 1.0, 3.0]}, "one value or one per customer"),
        ({"spend": gamma_gamma()}, "monetary_value is required"),
        ({"spend": gamma_gamma(), "monetary_value": [np.nan, 0.0]}, "monetary_value must be"),
        ({"spend": gamma_gamma(), "monetary_value": [1.0]}, "monetary_value has shape"),
        ({"spend": gamma_gamma(dict(GG, q=0.9)), "monetary_value": [0.0, 5.0]}, "q > 1"),
        ({"spend": 10.0, "monetary_value": [0.0, 5.0]}, "only used with a spend model"),
        ({"purchase_model": bgnbd(dict(BG, a=1.0))}, "non-finite or negative expected"),
    ],
)
def test_rejects_bad_input(change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"purchase_model": bgnbd(), "spend": 10.0, **GOOD, **change}
    with pytest.raises(ValueError, match=message), np.errstate(all="ignore"):
        customer_lifetime_value(**args)


@pytest.mark.parametrize("horizon", [-1.0, float("inf")])
def test_expected_purchases_rejects_bad_horizons(horizon: float) -> None:
    with pytest.raises(ValueError, match="horizon_days"):
        expected_purchases(bgnbd(), horizon, **GOOD)


@pytest.fixture(scope="module")
def cdnow_calibration(
    cdnow_transactions: tuple[np.ndarray, pa.Array, np.ndarray],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    ids, dates, dollars = cdnow_transactions
    summary = summarize_transactions(
        ids, dates, "1997-09-30", monetary_value=dollars, period="day", unit="week"
    )
    assert summary.monetary_value is not None
    return summary.frequency, summary.recency, summary.T, summary.monetary_value


def test_matches_lifetimes_on_cdnow(
    cdnow_calibration: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    """lifetimes 0.11 imports under numpy 2.4 / pandas 3.1; its CLV is ours with its month."""
    pd = pytest.importorskip("pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifetimes = pytest.importorskip("lifetimes")
    x, t_x, big_t, m = cdnow_calibration
    repeat = x > 0
    bg = BGNBD().fit(x, t_x, big_t)
    gg = GammaGamma().fit(x[repeat], m[repeat])
    # lifetimes: a month is 4.345 weeks and the discount rate is monthly (1% here).
    ours = customer_lifetime_value(
        bg, gg, x, t_x, big_t, monetary_value=m, months=12, annual_discount_rate=1.01**12 - 1,
        time_unit_days=DAYS_PER_MONTH / 4.345,
    )  # fmt: skip
    series = [pd.Series(v) for v in (x, t_x, big_t, m)]

    their_bg = lifetimes.BetaGeoFitter()
    their_bg.params_ = pd.Series(bg.params_)
    their_bg.predict = their_bg.conditional_expected_number_of_purchases_up_to_time
    their_gg = lifetimes.GammaGammaFitter()
    their_gg.params_ = pd.Series(
        {"p": gg.params_["p"], "q": gg.params_["q"], "v": gg.params_["gamma"]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = their_gg.customer_lifetime_value(
            their_bg, *series, time=12, discount_rate=0.01, freq="W"
        ).to_numpy()
        # And with lifetimes' own fits of both models.
        own_bg = lifetimes.BetaGeoFitter().fit(*series[:3])
        own_gg = lifetimes.GammaGammaFitter().fit(series[0][repeat], series[3][repeat])
        theirs_fitted = own_gg.customer_lifetime_value(
            own_bg, *series, time=12, discount_rate=0.01, freq="W"
        ).to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    np.testing.assert_allclose(ours, theirs_fitted, rtol=1e-4)
    assert ours.sum() == pytest.approx(71_507.95, abs=0.01)
