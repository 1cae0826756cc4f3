"""Replenishment: how long a unit of a product lasts, and when each customer is due again.

Input is the warehouse's table of repeat-purchase gaps: for each customer x product, the days
between consecutive purchase days of that product, with the quantity bought at the earlier
day. A gap then measures use-up time plus shopping delay: someone who runs out of shampoo on
day 60 buys it at their next visit, days or weeks later. So, per product:

- `days_per_unit` is a low quantile (by default the lower quartile) of gap / quantity, over
  all its gaps. Dividing by the quantity makes two bottles count as twice the supply. The
  delay is right-skewed and set by how often a customer shops, not by the product, so the
  median mixes it in. On the synthetic retailer (lifetide.synth: re-buying starts at 80% of
  the catalog's replenish_days, then waits for the next order), over the 617 products with
  >= 20 gaps among 60,000 customers, the median's Spearman correlation with replenish_days
  is 0.65 and the lower quartile's 0.80 (0.42 and 0.79 at 20,000). The lower quartile is
  still robust to the occasional impulse re-buy a few days later.
- `source` is "observed" with at least `min_support` gaps; else "catalog" where the product
  is replenishable with a catalog `replenish_days` (read as days per unit, scaled by the
  median observed / catalog ratio over the observed products, so both sources are on the
  gap's scale); else "none" (`days_per_unit` NaN).

`due_dates` adds days_per_unit x the quantity last bought to the last purchase day, for
replenishable products only. With a customer's own history of the product (at least 2 gaps;
`customer_intervals`), the per-unit interval is the credibility-weighted blend
z own + (1 - z) product, z = k / (k + prior_gaps) for k own gaps (Buhlmann 1967, "Experience
rating and credibility", ASTIN Bulletin 4, 199-207): k / (k + kappa) is the best linear
predictor when kappa is the ratio of the within-customer to the between-customer variance of
per-unit gaps; `prior_gaps` = 3 says three own gaps weigh as much as the product's interval.
The customer's own estimate is their median per-unit gap: a habit, delay included. On the
synthetic retailer (20,000 customers), predicting each pair's last gap from the earlier ones
(>= 2) misses by 75.0 days on average with the product's interval alone, 71.9 with
prior_gaps = 3 (71.2 at 5, 71.3 at 10) and 79.9 at 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lifetide.models.fitting import FloatArray, IntArray

BoolArray = NDArray[np.bool_]
StrArray = NDArray[np.str_]

OBSERVED, CATALOG, NONE = "observed", "catalog", "none"
SOURCES = (OBSERVED, CATALOG, NONE)
NO_DUE_DATE = -1  # due_dates' value for products that are not replenished or lack an interval
# Fewer observed products than this leave the catalog's days unscaled.
MIN_PRODUCTS_TO_SCALE = 10


@dataclass(frozen=True)
class ProductIntervals:
    """Per product: days one unit lasts, number of gaps behind it, source, replenishable.

    `catalog_scale` is the factor applied to the catalog's replenish_days (1.0 when fewer
    than MIN_PRODUCTS_TO_SCALE products have both an observed and a catalog interval).
    """

    days_per_unit: FloatArray  # NaN where source is "none"
    support: IntArray
    source: StrArray
    replenishable: BoolArray
    catalog_scale: float


@dataclass(frozen=True)
class CustomerIntervals:
    """Per customer x product pair: median days per unit of their own gaps, and how many."""

    days_per_unit: FloatArray  # NaN where support is 0
    support: IntArray


def _vector(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _positive(values: ArrayLike, name: str) -> FloatArray:
    """A 1-D array of finite positive numbers, or a ValueError naming the argument."""
    array = _vector(values, name)
    if not np.isfinite(array).all() or (array <= 0).any():
        raise ValueError(f"{name} must be finite and positive")
    return array


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


def _same_length(**arrays: NDArray[np.generic]) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs differ in length: {lengths}")
    return next(iter(lengths.values()))


def _grouped_quantile(
    group: IntArray, values: FloatArray, n_groups: int, q: float
) -> tuple[FloatArray, IntArray]:
    """The q-quantile of values per group (numpy's linear rule; NaN if empty), and counts."""
    order = np.lexsort((values, group))
    ordered = values[order]
    counts = np.bincount(group, minlength=n_groups).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    position = (np.maximum(counts, 1) - 1) * q
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, np.maximum(counts - 1, 0))
    frac = position - low
    result = np.full(n_groups, np.nan)
    has = counts > 0
    lo_v = ordered[starts[has] + low[has]]
    hi_v = ordered[starts[has] + high[has]]
    result[has] = lo_v + frac[has] * (hi_v - lo_v)
    return result, counts


def _per_unit_gaps(codes: IntArray, gap_days: ArrayLike, quantity: ArrayLike) -> FloatArray:
    """Checked days per unit of each gap: gap_days / quantity."""
    gaps = _positive(gap_days, "gap_days")
    amount = _positive(quantity, "quantity")
    _same_length(codes=codes, gap_days=gaps, quantity=amount)
    return gaps / amount


