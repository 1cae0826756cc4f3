"""Customer-base models with a scikit-learn-style API: BG/NBD, Pareto/NBD and Gamma-Gamma."""

from lifetide.models.bgnbd import BGNBD, bgnbd_log_likelihood
from lifetide.models.gamma_gamma import GammaGamma, gamma_gamma_log_likelihood
from lifetide.models.pareto_nbd import ParetoNBD, pareto_nbd_log_likelihood
from lifetide.models.summary import CustomerSummary, summarize_transactions

__all__ = [
    "BGNBD",
    "CustomerSummary",
    "GammaGamma",
    "ParetoNBD",
    "bgnbd_log_likelihood",
    "gamma_gamma_log_likelihood",
    "pareto_nbd_log_likelihood",
    "summarize_transactions",
]
