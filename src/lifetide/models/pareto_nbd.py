"""The Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

Schmittlein, D. C., Morrison, D. G. and Colombo, R. (1987), "Counting Your Customers: Who
Are They and What Will They Do Next?", Management Science 33(1), 1-24. The likelihood and
the other expressions follow Fader, P. S. and Hardie, B. G. S. (2005), "A Note on Deriving
the Pareto/NBD Model and Related Expressions", http://brucehardie.com/notes/009/ (the
2005-11-05 version; equation numbers below are that note's).

While active, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); they
stay active for an exponential lifetime with rate mu ~ Gamma(s, beta) (shapes r, s; rates
alpha, beta in the time unit of the data). A customer is summarized by x (repeat purchases),
t_x (time of the last purchase) and T (time observed), as for BG/NBD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln, hyp2f1

from lifetide.models.fitting import (
    FittedModel,
    FloatArray,
    IntArray,
    as_vector,
    central_gradient,
    covariance_from_values,
    dot,
    histories,
    maximize,
    unique_rows,
)

PARAMS = ("r", "alpha", "s", "beta")


def _log_antiderivative(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t: FloatArray
) -> FloatArray:
    """The log of F(t), where the note's A_0 = F(t_x) - F(T) (note 009, eqs. 19-20).

    The note's F(t) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+t)) / (alpha+t)^(r+s+x)
    when alpha >= beta (and the mirror image otherwise). Euler's transformation
    2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z) turns it into
    (beta+t)^-s (alpha+t)^-(r+x) 2F1(1, r+x; r+s+x+1; z): a series of positive, shrinking
    terms that stays finite as z -> 1, where the original grows like (1-z)^-s.
    """
    c = r + s + x + 1
    if alpha >= beta:
        z = (alpha - beta) / (alpha + t)
        series = hyp2f1(1.0, r + x, c, z)
        return np.asarray(np.log(series) - s * np.log(beta + t) - (r + x) * np.log(alpha + t))
    z = (beta - alpha) / (beta + t)
    series = hyp2f1(1.0, s + 1, c, z)
    return np.asarray(np.log(series) + (1 - r - x) * np.log(alpha + t) - (s + 1) * np.log(beta + t))


def _log1m_exp(d: FloatArray) -> FloatArray:
    """ln(1 - e^d) for d <= 0, accurate at both ends (Maechler 2012); -inf at d = 0."""
    with np.errstate(divide="ignore"):
        return np.where(d > -np.log(2), np.log(-np.expm1(d)), np.log1p(-np.exp(d)))


def _alive_and_dead(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: FloatArray,
    log_f_tx: FloatArray,
    log_f_t: FloatArray,
    T: FloatArray,  # noqa: N803 (T is the literature's name)
) -> tuple[FloatArray, FloatArray]:
    """The log of the likelihood's two terms, without their common factor (note 009, eq. 18).

    "Still alive at T": (alpha+T)^-(r+x) (beta+T)^-s; "died in (t_x, T]": s/(r+s+x) A_0.
    """
    # F is decreasing, so ln F(T) - ln F(t_x) <= 0; rounding may push it just above when
    # t_x is within a rounding error of T, where A_0 is 0 anyway.
    log_a0 = log_f_tx + _log1m_exp(np.minimum(log_f_t - log_f_tx, 0.0))
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    dead = np.log(s) - np.log(r + s + x) + log_a0
    return alive, dead


def _log_likelihood(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,  # noqa: N803 (T is the literature's name)
) -> FloatArray:
    """Per-row Pareto/NBD log-likelihood (note 009, eqs. 18-20)."""
    log_f_tx = _log_antiderivative(r, alpha, s, beta, x, t_x)
    log_f_t = _log_antiderivative(r, alpha, s, beta, x, T)
    alive, dead = _alive_and_dead(r, alpha, s, beta, x, log_f_tx, log_f_t, T)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return np.asarray(common + np.logaddexp(alive, dead))


def pareto_nbd_log_likelihood(
    params: tuple[float, float, float, float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,  # noqa: N803 (T is the literature's name)
) -> FloatArray:
    """Log-likelihood of each customer's (x, t_x, T) under parameters (r, alpha, s, beta).

    L = Gamma(r+x) alpha^r beta^s / Gamma(r)
        * [1 / ((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) A_0]   (note 009, eq. 18),
    A_0 a difference of two Gaussian hypergeometric terms (eqs. 19-20); in log space.
    """
    r, alpha, s, beta = params
    x, t_x, t = (
        as_vector(v, n) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T"))
    )
    return _log_likelihood(r, alpha, s, beta, x, t_x, t)


@dataclass(frozen=True)
class _Histories:
    """Folded histories plus their distinct (x, t_x) and (x, T) pairs.

    The hypergeometric series is the costly part of the likelihood and depends on a row only
    through such a pair; customers without repeat purchases all share (0, 0), and whole-day or
    whole-week data repeat (x, T) often, so each distinct pair is evaluated once.
    """

    x: FloatArray
    t_x: FloatArray
    t: FloatArray
    w: FloatArray
    at_tx: tuple[FloatArray, FloatArray, IntArray]  # distinct x, distinct t_x, row -> pair
    at_t: tuple[FloatArray, FloatArray, IntArray]

    @classmethod
    def of(cls, x: FloatArray, t_x: FloatArray, t: FloatArray, w: FloatArray) -> _Histories:
        """Arrange folded (x, t_x, T, weights)."""
        (xs1, txs), at1 = unique_rows([x, t_x])
        (xs2, ts), at2 = unique_rows([x, t])
        return cls(x, t_x, t, w, (xs1, txs, at1), (xs2, ts, at2))

    def log_likelihood(self, theta: FloatArray) -> FloatArray:
        """Per-row log-likelihood at parameters theta = (r, alpha, s, beta)."""
        r, alpha, s, beta = (float(v) for v in theta)
        xs1, txs, at1 = self.at_tx
        xs2, ts, at2 = self.at_t
        log_f_tx = _log_antiderivative(r, alpha, s, beta, xs1, txs)[at1]
        log_f_t = _log_antiderivative(r, alpha, s, beta, xs2, ts)[at2]
        alive, dead = _alive_and_dead(r, alpha, s, beta, self.x, log_f_tx, log_f_t, self.t)
        common = gammaln(r + self.x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        return np.asarray(common + np.logaddexp(alive, dead))


def _growth(shape: float, log_ratio: FloatArray) -> FloatArray:
    """(1 - e^-(shape-1) u) / (shape-1) for u = log_ratio, and its limit u at shape = 1."""
    k = shape - 1
    if abs(k) < 1e-12:
        return log_ratio
    return np.asarray(-np.expm1(-k * log_ratio) / k)


class ParetoNBD(FittedModel):
    """Pareto/NBD lifetime model fitted by maximum likelihood (Schmittlein et al. 1987).

    `fit(frequency, recency, T, weights=None)` takes repeat purchases x, the time of the last
    purchase t_x and the time observed T (both from the first purchase, in any one unit);
    identical rows are folded into weights. Learned: `params_` (r, alpha, s, beta; alpha and
    beta in the data's time unit), `standard_errors_` and `covariance_` (inverse Hessian),
    `log_likelihood_` (total, weighted), `n_customers_` and `converged_`; `summary` tabulates
    them. The likelihood has no closed-form gradient in r and s (they sit inside a
    hypergeometric series), so the gradient is taken by central differences.
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-7, max_iter: int = 2_000) -> None:
        """Set the L2 penalty on the parameters and the optimizer's tolerance and budget.

        The tolerance is 10x BG/NBD's: below ~1e-8 the finite-difference gradient's noise
        makes BFGS wander (2.4x the time on 30,000 customers) without moving the estimates.
        """
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
        """Estimate (r, alpha, s, beta) from customers' (x, t_x, T); returns self."""
        x, t_x, t, w = histories(frequency, recency, T, weights)
        # Work in a time unit where the longest history is 10, for well-scaled alpha and beta.
        scale = 10.0 / float(t.max())
        scaled = _Histories.of(x, t_x * scale, t * scale, w)
        total = float(w.sum())
        penalizer = self.penalizer

        def value(log_params: FloatArray) -> float:
            theta = np.exp(log_params)
            ll = dot(w, scaled.log_likelihood(theta))
            return -ll / total + penalizer * float(theta @ theta)

        fit = maximize(central_gradient(value), np.zeros(4), self.tol, self.max_iter)
        theta = np.exp(fit.log_params)
        unscale = np.array([1.0, 1.0 / scale, 1.0, 1.0 / scale])
        cov = covariance_from_values(value, fit.log_params, total) * np.outer(unscale, unscale)
        self._keep_fit(PARAMS, theta * unscale, cov, total, fit.converged)
        self.log_likelihood_ = dot(w, _log_likelihood(*self._theta(), x, t_x, t))
        return self

    def _theta(self) -> tuple[float, float, float, float]:
        p = self.params_
        return p["r"], p["alpha"], p["s"], p["beta"]

    def expected_repeat_purchases(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] (note 009, eq. 27)."""
        r, alpha, s, beta = self._theta()
        tt = np.asarray(t, dtype=np.float64)
        return np.asarray(r * beta / alpha * _growth(s, np.log1p(tt / beta)))

    def probability_alive(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803 (T is the literature's name)
    ) -> FloatArray:
        """P(alive at T | x, t_x, T): the likelihood's "still alive" share (note 009, eq. 36)."""
        r, alpha, s, beta = self._theta()
        x = np.asarray(frequency, dtype=np.float64)
        t_x = np.asarray(recency, dtype=np.float64)
        big_t = np.asarray(T, dtype=np.float64)
        log_f_tx = _log_antiderivative(r, alpha, s, beta, x, t_x)
        log_f_t = _log_antiderivative(r, alpha, s, beta, x, big_t)
        alive, dead = _alive_and_dead(r, alpha, s, beta, x, log_f_tx, log_f_t, big_t)
        return np.asarray(np.exp(alive - np.logaddexp(alive, dead)))

    def conditional_expected_purchases(
        self,
        t: ArrayLike,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803 (T is the literature's name)
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next t (note 009, eq. 41).

        (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive at T).
        """
        r, alpha, s, beta = self._theta()
        tt = np.asarray(t, dtype=np.float64)
        x = np.asarray(frequency, dtype=np.float64)
        big_t = np.asarray(T, dtype=np.float64)
        alive = self.probability_alive(x, recency, big_t)
        rate = (r + x) / (alpha + big_t)  # posterior mean purchase rate if alive
        return np.asarray(rate * (beta + big_t) * _growth(s, np.log1p(tt / (beta + big_t))) * alive)
