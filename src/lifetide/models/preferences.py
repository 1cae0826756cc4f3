"""Discount sensitivity and price-tier preference from per-customer purchase aggregates.

Both are shares estimated from few purchases, so both are shrunk toward the population by
empirical Bayes (Efron & Morris 1975, "Data Analysis Using Stein's Estimator and its
Generalizations", JASA 70, 311-319; Casella 1985, "An Introduction to Empirical Bayes Data
Analysis", The American Statistician 39, 83-87): a share k/n becomes the posterior mean
(k + alpha) / (n + alpha + beta) under a Beta(alpha, beta) prior fitted to all customers. A
customer with one discounted unit is not a "promo_only" shopper; one with forty of fifty is.

- `discount_sensitivity(units, units_discounted, units_clearance, orders=None,
  thresholds=DiscountThresholds())` gives `score`, the shrunk share of units bought
  discounted (a line discount or an order-level promo code; clearance markdowns included),
  `label`, one of LABELS, and `clearance_score`, the shrunk share bought on clearance. The
  Beta priors are fitted by Kleinman's (1973) method of moments for beta-binomial data.
  Units of one order share its promo code, so they are not independent trials: given
  `orders`, each customer's evidence counts as their number of orders (Kish's design effect
  for cluster samples: the share is kept, the sample size is the number of clusters).
- `price_tiers(customer, category, tier, units, n_customers, n_categories)` gives, per
  (customer, category) bought, the preferred tier (0 budget, 1 mid, 2 prestige: the largest
  of the tier shares shrunk toward that category's tier mix by a Dirichlet-multinomial
  prior), and per customer an overall tier: the largest of the shrunk shares averaged over
  their categories, weighted by units ("unknown" without units). Averaging the shares, not
  the tier index, keeps a customer who buys budget shampoo and prestige perfume from
  reading as "mid" (a tier they never buy); shrinking within each category means one unit
  says little where that category's own mix already says much. Ties go to mid, then budget.
  The overall tier is absolute, not relative to the categories' norms: a shopper of a
  prestige-heavy category leans prestige.

Inputs are arrays aligned by customer (or, for tiers, a long table of rows); nothing here
reads or writes data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lifetide.models.fitting import FloatArray, IntArray

StrArray = NDArray[np.str_]

TIERS = ("budget", "mid", "prestige")
UNKNOWN = "unknown"
PROMO_ONLY, PROMO_LEANING, FULL_PRICE, CLEARANCE_LOVER = (
    "promo_only",
    "promo_leaning",
    "full_price",
    "clearance_lover",
)
LABELS = (PROMO_ONLY, PROMO_LEANING, FULL_PRICE, CLEARANCE_LOVER, UNKNOWN)

# Beyond these, the method of moments says "no spread between customers" or "each customer
# is all-or-nothing"; the clip keeps the prior proper and the shrinkage well defined.
_MIN_ICC, _MAX_ICC = 1e-6, 1 - 1e-6
# With one trial per customer the spread between customers is not identified: a prior worth
# two observations (Beta(2 mu, 2 (1 - mu))) is then assumed.
_UNIDENTIFIED_ICC = 1 / 3


@dataclass(frozen=True)
class DiscountThresholds:
    """Cut-offs on the shrunk shares that name a customer's discount class.

    A customer with units is "clearance_lover" when `clearance_score >= clearance_lover`
    (checked first: at ~3% of units, clearance is the rarer and more specific signal), else
    "promo_only" when `score >= promo_only`, "promo_leaning" when `score >= promo_leaning`,
    and "full_price" otherwise. Defaults: 0.6 (three units in five discounted, after
    shrinkage), 0.3 and 0.10 (one unit in ten from clearance, ~3x a typical base rate). On
    the synthetic retailer (5,000 customers; 0.24 of units discounted and 0.03 on clearance
    on average), among records with >= 3 orders, "promo_only" finds discount seekers with
    precision 0.88 and recall 0.69, "clearance_lover" clearance lovers with 0.93 and 0.32.
    """

    promo_only: float = 0.6
    promo_leaning: float = 0.3
    clearance_lover: float = 0.10

    def __post_init__(self) -> None:
        """Reject cut-offs outside [0, 1] or in the wrong order."""
        for name in ("promo_only", "promo_leaning", "clearance_lover"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.promo_leaning > self.promo_only:
            raise ValueError("promo_leaning must not exceed promo_only")


class BetaPrior(NamedTuple):
    """A Beta(alpha, beta) prior on a share: mean alpha / (alpha + beta)."""

    alpha: float
    beta: float


class DiscountSensitivity(NamedTuple):
    """Per customer: shrunk discounted share, class label and shrunk clearance share."""

    score: FloatArray
    label: StrArray
    clearance_score: FloatArray


class CategoryTiers(NamedTuple):
    """Per (customer, category) with units, sorted by customer then category."""

    customer: IntArray
    category: IntArray
    tier: IntArray  # 0 budget, 1 mid, 2 prestige
    units: FloatArray
    shares: FloatArray  # (cells, 3) shrunk tier shares


class PriceTiers(NamedTuple):
    """Overall tier label per customer ("unknown" without units) and per-category tiers."""

    overall: StrArray
    per_category: CategoryTiers


def _counts(values: ArrayLike, name: str) -> FloatArray:
    """A 1-D array of finite, non-negative counts, or a ValueError naming the argument."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    return array


