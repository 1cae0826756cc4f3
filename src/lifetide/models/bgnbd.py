"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "'Counting Your Customers' the Easy
Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284.

While active, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha)
(shape r, rate alpha, in the time unit of the data); after each repeat purchase they become
inactive with probability p ~ Beta(a, b). A customer is summarized by x (repeat purchases),
t_x (time of the last purchase) and T (time observed), all measured from the first purchase.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, expit, gammaln, hyp2f1

from lifetide.models.fitting import (
    FittedModel,
    FloatArray,
    IntArray,
    as_vector,
    covariance,
    dot,
    histories,
    maximize,
)

PARAMS = ("r", "alpha", "a", "b")


def _by_frequency(
    r: float, alpha: float, a: float, b: float, xs: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The log-likelihood's terms that depend on x alone, per distinct x, with their gradient.

    Returns ln[Gamma(r+x) alpha^r / Gamma(r)] + ln[B(a, b+x) / B(a, b)], its gradient in
    (r, alpha, a, b), and ln[B(a+1, b+x-1) / B(a, b+x)] = ln[a / (b+x-1)] (-inf for x = 0,
    who cannot have dropped out after a repeat purchase). Frequencies take few distinct
    values, so the special functions run once per value instead of once per customer.
    """
    head = (
        gammaln(r + xs) - gammaln(r) + r * np.log(alpha)
        + gammaln(a + b) + gammaln(b + xs) - gammaln(b) - gammaln(a + b + xs)
    )  # fmt: skip
    grad = np.empty((len(xs), 4))
    grad[:, 0] = digamma(r + xs) - digamma(r) + np.log(alpha)
    grad[:, 1] = r / alpha
    common = digamma(a + b) - digamma(a + b + xs)
    grad[:, 2] = common
    grad[:, 3] = common + digamma(b + xs) - digamma(b)
    dropout = np.where(xs > 0, np.log(a) - np.log(b + np.maximum(xs, 1) - 1), -np.inf)
    return head, grad, dropout


# e^-300 ~ 5e-131: clipping the log-odds there changes nothing at double precision and keeps
# denormal numbers (~50x slower to multiply) out of the gradient's sums.
_LOG_ODDS_FLOOR = -300.0


def _by_row(
    r: float,
    alpha: float,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,  # noqa: N803 (T is the literature's name)
    dropout: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """ln(e^A3 + e^A4) per customer, the share of its second term, ln(alpha+T) and the gap.

    A3 = -(r+x) ln(alpha+T) is "still active at T"; A4 = dropout - (r+x) ln(alpha+t_x) is
    "became inactive right after the last purchase" (FHL 2005, eq. 6; lifetimes' A_3, A_4).
    With d = A4 - A3, ln(e^A3 + e^A4) = A3 + ln(1 + e^d), evaluated without overflow and
    ~3x faster than np.logaddexp. The gap is ln((alpha+t_x)/(alpha+T)) <= 0.
    """
    log_t = np.log(alpha + T)
    gap = np.log(alpha + t_x) - log_t
    d = np.maximum(dropout - (r + x) * gap, _LOG_ODDS_FLOOR)
    softplus = np.maximum(d, 0.0) + np.log1p(np.exp(-np.abs(d)))
    return softplus - (r + x) * log_t, np.exp(d - softplus), log_t, gap


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
    xs, at = np.unique(x, return_inverse=True)
    at = at.ravel()
    head, head_grad, dropout = _by_frequency(r, alpha, a, b, xs)
    both, dead, log_t, gap = _by_row(r, alpha, x, t_x, T, dropout[at])
    dead = np.where(x > 0, dead, 0.0)  # exactly: no dropout term without a repeat purchase
    grad = head_grad[at]
    grad[:, 0] -= log_t + dead * gap
    grad[:, 1] -= (r + x) * (1 / (alpha + T) + dead * (1 / (alpha + t_x) - 1 / (alpha + T)))
    grad[:, 2] += dead / a
    grad[:, 3] -= dead / (b + np.maximum(x, 1) - 1)
    return head[at] + both, grad


@dataclass(frozen=True)
class _Histories:
    """Folded histories arranged for the objective: per-x weights, then the two kinds of row.

    Customers without repeat purchases (often most of them) need only ln(alpha+T); the
    log-sum-exp and its weights are computed for repeat buyers alone.
    """

    xs: FloatArray  # distinct frequencies, 0 included
    weight_of_x: FloatArray
    t_once: FloatArray  # T of customers with x = 0
    w_once: FloatArray
    x: FloatArray  # repeat buyers from here on
    t_x: FloatArray
    t: FloatArray
    w: FloatArray
    wx: FloatArray
    at: IntArray  # position of each repeat buyer's x in xs

    @classmethod
    def of(cls, x: FloatArray, t_x: FloatArray, t: FloatArray, w: FloatArray) -> _Histories:
        """Arrange folded (x, t_x, T, weights)."""
        xs, at = np.unique(x, return_inverse=True)
        at = at.ravel()
        repeat = x > 0
        return cls(
            xs,
            np.asarray(np.bincount(at, weights=w, minlength=len(xs)), dtype=np.float64),
            t[~repeat],
            w[~repeat],
            x[repeat],
            t_x[repeat],
            t[repeat],
            w[repeat],
            w[repeat] * x[repeat],
            at[repeat],
        )

    def rescaled(self, factor: float) -> _Histories:
        """The same histories with times multiplied by factor."""
        return replace(self, t_once=self.t_once * factor, t_x=self.t_x * factor, t=self.t * factor)


def _total(theta: FloatArray, h: _Histories) -> tuple[float, FloatArray]:
    """Weighted total log-likelihood and its gradient in (r, alpha, a, b)."""
    r, alpha, a, b = (float(v) for v in theta)
    head, head_grad, dropout = _by_frequency(r, alpha, a, b, h.xs)
    value = dot(h.weight_of_x, head)
    grad = h.weight_of_x @ head_grad
    # Customers without repeat purchases: ln L = head(0) - r ln(alpha+T).
    log_once = dot(h.w_once, np.log(alpha + h.t_once))
    value -= r * log_once
    grad[0] -= log_once
    grad[1] -= r * dot(h.w_once, 1 / (alpha + h.t_once))
    if len(h.x):
        both, dead, log_t, gap = _by_row(r, alpha, h.x, h.t_x, h.t, dropout[h.at])
        w_dead = h.w * dead
        inv_t, inv_tx = 1 / (alpha + h.t), 1 / (alpha + h.t_x)
        w_rx = r * h.w + h.wx
        value += dot(h.w, both)
        grad[0] -= dot(h.w, log_t) + dot(w_dead, gap)
        grad[1] -= dot(w_rx, inv_t) + dot(w_rx * dead, inv_tx - inv_t)
        dead_by_x = np.asarray(
            np.bincount(h.at, weights=w_dead, minlength=len(h.xs)), dtype=np.float64
        )
        grad[2] += float(dead_by_x.sum()) / a
        grad[3] -= dot(dead_by_x, 1 / (b + np.maximum(h.xs, 1) - 1))
    return value, np.asarray(grad, dtype=np.float64)


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


class BGNBD(FittedModel):
    """BG/NBD lifetime model fitted by maximum likelihood (Fader, Hardie & Lee 2005).

    `fit(frequency, recency, T, weights=None)` takes repeat purchases x, the time of the last
    purchase t_x and the time observed T (both from the first purchase, in any one unit);
    identical rows are folded into weights. Learned: `params_` (r, alpha, a, b; alpha in the
    data's time unit), `standard_errors_` and `covariance_` (inverse Hessian),
    `log_likelihood_` (total, weighted), `n_customers_` and `converged_`; `summary` tabulates
    them.
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
        x, t_x, t, w = histories(frequency, recency, T, weights)
        # Work in a time unit where the longest history is 10, for a well-scaled alpha.
        scale = 10.0 / float(t.max())
        data = _Histories.of(x, t_x, t, w)
        scaled = data.rescaled(scale)
        total = float(w.sum())
        penalizer = self.penalizer

        def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
            theta = np.exp(log_params)
            ll, grad = _total(theta, scaled)
            value = -ll / total + penalizer * dot(theta, theta)
            gradient = -grad / total * theta + 2 * penalizer * theta * theta
            return value, gradient

        fit = maximize(objective, np.zeros(4), self.tol, self.max_iter)
        theta = np.exp(fit.log_params)
        unscale = np.array([1.0, 1.0 / scale, 1.0, 1.0])
        cov = covariance(objective, fit.log_params, total) * np.outer(unscale, unscale)
        self._keep_fit(PARAMS, theta * unscale, cov, total, fit.converged)
        self.log_likelihood_ = _total(theta * unscale, data)[0]
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
        """P(active at T | x, t_x, T): Bayes' theorem on the two terms of the likelihood.

        1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)), Fader, Hardie & Lee (2008),
        "Computing P(alive) Using the BG/NBD Model", http://brucehardie.com/notes/021/.
        """
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
