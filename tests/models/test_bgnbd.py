"""BG/NBD: the likelihood, its gradient, parameter recovery, folding and predictions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln, gammaln

from lifetide.models import BGNBD, bgnbd_log_likelihood
from lifetide.models.bgnbd import _Histories, _log_likelihood_terms, _total

TRUE = {"r": 0.55, "alpha": 10.5, "a": 0.85, "b": 3.8}


def simulate(n: int, seed: int, params: dict[str, float] = TRUE) -> tuple[np.ndarray, ...]:
    """(x, t_x, T) drawn exactly from BG/NBD with T (age) uniform on 10-150 weeks."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(10, 150, n)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    arrivals = rng.poisson(lam * age)
    x = np.minimum(arrivals, rng.geometric(p))
    # The x-th smallest of N uniform arrivals on (0, age] is age * Beta(x, N - x + 1).
    t_x = np.where(x > 0, age * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    return x.astype(float), t_x, age


def test_log_likelihood_matches_the_closed_form() -> None:
    r, alpha, a, b = 0.7, 5.0, 1.2, 2.5
    x, t_x, age = np.array([0.0, 3.0]), np.array([0.0, 20.0]), np.array([30.0, 40.0])
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    first = np.exp(betaln(a, b + x) - betaln(a, b) + common - (r + x) * np.log(alpha + age))
    second = np.exp(
        betaln(a + 1, b + x - 1) - betaln(a, b) + common - (r + x) * np.log(alpha + t_x)
    )
    expected = np.log(first + np.where(x > 0, second, 0.0))
    np.testing.assert_allclose(
        bgnbd_log_likelihood((r, alpha, a, b), x, t_x, age), expected, rtol=1e-12
    )


def _four(theta: np.ndarray) -> tuple[float, float, float, float]:
    return float(theta[0]), float(theta[1]), float(theta[2]), float(theta[3])


def test_gradient_matches_finite_differences() -> None:
    x, t_x, age = simulate(200, seed=1)
    theta = np.array([0.6, 4.0, 0.9, 3.0])
    _, grad = _log_likelihood_terms(theta[0], theta[1], theta[2], theta[3], x, t_x, age)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6 * theta[i]
        up = _log_likelihood_terms(*_four(theta + step), x, t_x, age)[0].sum()
        down = _log_likelihood_terms(*_four(theta - step), x, t_x, age)[0].sum()
        np.testing.assert_allclose(grad[:, i].sum(), (up - down) / (2 * step[i]), rtol=1e-5)


def test_fitting_objective_equals_the_weighted_per_row_sums() -> None:
    # The fit's objective regroups the sums (per distinct x, non-repeaters apart) for speed.
    x, t_x, age = simulate(500, seed=11)
    weights = np.random.default_rng(12).integers(1, 5, len(x)).astype(float)
    theta = np.array([0.6, 4.0, 0.9, 3.0])
    rows, row_grad = _log_likelihood_terms(*_four(theta), x, t_x, age)
    value, grad = _total(theta, _Histories.of(x, t_x, age, weights))
    assert value == pytest.approx(weights @ rows, rel=1e-12)
    np.testing.assert_allclose(grad, weights @ row_grad, rtol=1e-10)


def test_huge_frequencies_stay_finite() -> None:
    ll, grad = _log_likelihood_terms(0.5, 2.0, 0.7, 3.0, *map(np.array, ([5e3], [99.0], [1e2])))
    assert np.isfinite(ll).all() and np.isfinite(grad).all()


def test_recovers_true_parameters_within_four_standard_errors() -> None:
    model = BGNBD().fit(*simulate(30_000, seed=2))
    assert model.converged_
    for name, value in TRUE.items():
        assert abs(model.params_[name] - value) <= 4 * model.standard_errors_[name], name
    assert set(model.params_) == set(TRUE)
    assert model.n_customers_ == 30_000


def test_folding_rows_into_weights_changes_nothing() -> None:
    x, t_x, age = simulate(3_000, seed=3)
    # Whole weeks make many identical rows.
    x, t_x, age = x, np.floor(t_x), np.ceil(age)
    plain = BGNBD().fit(x, t_x, age)
    rows, inverse = np.unique(np.column_stack([x, t_x, age]), axis=0, return_inverse=True)
    weights = np.bincount(inverse.ravel())
    folded = BGNBD().fit(rows[:, 0], rows[:, 1], rows[:, 2], weights=weights)
    for name in TRUE:
        assert folded.params_[name] == pytest.approx(plain.params_[name], rel=1e-5)
    assert folded.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-9)


