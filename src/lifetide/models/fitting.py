"""What the maximum-likelihood models share: input checks, folding rows, fitting, errors.

Parameters are optimized on the log scale (so they stay positive) with an analytic gradient;
standard errors come from the inverse Hessian of the total negative log-likelihood, taken by
central differences of that gradient and mapped back by the delta method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

FloatArray = NDArray[np.float64]
# (log-parameters) -> (mean negative log-likelihood, its gradient in log-parameters)
Objective = Callable[[FloatArray], tuple[float, FloatArray]]


def as_vector(values: ArrayLike, name: str) -> FloatArray:
    """A 1-D float array of finite values, or a ValueError naming the argument."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return array


def check_lengths(**arrays: FloatArray) -> int:
    """The common length of the arrays, or a ValueError; at least one row is needed."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"inputs differ in length: {lengths}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError("cannot fit on zero rows")
    return n


def weights_of(weights: ArrayLike | None, n: int) -> FloatArray:
    """Row weights (counts of identical customers): ones if not given; non-negative, not all 0."""
    if weights is None:
        return np.ones(n)
    w = as_vector(weights, "weights")
    if len(w) != n:
        raise ValueError(f"weights has {len(w)} rows, the data {n}")
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    return w


def fold(columns: list[FloatArray], weights: FloatArray) -> tuple[list[FloatArray], FloatArray]:
    """Merge identical rows, adding their weights: the likelihood is the same, faster."""
    stacked = np.column_stack(columns)
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    folded = np.bincount(inverse.ravel(), weights=weights, minlength=len(unique))
    keep = folded > 0
    columns_out = [np.asarray(unique[keep, i], dtype=np.float64) for i in range(unique.shape[1])]
    return columns_out, np.asarray(folded[keep], dtype=np.float64)


@dataclass(frozen=True)
class Fit:
    """The optimum on the log scale, its value and whether the optimizer converged."""

    log_params: FloatArray
    mean_neg_log_likelihood: float
    converged: bool
    message: str


def maximize(objective: Objective, start: FloatArray, tol: float, max_iter: int) -> Fit:
    """Minimize the mean negative log-likelihood over log-parameters (BFGS, analytic gradient)."""
    result = minimize(
        objective,
        start,
        jac=True,
        method="BFGS",
        options={"gtol": tol, "maxiter": max_iter},
    )
    # BFGS may stop on precision loss at a point whose gradient is already tiny.
    _, grad = objective(result.x)
    converged = bool(result.success or np.max(np.abs(grad)) < max(tol, 1e-6))
    return Fit(
        np.asarray(result.x, dtype=np.float64), float(result.fun), converged, str(result.message)
    )


def covariance(objective: Objective, log_params: FloatArray, total_weight: float) -> FloatArray:
    """Covariance of the natural parameters from the Hessian of the total negative LL."""
    k = len(log_params)
    hessian = np.empty((k, k))
    for i in range(k):
        step = 1e-5 * max(1.0, abs(log_params[i]))
        up, down = log_params.copy(), log_params.copy()
        up[i] += step
        down[i] -= step
        hessian[:, i] = (objective(up)[1] - objective(down)[1]) / (2 * step)
    hessian = (hessian + hessian.T) / 2 * total_weight
    log_cov = np.linalg.pinv(hessian)
    jacobian = np.diag(np.exp(log_params))  # d theta / d log theta
    return np.asarray(jacobian @ log_cov @ jacobian, dtype=np.float64)
