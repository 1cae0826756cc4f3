"""Gamma-Gamma: the likelihood, its gradient, parameter recovery, folding and predictions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import gamma as gamma_dist

from lifetide.models import GammaGamma, gamma_gamma_log_likelihood
from lifetide.models.gamma_gamma import _log_likelihood_terms

TRUE = {"p": 6.0, "q": 4.0, "gamma": 35.0}


def simulate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, m_x): x >= 1 transactions per customer and their mean value, drawn exactly."""
    rng = np.random.default_rng(seed)
    x = 1 + rng.poisson(1.5, n)
    nu = rng.gamma(TRUE["q"], 1 / TRUE["gamma"], n)
    # The mean of x Gamma(p, nu) values is Gamma(p x, nu x).
    m = rng.gamma(TRUE["p"] * x, 1 / (nu * x))
    return x.astype(float), m


def test_log_likelihood_integrates_nu_out() -> None:
    p, q, g = 2.0, 3.0, 10.0
    x, m = 3.0, 7.0
    # Numerical integral over nu of Gamma(m; p x, rate nu x) * Gamma(nu; q, rate g).
    nu = np.linspace(1e-6, 5, 400_001)
    density = gamma_dist.pdf(m, p * x, scale=1 / (nu * x)) * gamma_dist.pdf(nu, q, scale=1 / g)
    integral = np.trapezoid(density, nu)
    value = gamma_gamma_log_likelihood((p, q, g), [x], [m])[0]
    assert np.exp(value) == pytest.approx(integral, rel=1e-6)


def _three(theta: np.ndarray) -> tuple[float, float, float]:
    return float(theta[0]), float(theta[1]), float(theta[2])


def test_gradient_matches_finite_differences() -> None:
    x, m = simulate(200, seed=1)
    theta = np.array([5.0, 3.0, 30.0])
    _, grad = _log_likelihood_terms(*_three(theta), x, m)
    for i in range(3):
        step = np.zeros(3)
        step[i] = 1e-6 * theta[i]
        up = _log_likelihood_terms(*_three(theta + step), x, m)[0].sum()
        down = _log_likelihood_terms(*_three(theta - step), x, m)[0].sum()
        np.testing.assert_allclose(grad[:, i].sum(), (up - down) / (2 * step[i]), rtol=1e-5)


def test_recovers_true_parameters_within_four_standard_errors() -> None:
    model = GammaGamma().fit(*simulate(30_000, seed=2))
    assert model.converged_
    for name, value in TRUE.items():
        assert abs(model.params_[name] - value) <= 4 * model.standard_errors_[name], name


def test_folding_rows_into_weights_changes_nothing() -> None:
    x, m = simulate(3_000, seed=3)
    m = np.round(m)  # whole dollars: many identical rows
    plain = GammaGamma().fit(x, m)
    rows, inverse = np.unique(np.column_stack([x, m]), axis=0, return_inverse=True)
    folded = GammaGamma().fit(rows[:, 0], rows[:, 1], weights=np.bincount(inverse.ravel()))
    for name in TRUE:
        assert folded.params_[name] == pytest.approx(plain.params_[name], rel=1e-5)


def test_money_unit_only_rescales_gamma() -> None:
    x, m = simulate(3_000, seed=4)
    dollars = GammaGamma().fit(x, m)
    cents = GammaGamma().fit(x, m * 100)
    assert cents.params_["gamma"] == pytest.approx(100 * dollars.params_["gamma"], rel=1e-4)
    assert cents.params_["p"] == pytest.approx(dollars.params_["p"], rel=1e-4)


@pytest.mark.parametrize(
    ("x", "m", "message"),
    [
        ([0.0], [10.0], "frequency"),
        ([1.0], [0.0], "positive"),
        ([1.0, 2.0], [3.0], "differ in length"),
    ],
)
def test_rejects_bad_input(x: list[float], m: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GammaGamma().fit(x, m)


def test_conditional_value_shrinks_toward_the_population_mean() -> None:
    model = GammaGamma().fit(*simulate(5_000, seed=5))
    p, q, g = (model.params_[k] for k in ("p", "q", "gamma"))
    population = p * g / (q - 1)
    few, many = model.conditional_expected_average_value([1, 50], [200.0, 200.0])
    assert population < few < many < 200.0
    assert model.conditional_expected_average_value([0], [0.0])[0] == pytest.approx(population)