def test_fitting_twice_equals_fitting_once_on_the_second_data() -> None:
    first, second = simulate(2_000, seed=4), simulate(2_000, seed=5)
    refit = BGNBD().fit(*first).fit(*second)
    once = BGNBD().fit(*second)
    assert refit.params_ == pytest.approx(once.params_)


def test_time_unit_only_rescales_alpha() -> None:
    x, t_x, age = simulate(3_000, seed=6)
    weeks = BGNBD().fit(x, t_x, age)
    days = BGNBD().fit(x, t_x * 7, age * 7)
    assert days.params_["alpha"] == pytest.approx(7 * weeks.params_["alpha"], rel=1e-4)
    assert days.params_["r"] == pytest.approx(weeks.params_["r"], rel=1e-4)


@pytest.mark.parametrize(
    ("x", "t_x", "age", "message"),
    [
        ([1.0, -1.0], [1.0, 0.0], [2.0, 2.0], "frequency"),
        ([1.5], [1.0], [2.0], "frequency"),
        ([1.0], [3.0], [2.0], "recency"),
        ([0.0], [1.0], [2.0], "recency must be 0"),
        ([1.0, 2.0], [1.0], [2.0, 3.0], "differ in length"),
        ([1.0], [float("nan")], [2.0], "finite"),
        ([], [], [], "zero rows"),
    ],
)
def test_rejects_bad_input(
    x: list[float], t_x: list[float], age: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BGNBD().fit(x, t_x, age)


def test_predictions_are_coherent() -> None:
    model = BGNBD().fit(*simulate(5_000, seed=7))
    grid = np.array([0.0, 10.0, 50.0, 100.0])
    expected = model.expected_repeat_purchases(grid)
    assert expected[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(expected) > 0)
    alive = model.probability_alive([0, 3, 3], [0, 5, 40], [50, 50, 50])
    assert alive[0] == 1.0
    assert 0 < alive[1] < alive[2] < 1  # a recent last purchase makes activity likelier
    future = model.conditional_expected_purchases(26, [0, 3, 3], [0, 5, 40], [50, 50, 50])
    assert np.all(future > 0) and future[2] > future[1]


def test_summary_lists_each_parameter() -> None:
    model = BGNBD().fit(*simulate(2_000, seed=9))
    table = model.summary.to_pydict()
    assert table["parameter"] == ["r", "alpha", "a", "b"]
    assert table["standard_error"] == list(model.standard_errors_.values())
    for low, estimate, high in zip(
        table["lower_95"], table["estimate"], table["upper_95"], strict=True
    ):
        assert 0 < low < estimate < high


def _true_model() -> BGNBD:
    model = BGNBD()
    model.params_ = dict(TRUE)  # predictions need only params_
    return model


def test_probability_alive_and_future_purchases_average_to_the_process() -> None:
    # E[P(alive | x, t_x, T)] is the share still active; E[E[Y(t) | ...]] the mean of Y(t).
    rng = np.random.default_rng(10)
    n, horizon = 100_000, 26.0
    age = rng.uniform(10, 150, n)
    lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], n)
    p = rng.beta(TRUE["a"], TRUE["b"], n)
    arrivals = rng.poisson(lam * age)
    dropout_after = rng.geometric(p)  # inactive after this repeat purchase
    x = np.minimum(arrivals, dropout_after)
    t_x = np.where(x > 0, age * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    active = dropout_after > arrivals
    # The process is memoryless: an active customer starts afresh at T.
    future = active * np.minimum(rng.poisson(lam * horizon), rng.geometric(p))

    model = _true_model()
    alive = model.probability_alive(x, t_x, age)
    share = active.mean()
    assert alive.mean() == pytest.approx(share, abs=4 * np.sqrt(share * (1 - share) / n))
    predicted = model.conditional_expected_purchases(horizon, x, t_x, age)
    assert predicted.mean() == pytest.approx(future.mean(), abs=4 * future.std() / np.sqrt(n))


def test_expected_repeat_purchases_match_simulation() -> None:
    n = 200_000
    rng = np.random.default_rng(8)
    lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], n)
    x = np.minimum(rng.poisson(lam * 52), rng.geometric(rng.beta(TRUE["a"], TRUE["b"], n)))
    assert _true_model().expected_repeat_purchases(52.0) == pytest.approx(x.mean(), rel=0.02)
