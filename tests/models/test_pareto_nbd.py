"""Pareto/NBD: the likelihood against numerical integrals, the fit, and the predictions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import gammaln

from lifetide.models import ParetoNBD, pareto_nbd_log_likelihood

TRUE = {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 12.0}


def simulate(
    n: int, seed: int, params: dict[str, float] = TRUE
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T, lambda, lifetime) drawn exactly from Pareto/NBD, T uniform on 10-150 weeks."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(10, 150, n)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    lifetime = rng.exponential(1 / rng.gamma(params["s"], 1 / params["beta"], n))
    active = np.minimum(lifetime, age)
    x = rng.poisson(lam * active)
    # The last of x uniform purchase times on (0, active] is active * Beta(x, 1).
    t_x = np.where(x > 0, active * rng.beta(np.maximum(x, 1), 1), 0.0)
    return x.astype(float), t_x, age, lam, lifetime


def _by_dropout_time(
    params: tuple[float, float, float, float], x: float, t_x: float, big_t: float
) -> float:
    """L as "alive at T" plus the integral over the dropout time tau in (t_x, T].

    Integrating lambda^x e^-(lambda T) e^-(mu T) + int lambda^x e^-(lambda tau) mu e^-(mu tau)
    over both gammas; independent of the hypergeometric closed form.
    """
    r, alpha, s, beta = params
    front = np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta))
    alive = (alpha + big_t) ** -(r + x) * (beta + big_t) ** -s
    died, _ = integrate.quad(
        lambda tau: (alpha + tau) ** -(r + x) * (beta + tau) ** -(s + 1),
        t_x,
        big_t,
        epsabs=0,
        epsrel=1e-12,
    )
    return float(front * (alive + s * died))


CASES = [  # (r, alpha, s, beta): alpha > beta, alpha < beta, equal, near-equal, far apart
    (0.55, 10.5, 0.6, 12.0),
    (1.3, 4.0, 2.5, 1.5),
    (0.8, 3.0, 0.9, 3.0),
    (0.8, 3.0, 0.9, 3.0 + 1e-7),
    (0.2, 0.05, 3.0, 40.0),
    (2.0, 60.0, 0.3, 0.5),
]
ROWS = [(0, 0.0, 30.0), (1, 2.0, 30.0), (4, 29.0, 30.0), (12, 10.0, 52.0), (3, 30.0, 30.0)]


@pytest.mark.parametrize("params", CASES)
def test_log_likelihood_matches_integral_over_the_dropout_time(
    params: tuple[float, float, float, float],
) -> None:
    x, t_x, age = (np.array(column, dtype=float) for column in zip(*ROWS, strict=True))
    expected = [np.log(_by_dropout_time(params, *row)) for row in ROWS]
    np.testing.assert_allclose(pareto_nbd_log_likelihood(params, x, t_x, age), expected, rtol=1e-10)


def test_log_likelihood_matches_the_individual_likelihood_mixed_over_both_gammas() -> None:
    # Fader & Hardie's individual-level likelihood, integrated over lambda ~ Gamma(r, alpha)
    # and mu ~ Gamma(s, beta) numerically (on the quantile scale, which is bounded).
    r, alpha, s, beta = 0.8, 2.0, 0.5, 6.0
    x, t_x, big_t = 5, 10.0, 12.0

    def individual(v: float, u: float) -> float:
        lam = stats.gamma.ppf(u, r, scale=1 / alpha)
        mu = stats.gamma.ppf(v, s, scale=1 / beta)
        return float(
            lam**x * mu / (lam + mu) * np.exp(-(lam + mu) * t_x)
            + lam ** (x + 1) / (lam + mu) * np.exp(-(lam + mu) * big_t)
        )

    expected, _ = integrate.dblquad(individual, 0, 1, 0, 1, epsabs=0, epsrel=1e-8)
    value = pareto_nbd_log_likelihood((r, alpha, s, beta), [x], [t_x], [big_t])[0]
    assert np.exp(value) == pytest.approx(expected, rel=1e-8)


def test_huge_frequencies_stay_finite() -> None:
    # (alpha+t)^-(r+x) underflows double precision long before x = 5,000.
    value = pareto_nbd_log_likelihood((0.5, 2.0, 0.7, 9.0), [5_000.0], [99.0], [100.0])[0]
    assert np.isfinite(value)


def test_recovers_true_parameters_within_four_standard_errors() -> None:
    x, t_x, age, _, _ = simulate(30_000, seed=2)
    model = ParetoNBD().fit(x, t_x, age)
    assert model.converged_
    for name, value in TRUE.items():
        assert abs(model.params_[name] - value) <= 4 * model.standard_errors_[name], name
    assert set(model.params_) == set(TRUE)
    assert model.n_customers_ == 30_000


def test_fit_is_a_maximum() -> None:
    x, t_x, age, _, _ = simulate(3_000, seed=3)
    model = ParetoNBD().fit(x, t_x, age)
    theta = np.array(list(model.params_.values()))
    best = pareto_nbd_log_likelihood(tuple(theta), x, t_x, age).sum()
    assert best == pytest.approx(model.log_likelihood_, rel=1e-12)
    for i in range(4):
        for factor in (0.999, 1.001):
            moved = theta.copy()
            moved[i] *= factor
            assert pareto_nbd_log_likelihood(tuple(moved), x, t_x, age).sum() < best


def test_folding_rows_into_weights_changes_nothing() -> None:
    x, t_x, age, _, _ = simulate(3_000, seed=4)
    x, t_x, age = x, np.floor(t_x), np.ceil(age)  # whole weeks make many identical rows
    plain = ParetoNBD().fit(x, t_x, age)
    rows, inverse = np.unique(np.column_stack([x, t_x, age]), axis=0, return_inverse=True)
    weights = np.bincount(inverse.ravel())
    folded = ParetoNBD().fit(rows[:, 0], rows[:, 1], rows[:, 2], weights=weights)
    for name in TRUE:
        assert folded.params_[name] == pytest.approx(plain.params_[name], rel=1e-5)
    assert folded.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-9)


def test_fitting_twice_equals_fitting_once_on_the_second_data() -> None:
    first, second = simulate(2_000, seed=5)[:3], simulate(2_000, seed=6)[:3]
    refit = ParetoNBD().fit(*first).fit(*second)
    once = ParetoNBD().fit(*second)
    assert refit.params_ == pytest.approx(once.params_)


def test_time_unit_only_rescales_the_rates() -> None:
    x, t_x, age, _, _ = simulate(3_000, seed=7)
    weeks = ParetoNBD().fit(x, t_x, age)
    days = ParetoNBD().fit(x, t_x * 7, age * 7)
    for name, factor in (("r", 1), ("alpha", 7), ("s", 1), ("beta", 7)):
        assert days.params_[name] == pytest.approx(factor * weeks.params_[name], rel=1e-4)


@pytest.mark.parametrize(
    ("x", "t_x", "age", "message"),
    [
        ([1.0, -1.0], [1.0, 0.0], [2.0, 2.0], "frequency"),
        ([1.0], [3.0], [2.0], "recency"),
        ([0.0], [1.0], [2.0], "recency must be 0"),
        ([1.0], [float("inf")], [2.0], "finite"),
        ([], [], [], "zero rows"),
    ],
)
def test_rejects_bad_input(
    x: list[float], t_x: list[float], age: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ParetoNBD().fit(x, t_x, age)


def _true_model() -> ParetoNBD:
    model = ParetoNBD()
    model.params_ = dict(TRUE)  # predictions need only params_
    return model


def test_expected_repeat_purchases_match_the_process() -> None:
    rng = np.random.default_rng(8)
    n, horizon = 400_000, 52.0
    lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], n)
    lifetime = rng.exponential(1 / rng.gamma(TRUE["s"], 1 / TRUE["beta"], n))
    # E[X(t) | lambda, lifetime] = lambda min(lifetime, t): no Poisson noise needed.
    simulated = lam * np.minimum(lifetime, horizon)
    expected = _true_model().expected_repeat_purchases(np.array([0.0, horizon]))
    assert expected[0] == 0.0
    assert expected[1] == pytest.approx(simulated.mean(), rel=0.02)


def test_probability_alive_averages_to_the_share_alive() -> None:
    # E[P(alive | x, t_x, T)] over customers is P(alive): the share whose lifetime exceeds T.
    x, t_x, age, _, lifetime = simulate(40_000, seed=9)
    alive = _true_model().probability_alive(x, t_x, age)
    share = (lifetime > age).mean()
    assert alive.mean() == pytest.approx(share, abs=4 * np.sqrt(share * (1 - share) / len(x)))
    assert np.all((alive > 0) & (alive <= 1))
    never = _true_model().probability_alive([0, 0], [0, 0], [5, 50])
    assert never[0] > never[1]  # the longer a silent customer is watched, the likelier gone


def test_conditional_expectation_averages_to_the_purchases_that_follow() -> None:
    x, t_x, age, lam, lifetime = simulate(40_000, seed=10)
    horizon = 26.0
    # Expected purchases in (T, T + horizon] given lambda and the lifetime.
    future = lam * np.clip(lifetime - age, 0, horizon)
    predicted = _true_model().conditional_expected_purchases(horizon, x, t_x, age)
    se = future.std() / np.sqrt(len(x))
    assert predicted.mean() == pytest.approx(future.mean(), abs=4 * se)
    # The ranking carries information: heavy recent buyers are expected to buy more.
    assert np.corrcoef(predicted, future)[0, 1] > 0.3


def test_predictions_are_continuous_at_s_equal_one() -> None:
    # (1 - u^(s-1)) / (s-1) has a removable singularity at s = 1.
    values = []
    for s in (1 - 1e-9, 1.0, 1 + 1e-9):
        model = ParetoNBD()
        model.params_ = {"r": 0.5, "alpha": 5.0, "s": s, "beta": 8.0}
        values.append(
            [
                model.expected_repeat_purchases(30.0),
                model.conditional_expected_purchases(30.0, 3, 20.0, 40.0),
            ]
        )
    np.testing.assert_allclose(values[0], values[1], rtol=1e-7)
    np.testing.assert_allclose(values[2], values[1], rtol=1e-7)


def test_summary_lists_each_parameter() -> None:
    model = ParetoNBD().fit(*simulate(2_000, seed=11)[:3])
    table = model.summary.to_pydict()
    assert table["parameter"] == ["r", "alpha", "s", "beta"]
    assert table["estimate"] == list(model.params_.values())
    for low, estimate, high in zip(
        table["lower_95"], table["estimate"], table["upper_95"], strict=True
    ):
        assert 0 < low < estimate < high