def fit_beta_prior(successes: ArrayLike, trials: ArrayLike) -> BetaPrior:
    """Beta prior of per-customer shares k / n by Kleinman's (1973) method of moments.

    Kleinman, J. C. (1973), "Proportions with Extraneous Variance: Single and Independent
    Samples", JASA 68, 546-551; the two-category case of `_dirichlet_prior`. Rows without
    trials are ignored; counts may be fractional.
    """
    k = _counts(successes, "successes")
    n = _counts(trials, "trials")
    if k.shape != n.shape:
        raise ValueError(f"successes and trials differ in length: {len(k)}, {len(n)}")
    if (k > n).any():
        raise ValueError("successes must not exceed trials")
    seen = n > 0
    if not seen.any():
        raise ValueError("no row has trials: the prior cannot be fitted")
    counts = np.stack([k[seen], n[seen] - k[seen]], axis=1)
    strength, mean = _dirichlet_prior(counts, np.zeros(len(counts), dtype=np.intp), 1)
    return BetaPrior(float(strength[0] * mean[0, 0]), float(strength[0] * mean[0, 1]))


def _shrunk(successes: FloatArray, trials: FloatArray) -> FloatArray:
    """Posterior mean share per row under the fitted Beta prior; the prior mean without trials."""
    if not (trials > 0).any():
        return np.zeros(len(trials))
    alpha, beta = fit_beta_prior(successes, trials)
    return np.asarray((successes + alpha) / (trials + alpha + beta), dtype=np.float64)


def discount_sensitivity(
    units: ArrayLike,
    units_discounted: ArrayLike,
    units_clearance: ArrayLike,
    orders: ArrayLike | None = None,
    thresholds: DiscountThresholds | None = None,
) -> DiscountSensitivity:
    """Shrunk discounted and clearance shares of each customer's units, and a class label.

    Customers without units get the population's shares and the label "unknown"; with no
    units anywhere, scores are 0. See the module docstring and `DiscountThresholds`.
    """
    limits = thresholds if thresholds is not None else DiscountThresholds()
    n = _counts(units, "units")
    discounted = _counts(units_discounted, "units_discounted")
    clearance = _counts(units_clearance, "units_clearance")
    if not len(n) == len(discounted) == len(clearance):
        raise ValueError(
            "units, units_discounted and units_clearance differ in length: "
            f"{len(n)}, {len(discounted)}, {len(clearance)}"
        )
    if (discounted > n).any():
        raise ValueError("units_discounted must not exceed units")
    if (clearance > n).any():
        raise ValueError("units_clearance must not exceed units")
    trials = n
    if orders is not None:
        clusters = _counts(orders, "orders")
        if len(clusters) != len(n):
            raise ValueError(f"orders has {len(clusters)} rows, units {len(n)}")
        if ((clusters > 0) != (n > 0)).any() or (clusters > n).any():
            raise ValueError("orders must be positive exactly where units are, and <= units")
        trials = clusters
    # The same share, with its evidence counted in orders (clusters of units) when given.
    share = np.divide(discounted, n, out=np.zeros_like(n), where=n > 0)
    score = _shrunk(share * trials, trials)
    # Clearance is picked line by line, not order by order: its evidence stays in units.
    clearance_score = _shrunk(clearance, n)

    label = np.full(len(n), FULL_PRICE, dtype=f"<U{max(map(len, LABELS))}")
    label[score >= limits.promo_leaning] = PROMO_LEANING
    label[score >= limits.promo_only] = PROMO_ONLY
    label[clearance_score >= limits.clearance_lover] = CLEARANCE_LOVER
    label[n == 0] = UNKNOWN
    return DiscountSensitivity(score, label, clearance_score)


def _sums(index: IntArray, weights: FloatArray, size: int) -> FloatArray:
    """Sums of weights by index (0 <= index < size)."""
    if size == 1:
        # A plain sum is ~20x faster than bincount on long arrays.
        return np.array([weights.sum()])
    return np.asarray(np.bincount(index, weights=weights, minlength=size), dtype=np.float64)


