"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "'Counting Your Customers' the Easy
Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284.

While active, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha)
(shape r, rate alpha, in the time unit of the data); after each repeat purchase they become
inactive with probability p ~ Beta(a, b). A customer is summarized by x (repeat purchases),
t_x (time of the last purchase) and T (time observed), all measured from the first purchase.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, expit, gammaln, hyp2f1

from lifetide.models.fitting import (
    FloatArray,
    as_vector,
    check_lengths,
    covariance,
    fold,
    maximize,
    weights_of,
)

PARAMS = ("r", "alpha", "a", "b")


def _log_likelihood_terms(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,  # noqa: N803 (T is the literature's name)
) -> tuple[FloatArray, FloatArray]:
    """Per-row log-likelihood (FHL 2005, eq. 6) and its gradient in (r, alpha, a, b)."""
    positive = x > 0
    x1 = np.maximum(x, 1.0)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(positive, np.log(a) - np.log(b + x1 - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    # ln(e^A3 + e^A4) without overflow; the second term exists only for repeat buyers.
    both = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - both)
    w4 = np.exp(a4 - both)
    grad = np.empty((len(x), 4))
    grad[:, 0] = (
        digamma(r + x) - digamma(r) + np.log(alpha)
        - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x)
    )  # fmt: skip
    grad[:, 1] = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    common = digamma(a + b) - digamma(a + b + x)
    grad[:, 2] = common + w4 / a
    grad[:, 3] = common + digamma(b + x) - digamma(b) - w4 / (b + x1 - 1)
    return a1 + a2 + both, grad


def bgnbd_log_likelihood(
    params: tuple[float, float, float, float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,  # noqa: N803 (T is the literature's name)
) -> FloatArray:
    """Log-likelihood of each customer's (x, t_x, T) under BG/NBD parameters (r, alpha, a, b).

    L = B(a, b+x)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+t_x)^(r+x)),
    Fader, Hardie & Lee (2005), eq. (6), evaluated in log space.
    """
    r, alpha, a, b = params
    x, t_x, t = (
        as_vector(v, n) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T"))
    )
    return _log_likelihood_terms(r, alpha, a, b, x, t_x, t)[0]


class BGNBD:
    """BG/NBD lifetime model fitted by maximum likelihood (Fader, Hardie & Lee 2005).

    `fit(frequency, recency, T, weights=None)` takes repeat purchases x, the time of the last
    purchase t_x and the time observed T (both from the first purchase, in any one unit);
    identical rows are folded into weights. Learned: `params_` (r, alpha, a, b; alpha in the
    data's time unit), `standard_errors_` and `covariance_` (inverse Hessian), and
    `log_likelihood_` (total, weighted).
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-8, max_iter: int = 2_000) -> None:
        """Set the L2 penalty on the parameters and the optimizer's tolerance and budget."""
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803 (T is the literature's name)
        weights: ArrayLike | None = None,
    ) -> Self:
        """Estimate (r, alpha, a, b) from customers' (x, t_x, T); returns self."""
        x = as_vector(frequency, "frequency")
        t_x = as_vector(recency, "recency")
        t = as_vector(T, "T")
        n = check_lengths(frequency=x, recency=t_x, T=t)
        w = weights_of(weights, n)
        if (x < 0).any() or (x != np.round(x)).any():
            raise ValueError("frequency must be non-negative whole numbers")
        if (t <= 0).any() or (t_x < 0).any() or (t_x > t).any():
            raise ValueError("need 0 <= recency <= T and T > 0")
        if (t_x[x == 0] != 0).any():
            raise ValueError("recency must be 0 for customers without repeat purchases")
        (x, t_x, t), w = fold([x, t_x, t], w)

        # Work in a time unit where the longest history is 10, for a well-scaled alpha.
        scale = 10.0 / float(t.max())
        ts_x, ts = t_x * scale, t * scale
        total = float(w.sum())
        penalizer = self.penalizer

        def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
            theta = np.exp(log_params)
            r, alpha, a, b = theta
            ll, grad = _log_likelihood_terms(r, alpha, a, b, x, ts_x, ts)
            value = -float(w @ ll) / total + penalizer * float(theta @ theta)
            gradient = -(w @ grad) / total * theta + 2 * penalizer * theta * theta
            return value, gradient

        fit = maximize(objective, np.zeros(4), self.tol, self.max_iter)
        theta = np.exp(fit.log_params)
        unscale = np.array([1.0, 1.0 / scale, 1.0, 1.0])
        cov = covariance(objective, fit.log_params, total) * np.outer(unscale, unscale)
        self.params_ = dict(zip(PARAMS, (theta * unscale).tolist(), strict=True))
        self.covariance_ = cov
        self.standard_errors_ = dict(zip(PARAMS, np.sqrt(np.diag(cov)).tolist(), strict=True))
        r, alpha, a, b = self._theta()
        self.log_likelihood_ = float(w @ _log_likelihood_terms(r, alpha, a, b, x, t_x, t)[0])
        self.n_customers_ = total
        self.converged_ = fit.converged
        return self

    def _theta(self) -> tuple[float, float, float, float]:
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def expected_repeat_purchases(self, t: ArrayLike) -> FloatArray:
        """E[X(t)]: repeat purchases by a new customer in a period of length t (FHL 2005, eq. 9)."""
        r, alpha, a, b = self._theta()
        tt = np.asarray(t, dtype=np.float64)
        hyp = hyp2f1(r, b, a + b - 1, tt / (alpha + tt))
        return np.asarray((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + tt)) ** r * hyp))

    def probability_alive(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803 (T is the literature's name)
    ) -> FloatArray:
        """P(active at T | x, t_x, T) (Fader, Hardie & Lee 2008, note 021, eq. 1)."""
        r, alpha, a, b = self._theta()
        x = np.asarray(frequency, dtype=np.float64)
        t_x = np.asarray(recency, dtype=np.float64)
        t = np.asarray(T, dtype=np.float64)
        log_odds = (r + x) * np.log((alpha + t) / (alpha + t_x)) + np.log(
            a / (b + np.maximum(x, 1) - 1)
        )
        return np.asarray(np.where(x == 0, 1.0, expit(-log_odds)))

    def conditional_expected_purchases(
        self,
        t: ArrayLike,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803 (T is the literature's name)
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next t (FHL 2005, eq. 10)."""
        r, alpha, a, b = self._theta()
        tt = np.asarray(t, dtype=np.float64)
        x = np.asarray(frequency, dtype=np.float64)
        t_x = np.asarray(recency, dtype=np.float64)
        big_t = np.asarray(T, dtype=np.float64)
        c = a + b + x - 1
        z = tt / (alpha + big_t + tt)
        log_hyp = np.log(hyp2f1(r + x, b + x, c, z))
        # Euler's transformation where the series overflows.
        alt = np.log(hyp2f1(c - r - x, c - b - x, c, z)) + (c - r - b - 2 * x) * np.log1p(-z)
        log_hyp = np.where(np.isfinite(log_hyp), log_hyp, alt)
        growth = 1 - np.exp(log_hyp + (r + x) * np.log((alpha + big_t) / (alpha + big_t + tt)))
        alive_odds = (
            (x > 0)
            * (a / (b + np.maximum(x, 1) - 1))
            * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
        )
        return np.asarray((a + b + x - 1) / (a - 1) * growth / (1 + alive_odds))
