"""The shared fitting machinery: folding, numerical derivatives, covariances, summaries."""

from __future__ import annotations

import numpy as np
import pytest

from lifetide.models.fitting import (
    central_gradient,
    covariance,
    covariance_from_values,
    dot,
    fold,
    summary_table,
    unique_rows,
)


def test_unique_rows_and_their_inverse() -> None:
    a = np.array([2.0, 1.0, 2.0, 1.0, 2.0])
    b = np.array([5.0, 7.0, 5.0, 6.0, 4.0])
    (ua, ub), inverse = unique_rows([a, b])
    assert list(zip(ua, ub, strict=True)) == [(1, 6), (1, 7), (2, 4), (2, 5)]
    np.testing.assert_array_equal(ua[inverse], a)
    np.testing.assert_array_equal(ub[inverse], b)


def test_fold_adds_weights_and_drops_zero_weight_rows() -> None:
    (a, b), w = fold(
        [np.array([1.0, 1.0, 2.0, 3.0]), np.array([0.0, 0.0, 1.0, 1.0])],
        np.array([1.0, 2.0, 0.0, 4.0]),
    )
    assert (a.tolist(), b.tolist(), w.tolist()) == ([1, 3], [0, 1], [3, 4])


def test_dot() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=1000), rng.normal(size=1000)
    assert dot(a, b) == pytest.approx(float(a @ b), rel=1e-12)


# A smooth test function with a known gradient and Hessian: f(v) = sum(exp(v)) + (v0 v1)^2 / 2.
def _value(v: np.ndarray) -> float:
    return float(np.exp(v).sum() + (v[0] * v[1]) ** 2 / 2)


def _gradient(v: np.ndarray) -> np.ndarray:
    return np.asarray(np.exp(v) + np.array([v[0] * v[1] ** 2, v[0] ** 2 * v[1], 0.0]))


def _hessian(v: np.ndarray) -> np.ndarray:
    h = np.diag(np.exp(v))
    h[0, 0] += v[1] ** 2
    h[1, 1] += v[0] ** 2
    h[0, 1] = h[1, 0] = 2 * v[0] * v[1]
    return h


POINT = np.array([0.3, -0.7, 1.1])


def test_central_gradient_is_accurate() -> None:
    value, grad = central_gradient(_value)(POINT)
    assert value == _value(POINT)
    np.testing.assert_allclose(grad, _gradient(POINT), rtol=1e-9)


@pytest.mark.parametrize("how", ["from gradients", "from values"])
def test_covariances_invert_the_hessian_and_map_it_by_the_delta_method(how: str) -> None:
    total = 50.0
    if how == "from gradients":
        cov = covariance(lambda v: (_value(v), _gradient(v)), POINT, total)
    else:
        cov = covariance_from_values(_value, POINT, total)
    # Parameters theta = exp(v): Cov(theta) = J H^-1 J / total with J = diag(theta).
    jacobian = np.diag(np.exp(POINT))
    expected = jacobian @ np.linalg.inv(_hessian(POINT) * total) @ jacobian
    np.testing.assert_allclose(cov, expected, rtol=1e-6)


def test_summary_table_interval_is_symmetric_on_the_log_scale() -> None:
    table = summary_table({"r": 2.0, "alpha": 10.0}, {"r": 0.5, "alpha": 1.0}).to_pydict()
    assert table["parameter"] == ["r", "alpha"]
    for low, estimate, high in zip(
        table["lower_95"], table["estimate"], table["upper_95"], strict=True
    ):
        assert low * high == pytest.approx(estimate**2)
    assert table["lower_95"][0] == pytest.approx(2.0 * np.exp(-1.959964 * 0.25), rel=1e-6)