def _codes(values: ArrayLike, name: str, size: int) -> IntArray:
    """1-D whole numbers in [0, size), or a ValueError naming the argument."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        as_float = array.astype(np.float64)
        if not np.isfinite(as_float).all() or (as_float != np.round(as_float)).any():
            raise ValueError(f"{name} must be whole numbers")
    codes = array.astype(np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= size):
        raise ValueError(f"{name} must be in [0, {size})")
    return codes


def _dirichlet_prior(
    counts: FloatArray, group: IntArray, n_groups: int
) -> tuple[FloatArray, FloatArray]:
    """Per group, a Dirichlet prior on rows' shares: strength s and mean, by moments.

    Rows (customers) have counts n_ij over categories j with E[share_ij] = mu_j and
    Var(share_ij) = mu_j (1 - mu_j) (1 + (n_i - 1) rho) / n_i, rho = 1 / (s + 1), the same
    rho for every j (Mosimann 1962, "On the compound multinomial distribution", Biometrika
    49, 65-82). Kleinman's (1973) moment equation for the weighted spread
    S_j = sum w_i (share_ij - mu_j)^2, E[S_j] = mu_j (1 - mu_j) [sum w a - sum w^2 a / W
    + rho (sum w b - sum w^2 b / W)] with a = 1 / n_i, b = (n_i - 1) / n_i, W = sum w, is
    summed over j and solved for rho; the weights are then set to the inverse variances
    n_i / (1 + (n_i - 1) rho) and the whole re-solved (four rounds suffice). Where rho is not
    identified (one trial per row, or all counts in one category) s = 2 is assumed: a prior
    worth two observations.
    """
    n = counts.sum(axis=1)
    share = counts / n[:, None]
    inv_n = 1 / n
    square = (share * share).sum(axis=1)
    k = counts.shape[1]
    rho = np.full(n_groups, _UNIDENTIFIED_ICC)
    weights = n.copy()
    mean = np.zeros((n_groups, k))
    for _ in range(4):
        w2 = weights * weights
        total = _sums(group, weights, n_groups)
        safe_total = np.where(total > 0, total, 1.0)
        mean = np.stack([_sums(group, weights * share[:, j], n_groups) for j in range(k)], axis=1)
        mean /= safe_total[:, None]
        # sum w |share - mean|^2 = sum w |share|^2 - W |mean|^2; b = 1 - a.
        spread = _sums(group, weights * square, n_groups) - total * (mean * mean).sum(axis=1)
        variance = (mean * (1 - mean)).sum(axis=1)
        wa, w2a = _sums(group, weights * inv_n, n_groups), _sums(group, w2 * inv_n, n_groups)
        w2_total = _sums(group, w2, n_groups)
        base = wa - w2a / safe_total
        slope = (total - wa) - (w2_total - w2a) / safe_total
        # Rounding can leave a tiny positive slope where every n_i is 1.
        ok = (slope > 1e-9 * np.maximum(total, 1.0)) & (variance > 0)
        estimate = np.divide(
            spread / np.where(ok, variance, 1.0) - base,
            slope,
            out=np.full(n_groups, _UNIDENTIFIED_ICC),
            where=ok,
        )
        rho = np.where(ok, np.clip(estimate, _MIN_ICC, _MAX_ICC), _UNIDENTIFIED_ICC)
        weights = n / (1 + (n - 1) * rho[group])
    return np.asarray(1 / rho - 1, dtype=np.float64), mean


def price_tiers(
    customer: ArrayLike,
    category: ArrayLike,
    tier: ArrayLike,
    units: ArrayLike,
    n_customers: int,
    n_categories: int,
) -> PriceTiers:
    """Preferred price tier per (customer, category) bought, and overall per customer.

    Rows are (customer index, category code, tier code 0/1/2, units), repeats allowed. Each
    cell's tier shares are shrunk toward its category's mix of tiers by a
    Dirichlet-multinomial prior whose strength is fitted per category; see the module
    docstring for the overall tier.
    """
    n_tiers = len(TIERS)
    who = _codes(customer, "customer", n_customers)
    cat = _codes(category, "category", n_categories)
    level = _codes(tier, "tier", n_tiers)
    amount = _counts(units, "units")
    if not len(who) == len(cat) == len(level) == len(amount):
        raise ValueError(
            "customer, category, tier and units differ in length: "
            f"{len(who)}, {len(cat)}, {len(level)}, {len(amount)}"
        )
    keep = amount > 0
    cell_key = who[keep] * n_categories + cat[keep]
    cells, at = np.unique(cell_key, return_inverse=True)
    counts = _sums(at.ravel() * n_tiers + level[keep], amount[keep], len(cells) * n_tiers)
    counts = counts.reshape(len(cells), n_tiers)
    cell_customer = cells // n_categories
    cell_category = cells % n_categories

    cell_units = counts.sum(axis=1)
    strength, mix = _dirichlet_prior(counts, cell_category, n_categories)
    prior = strength[cell_category, None] * mix[cell_category]
    shares = (counts + prior) / (cell_units + strength[cell_category])[:, None]
    # Ties go to the middle tier, then to the cheaper one: neither extreme is claimed on a tie.
    preference = np.argmax(shares[:, [1, 0, 2]], axis=1)
    cell_tier = np.array([1, 0, 2])[preference]

    weighted = np.stack(
        [_sums(cell_customer, cell_units * shares[:, j], n_customers) for j in range(n_tiers)],
        axis=1,
    )
    overall_code = np.array([1, 0, 2])[np.argmax(weighted[:, [1, 0, 2]], axis=1)]
    bought = _sums(cell_customer, cell_units, n_customers) > 0
    names = np.array([*TIERS, UNKNOWN])
    overall = names[np.where(bought, overall_code, n_tiers)]
    return PriceTiers(
        overall,
        CategoryTiers(
            cell_customer.astype(np.int64),
            cell_category.astype(np.int64),
            cell_tier.astype(np.int64),
            cell_units,
            shares,
        ),
    )
