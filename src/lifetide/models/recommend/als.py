"""Implicit-feedback matrix factorization by alternating least squares, on `implicit`."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from lifetide.models.recommend.interactions import WEIGHTINGS, Interactions, Weighting


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _non_negative(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not np.isfinite(float(value)) or float(value) < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {value!r}")
    return float(value)


def confidence(counts: sp.csr_matrix, alpha: float) -> sp.csr_matrix:
    """Hu, Koren & Volinsky's confidence c = 1 + alpha * log1p(r) on the stored entries."""
    result = counts.astype(np.float32, copy=True)
    result.data = (1.0 + alpha * np.log1p(result.data)).astype(np.float32)
    return result


def top_singular_value(matrix: sp.csr_matrix, tolerance: float = 1e-4, steps: int = 200) -> float:
    """The largest singular value of a sparse matrix, by power iteration on its Gram matrix.

    Started from the all-ones vector, so the result is deterministic; non-negative matrices
    (confidences are) have a non-negative leading singular vector that this start never
    misses, and popularity makes the spectral gap wide, so few steps are needed.
    """
    vector = np.ones(matrix.shape[1], dtype=np.float64)
    vector /= np.linalg.norm(vector)
    value = 0.0
    for _ in range(steps):
        image = matrix.T @ (matrix @ vector)
        norm = float(np.linalg.norm(image))
        if norm == 0.0:
            return 0.0
        vector = image / norm
        converged = abs(norm - value) <= tolerance * norm
        value = norm
        if converged:
            break
    return float(np.sqrt(value))


class ImplicitALS:
    """Latent factors for implicit feedback (Hu, Koren & Volinsky 2008).

    "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008: preference
    p_ui = 1 for every bought pair and 0 otherwise, fitted by weighted least squares with
    confidence c_ui = 1 + alpha * log1p(r_ui), where r_ui is, by ``weighting``, the number of
    distinct days the customer bought the product ("days", the default), its units, its
    lines, or 1. Days, not units: a six-pack is one decision, a product bought on five
    separate trips is five, and grocery and fuel quantities run into the thousands. The log
    is the paper's own suggestion (section 4) for counts with a long tail. Fitting uses
    `implicit`'s conjugate-gradient solver; the matrix handed to it holds c_ui itself, since
    it treats stored values as confidence and absent ones as c = 1, p = 0.

    ``regularization`` is relative: the L2 penalty handed to the solver is
    lambda = regularization * sigma_1(C), sigma_1 the largest singular value of the
    confidence matrix. While the factors are small each ALS half-step multiplies them by
    about C / lambda, so they collapse to zero (every customer scored alike) once lambda
    exceeds sigma_1; and sigma_1 grows like the square root of the number of customers.
    An absolute lambda tuned on 20,000 customers therefore collapses the model on 5,000 and
    barely regularizes it on 1,000,000, while a relative one keeps its meaning.

    Learned: ``user_factors_`` (customers x factors) and ``item_factors_`` (products x
    factors), float32, a customer's score for a product being their dot product; and
    ``regularization_``, the absolute lambda used.
    """

    def __init__(
        self,
        factors: int = 64,
        iterations: int = 15,
        regularization: float = 0.4,
        alpha: float = 4.0,
        weighting: Weighting = "days",
        random_state: int | None = 0,
        num_threads: int = 0,
    ) -> None:
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.alpha = alpha
        self.weighting = weighting
        self.random_state = random_state
        self.num_threads = num_threads

    def fit(self, interactions: Interactions) -> ImplicitALS:
        """Fit the factors on every customer and product of the interactions' code ranges."""
        # Imported here: implicit takes ~0.4 s to load, which importing this package (for
        # metrics or co-occurrence alone) need not pay.
        from implicit.cpu.als import AlternatingLeastSquares

        factors = _positive_int("factors", self.factors)
        iterations = _positive_int("iterations", self.iterations)
        regularization = _non_negative("regularization", self.regularization)
        alpha = _non_negative("alpha", self.alpha)
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if not len(interactions):
            raise ValueError("cannot fit ALS on no interactions")
        weights = confidence(interactions.matrix(self.weighting), alpha)
        scale = top_singular_value(weights)
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization * scale,
            alpha=1.0,
            iterations=iterations,
            random_state=self.random_state,
            num_threads=self.num_threads,
        )
        model.fit(weights, show_progress=False)
        self.regularization_: float = regularization * scale
        self.user_factors_: NDArray[np.float32] = np.ascontiguousarray(
            model.user_factors, dtype=np.float32
        )
        self.item_factors_: NDArray[np.float32] = np.ascontiguousarray(
            model.item_factors, dtype=np.float32
        )
        return self
