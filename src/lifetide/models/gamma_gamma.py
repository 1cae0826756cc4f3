"""The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013; Fader, Hardie & Lee 2005).

Fader, P. S. and Hardie, B. G. S. (2013), "The Gamma-Gamma Model of Monetary Value",
http://www.brucehardie.com/notes/025/; Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005),
"RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", Journal of Marketing
Research 42(4), 415-430.

Each transaction's value z ~ Gamma(p, nu) (shape p, rate nu); across customers
nu ~ Gamma(q, gamma). A customer with x transactions of mean value m_x then has
m_x | nu ~ Gamma(p x, nu x), and integrating nu out gives the likelihood fitted here.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from lifetide.models.fitting import (
    FittedModel,
    FloatArray,
    as_vector,
    check_lengths,
    covariance,
    fold,
    maximize,
    weights_of,
)

PARAMS = ("p", "q", "gamma")


def _log_likelihood_terms(
    p: float, q: float, gamma: float, x: FloatArray, m: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-row log-likelihood of m_x given x, and its gradient in (p, q, gamma)."""
    px = p * x
    log_total = np.log(gamma + m * x)
    ll = (
        gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * log_total
    )  # fmt: skip
    grad = np.empty((len(x), 3))
    grad[:, 0] = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_total)
    grad[:, 1] = digamma(px + q) - digamma(q) + np.log(gamma) - log_total
    grad[:, 2] = q / gamma - (px + q) / (gamma + m * x)
    return ll, grad


def gamma_gamma_log_likelihood(
    params: tuple[float, float, float], frequency: ArrayLike, monetary_value: ArrayLike
) -> FloatArray:
    """Log-likelihood of each customer's mean transaction value m_x over x transactions.

    f(m_x | p, q, gamma, x) = Gamma(p x + q) / (Gamma(p x) Gamma(q))
        * gamma^q m_x^(p x - 1) x^(p x) / (gamma + m_x x)^(p x + q)   (Fader & Hardie 2013).
    """
    p, q, gamma = params
    x = as_vector(frequency, "frequency")
    m = as_vector(monetary_value, "monetary_value")
    return _log_likelihood_terms(p, q, gamma, x, m)[0]


class GammaGamma(FittedModel):
    """Gamma-Gamma spend model fitted by maximum likelihood (Fader & Hardie 2013).

    `fit(frequency, monetary_value, weights=None)` takes, per customer, the number of
    transactions x >= 1 and their mean value m_x > 0 (lifetimes' convention: repeat
    transactions only); identical rows are folded into weights. Learned: `params_`
    (p, q, gamma; gamma in the money unit), `standard_errors_`, `covariance_`,
    `log_likelihood_`, `n_customers_` and `converged_`; `summary` tabulates them.
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-8, max_iter: int = 2_000) -> None:
        """Set the L2 penalty on the parameters and the optimizer's tolerance and budget."""
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def fit(
        self, frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None = None
    ) -> Self:
        """Estimate (p, q, gamma) from customers' (x, m_x); returns self."""
        x = as_vector(frequency, "frequency")
        m = as_vector(monetary_value, "monetary_value")
        n = check_lengths(frequency=x, monetary_value=m)
        w = weights_of(weights, n)
        if (x < 1).any() or (x != np.round(x)).any():
            raise ValueError("frequency must be whole numbers >= 1 (customers with transactions)")
        if (m <= 0).any():
            raise ValueError("monetary_value must be positive")
        (x, m), w = fold([x, m], w)

        # Work in units of the mean value so gamma starts near 1.
        scale = float(np.average(m, weights=w))
        ms = m / scale
        total = float(w.sum())
        penalizer = self.penalizer

        def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
            theta = np.exp(log_params)
            p, q, gamma = theta
            ll, grad = _log_likelihood_terms(p, q, gamma, x, ms)
            value = -float(w @ ll) / total + penalizer * float(theta @ theta)
            gradient = -(w @ grad) / total * theta + 2 * penalizer * theta * theta
            return value, gradient

        fit = maximize(objective, np.array([0.0, np.log(2.0), 0.0]), self.tol, self.max_iter)
        unscale = np.array([1.0, 1.0, scale])
        theta = np.exp(fit.log_params) * unscale
        cov = covariance(objective, fit.log_params, total) * np.outer(unscale, unscale)
        self._keep_fit(PARAMS, theta, cov, total, fit.converged)
        p, q, gamma = theta
        self.log_likelihood_ = float(w @ _log_likelihood_terms(p, q, gamma, x, m)[0])
        return self

    def conditional_expected_average_value(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> FloatArray:
        """E[M | x, m_x] = (gamma + m_x x) p / (p x + q - 1) (Fader & Hardie 2013, eq. 5).

        A weighted mean of the population mean p gamma / (q - 1) and the customer's own m_x
        (Fader, Hardie & Lee 2005, JMR); customers with x = 0 get the population mean.
        """
        p, q, gamma = (self.params_[k] for k in PARAMS)
        x = np.asarray(frequency, dtype=np.float64)
        m = np.asarray(monetary_value, dtype=np.float64)
        return np.asarray((gamma + m * x) * p / (p * x + q - 1))
