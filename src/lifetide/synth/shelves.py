"""The catalog indexed for each way a shopper picks a product, built once per run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifetide.synth.assortment import BRANDS, CATEGORIES, TIERS
from lifetide.synth.catalog import Catalog
from lifetide.synth.selection import GroupSampler, PriceIndex

N_CATEGORIES = len(CATEGORIES)
N_TIERS = len(TIERS)
N_BRANDS = len(BRANDS)


@dataclass(frozen=True)
class Shelves:
    """Samplers over the catalog: by category x tier, x brand, clearance, and by price."""

    catalog: Catalog
    by_tier: GroupSampler  # group = category * N_TIERS + tier
    by_brand: GroupSampler  # group = category * N_BRANDS + brand
    replenishable: GroupSampler  # group = category * N_TIERS + tier, replenishable only
    clearance: GroupSampler  # group = category, clearance-eligible only
    popular: GroupSampler  # group 0: the whole catalog
    by_price: PriceIndex  # per category
    any_price: PriceIndex  # the whole catalog as category 0


def stock(catalog: Catalog) -> Shelves:
    """Index `catalog` for every kind of draw."""
    weight = catalog.popularity
    tier_group = catalog.category * N_TIERS + catalog.tier
    zeros = np.zeros(catalog.size, dtype=np.int64)
    return Shelves(
        catalog=catalog,
        by_tier=GroupSampler(tier_group, weight, N_CATEGORIES * N_TIERS),
        by_brand=GroupSampler(
            catalog.category * N_BRANDS + catalog.brand, weight, N_CATEGORIES * N_BRANDS
        ),
        replenishable=GroupSampler(
            np.where(catalog.replenishable, tier_group, -1), weight, N_CATEGORIES * N_TIERS
        ),
        clearance=GroupSampler(
            np.where(catalog.clearance_ok, catalog.category, -1), weight, N_CATEGORIES
        ),
        popular=GroupSampler(zeros, weight, 1),
        by_price=PriceIndex(catalog.category, catalog.price_cents, N_CATEGORIES),
        any_price=PriceIndex(zeros, catalog.price_cents, 1),
    )