def product_intervals(
    product: ArrayLike,
    gap_days: ArrayLike,
    quantity: ArrayLike,
    n_products: int,
    catalog_days: ArrayLike,
    replenishable: ArrayLike,
    min_support: int = 20,
    quantile: float = 0.25,
) -> ProductIntervals:
    """Days one unit of each product lasts, from repeat-purchase gaps or the catalog.

    `product` (codes 0..n_products-1), `gap_days` (> 0) and `quantity` (bought at the gap's
    start, > 0) are one row per gap; `catalog_days` (NaN or <= 0 where unknown) and
    `replenishable` one row per product. See the module docstring.
    """
    if not 0 <= quantile <= 1:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")
    if min_support < 1:
        raise ValueError(f"min_support must be at least 1, got {min_support}")
    codes = _codes(product, "product", n_products)
    per_unit = _per_unit_gaps(codes, gap_days, quantity)
    catalog = _vector(catalog_days, "catalog_days")
    flags = np.asarray(replenishable)
    if flags.dtype != np.bool_:
        raise ValueError(f"replenishable must be booleans, got dtype {flags.dtype}")
    if not len(catalog) == len(flags) == n_products:
        raise ValueError(
            f"catalog_days and replenishable need one row per product ({n_products}): "
            f"inputs differ in length: {len(catalog)}, {len(flags)}"
        )

    observed, support = _grouped_quantile(codes, per_unit, n_products, quantile)
    enough = support >= min_support
    known = flags & np.isfinite(catalog) & (catalog > 0)
    both = enough & known
    scale = 1.0
    if both.sum() >= MIN_PRODUCTS_TO_SCALE:
        scale = float(np.median(observed[both] / catalog[both]))
    days = np.where(enough, observed, np.where(known, catalog * scale, np.nan))
    source = np.where(enough, OBSERVED, np.where(known, CATALOG, NONE))
    return ProductIntervals(days, support, source, flags.copy(), scale)


def customer_intervals(
    pair: ArrayLike, gap_days: ArrayLike, quantity: ArrayLike, n_pairs: int
) -> CustomerIntervals:
    """Per customer x product pair (codes 0..n_pairs-1), the median of their per-unit gaps."""
    codes = _codes(pair, "pair", n_pairs)
    per_unit = _per_unit_gaps(codes, gap_days, quantity)
    median, support = _grouped_quantile(codes, per_unit, n_pairs, 0.5)
    return CustomerIntervals(median, support)


def due_dates(
    last_purchase_day: ArrayLike,
    last_quantity: ArrayLike,
    product: ArrayLike,
    intervals: ProductIntervals,
    customer_gaps: CustomerIntervals | None = None,
    prior_gaps: float = 3.0,
) -> IntArray:
    """Day each customer x product is due again; NO_DUE_DATE where it cannot be said.

    One row per customer x product: the last purchase day (whole days, >= 0, any epoch), the
    quantity bought then and the product code; `customer_gaps`, aligned with the rows, blends
    in the customer's own history (see the module docstring). Products that are not
    replenishable, or have no interval from any source, get NO_DUE_DATE. The due date is at
    least a day after the last purchase.
    """
    day = _vector(last_purchase_day, "last_purchase_day")
    if not np.isfinite(day).all() or (day < 0).any() or (day != np.round(day)).any():
        raise ValueError("last_purchase_day must be whole days >= 0")
    amount = _positive(last_quantity, "last_quantity")
    codes = _codes(product, "product", len(intervals.days_per_unit))
    _same_length(last_purchase_day=day, last_quantity=amount, product=codes)
    if not np.isfinite(prior_gaps) or prior_gaps < 0:
        raise ValueError(f"prior_gaps must be >= 0, got {prior_gaps}")

    per_unit = intervals.days_per_unit[codes]
    if customer_gaps is not None:
        _same_length(
            rows=day, days_per_unit=customer_gaps.days_per_unit, support=customer_gaps.support
        )
        k = customer_gaps.support.astype(np.float64)
        usable = (k >= 2) & np.isfinite(customer_gaps.days_per_unit)
        z = np.where(usable, k / (k + prior_gaps), 0.0)
        # Without a product interval, a customer's own history (>= 2 gaps) stands alone.
        z = np.where(usable & ~np.isfinite(per_unit), 1.0, z)
        own = np.where(usable, customer_gaps.days_per_unit, 0.0)
        product_part = np.where(np.isfinite(per_unit), per_unit, 0.0)
        per_unit = np.where(z > 0, z * own + (1 - z) * product_part, per_unit)
    ok = intervals.replenishable[codes] & np.isfinite(per_unit)
    ahead = np.maximum(np.rint(np.where(ok, per_unit, 0.0) * amount), 1.0)
    due = np.where(ok, day + ahead, NO_DUE_DATE)
    return due.astype(np.int64)
