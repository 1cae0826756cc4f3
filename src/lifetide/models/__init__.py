"""Customer-base models with a scikit-learn-style API: BG/NBD and Gamma-Gamma."""

from lifetide.models.bgnbd import BGNBD, bgnbd_log_likelihood
from lifetide.models.gamma_gamma import GammaGamma, gamma_gamma_log_likelihood

__all__ = ["BGNBD", "GammaGamma", "bgnbd_log_likelihood", "gamma_gamma_log_likelihood"]
