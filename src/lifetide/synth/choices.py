"""How a person picks a product: a category by taste, then clearance, brand or tier."""

from __future__ import annotations

import numpy as np

from lifetide.synth.arraytypes import BoolArray, IntArray
from lifetide.synth.people import N_TIERS, Persons, categorical
from lifetide.synth.shelves import N_BRANDS, Shelves

# Share of lines bought at a clearance markdown, for clearance lovers and for the others.
CLEARANCE_LOVER_SHARE = 0.35
CLEARANCE_OTHER_SHARE = 0.04


def pick_products(
    persons: Persons,
    who: IntArray,
    shelves: Shelves,
    rng: np.random.Generator,
    allow_clearance: bool = True,
) -> tuple[IntArray, BoolArray]:
    """One product for each entry of `who` (person positions), and whether it is clearance.

    The category follows the person's Dirichlet preference; then a clearance item (clearance
    lovers far more often), else the favourite brand of that category with probability equal
    to the person's brand loyalty, else a product of a tier drawn from their tier preference.
    Within any of these, products are drawn by popularity.
    """
    n = len(who)
    category = categorical(persons.category_pref[who], rng.random(n))
    clearance_share = np.where(
        persons.clearance_lover[who], CLEARANCE_LOVER_SHARE, CLEARANCE_OTHER_SHARE
    )
    clearance = allow_clearance & (rng.random(n) < clearance_share)
    loyal = rng.random(n) < persons.brand_loyalty[who]
    tier = categorical(persons.tier_pref[who], rng.random(n))
    u = rng.random(n)

    product = np.full(n, -1, dtype=np.int64)
    product[clearance] = shelves.clearance.draw(category[clearance], u[clearance])
    clearance &= product >= 0
    brand_rows = ~clearance & loyal
    favourite = persons.favourite_brand[who[brand_rows], category[brand_rows]]
    product[brand_rows] = shelves.by_brand.draw(
        category[brand_rows] * N_BRANDS + favourite, u[brand_rows]
    )
    # Tier draws, and the fallback for any empty group above.
    rest = product < 0
    product[rest] = shelves.by_tier.draw(category[rest] * N_TIERS + tier[rest], u[rest])
    rest = product < 0
    product[rest] = shelves.by_tier.draw(category[rest] * N_TIERS + 1, u[rest])
    rest = product < 0
    product[rest] = shelves.popular.draw(np.zeros(int(rest.sum()), dtype=np.int64), u[rest])
    return product, clearance


def pick_popular(n: int, shelves: Shelves, rng: np.random.Generator) -> IntArray:
    """Products drawn by popularity alone (what an anonymous visitor looks at)."""
    return shelves.popular.draw(np.zeros(n, dtype=np.int64), rng.random(n))


def draw_categories(persons: Persons, who: IntArray, rng: np.random.Generator) -> IntArray:
    """A category per entry of `who`, by the person's preference."""
    return categorical(persons.category_pref[who], rng.random(len(who)))
