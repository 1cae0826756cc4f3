"""Persons and their latent traits: the truth that every table is drawn from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray
from lifetide.synth.assortment import CATEGORIES, CATEGORY_SHARES, TIERS
from lifetide.synth.config import SynthConfig
from lifetide.synth.shelves import Shelves

# Dirichlet concentration of category preferences: ~2.5 makes most shoppers lean on one or two
# categories, as beauty buyers do (a fragrance buyer, a skincare devotee).
CATEGORY_CONCENTRATION = 2.5
N_CATEGORIES = len(CATEGORIES)
N_TIERS = len(TIERS)
MAX_STAPLES = 3
# Per uplift class (persuadable, sure_thing, lost_cause, sleeping_dog): Beta parameters of the
# e-mail open probability and of the click probability given an open, and the probability of
# unsubscribing from a delivered e-mail.
OPEN_BETA = ((3.0, 6.0), (3.0, 5.0), (1.0, 12.0), (2.0, 8.0))
CLICK_BETA = ((2.0, 8.0), (2.0, 10.0), (1.0, 30.0), (1.0, 15.0))
UNSUBSCRIBE = (0.001, 0.0005, 0.002, 0.02)
# Share of a person's orders that carry a promo code, by discount class; discount seekers use
# one on most orders whatever their class.
PROMO_USE = (0.45, 0.15, 0.05, 0.01)
PROMO_USE_SEEKER = 0.80


@dataclass(frozen=True)
class Persons:
    """One chunk of persons; arrays are indexed by the person's position in the chunk."""

    index: IntArray  # global person number, 0-based
    acquired: FloatArray  # days since the history start
    buyer: BoolArray
    lam: FloatArray  # BG/NBD purchase rate per week
    p_drop: FloatArray
    nu: FloatArray  # Gamma-Gamma rate (1/USD)
    category_pref: FloatArray  # (n, categories)
    tier_pref: FloatArray  # (n, tiers)
    brand_loyalty: FloatArray
    favourite_brand: IntArray  # (n, categories) brand number
    store_share: FloatArray
    loyalty_member: BoolArray
    email_class: IntArray
    discount_class: IntArray
    discount_seeker: BoolArray
    clearance_lover: BoolArray
    return_prob: FloatArray
    open_prob: FloatArray
    click_prob: FloatArray
    unsubscribe_prob: FloatArray
    promo_prob: FloatArray
    devices: IntArray  # 1-3 browsers or phones
    staples: IntArray  # (n, MAX_STAPLES) replenishable products re-bought, -1 = none

    @property
    def size(self) -> int:
        """Number of persons in the chunk."""
        return len(self.index)


def acquisition_days(n: int, days: int, growth: float, rng: np.random.Generator) -> FloatArray:
    """Sign-up instants: intensity growing exponentially by `growth` over the history."""
    u = rng.random(n)
    if abs(growth - 1) < 1e-9:
        return np.asarray(u * days, dtype=np.float64)
    return np.asarray(days * np.log1p(u * (growth - 1)) / np.log(growth), dtype=np.float64)


def categorical(prob: FloatArray, u: FloatArray) -> IntArray:
    """Row-wise categorical draw from a matrix of probabilities."""
    cumulative = np.cumsum(prob, axis=1)
    cumulative[:, -1] = 1.0
    return np.asarray((u[:, None] > cumulative).sum(axis=1), dtype=np.int64)


def draw_persons(
    config: SynthConfig,
    index: IntArray,
    days: int,
    shelves: Shelves,
    rng: np.random.Generator,
) -> Persons:
    """Draw the latent traits of the persons numbered `index`."""
    n = len(index)
    buyer = rng.random(n) >= config.never_purchased
    lam = rng.gamma(config.bgnbd_r, 1.0 / config.bgnbd_alpha, n)
    p_drop = rng.beta(config.bgnbd_a, config.bgnbd_b, n)
    nu = rng.gamma(config.gg_q, 1.0 / config.gg_gamma, n)

    shares = np.array(CATEGORY_SHARES)
    category_pref = rng.dirichlet(shares * CATEGORY_CONCENTRATION, n)
    # Big spenders lean prestige, small spenders budget: the tier follows the Gamma-Gamma mean.
    mean_spend = config.gg_p / nu
    lean = np.log(mean_spend / 70.0) / 0.6
    logits = np.stack([-lean, np.zeros(n), lean], axis=1) * 1.2 + rng.normal(0, 0.6, (n, N_TIERS))
    logits += np.array([0.0, 0.6, -0.2])
    tier_pref = np.exp(logits)
    tier_pref /= tier_pref.sum(axis=1, keepdims=True)

    # Favourite brand per category: the brand of a product drawn in that category and the
    # person's own favourite tier.
    top_tier = np.repeat(categorical(tier_pref, rng.random(n)), N_CATEGORIES)
    cats = np.tile(np.arange(N_CATEGORIES), n)
    favourite = shelves.by_tier.draw(cats * N_TIERS + top_tier, rng.random(n * N_CATEGORIES))
    favourite_brand = shelves.catalog.brand[np.maximum(favourite, 0)].reshape(n, N_CATEGORIES)

    mode = rng.random(n)
    store_share = np.where(
        mode < config.store_only,
        1.0,
        np.where(mode < config.store_only + config.online_only, 0.0, rng.beta(2.0, 2.5, n)),
    )
    lean_store = 0.5 + store_share
    loyalty_member = rng.random(n) < np.clip(
        config.loyalty_member * lean_store / (0.5 + _mean_store_share(config)), 0, 0.95
    )

    email_class = rng.choice(4, size=n, p=np.array(config.email_classes))
    discount_class = rng.choice(4, size=n, p=np.array(config.discount_classes))
    seeker_given = np.array(config.discount_seeker_given_class)
    discount_seeker = rng.random(n) < seeker_given[discount_class]
    # Discount seekers hunt clearance too; the others' rate is set so the overall share holds.
    seeker_share = float(np.dot(config.discount_classes, seeker_given))
    clear_seeker = min(1.0, 2.5 * config.clearance_lover)
    clear_other = max(
        0.0, (config.clearance_lover - seeker_share * clear_seeker) / (1 - seeker_share)
    )
    clearance_lover = rng.random(n) < np.where(discount_seeker, clear_seeker, clear_other)
    # Beta(0.6, .) keeps most people near zero and a few serial returners.
    return_prob = rng.beta(0.6, 0.6 * (1 - config.return_rate) / config.return_rate, n)

    open_ab = np.array(OPEN_BETA)[email_class]
    click_ab = np.array(CLICK_BETA)[email_class]
    promo_prob = np.where(discount_seeker, PROMO_USE_SEEKER, np.array(PROMO_USE)[discount_class])

    staples = _draw_staples(n, category_pref, tier_pref, shelves, rng)
    return Persons(
        index=index,
        acquired=acquisition_days(n, days, config.cohort_growth, rng),
        buyer=buyer,
        lam=lam,
        p_drop=p_drop,
        nu=nu,
        category_pref=category_pref,
        tier_pref=tier_pref,
        brand_loyalty=rng.beta(2.0, 3.0, n),
        favourite_brand=favourite_brand,
        store_share=store_share,
        loyalty_member=loyalty_member,
        email_class=email_class,
        discount_class=discount_class,
        discount_seeker=discount_seeker,
        clearance_lover=clearance_lover,
        return_prob=return_prob,
        open_prob=rng.beta(open_ab[:, 0], open_ab[:, 1]),
        click_prob=rng.beta(click_ab[:, 0], click_ab[:, 1]),
        unsubscribe_prob=np.array(UNSUBSCRIBE)[email_class],
        promo_prob=promo_prob,
        devices=rng.choice(np.array([1, 2, 3]), size=n, p=np.array([0.45, 0.40, 0.15])),
        staples=staples,
    )


def _mean_store_share(config: SynthConfig) -> float:
    mixed = 1 - config.store_only - config.online_only
    return config.store_only + mixed * 2.0 / 4.5


def _draw_staples(
    n: int,
    category_pref: FloatArray,
    tier_pref: FloatArray,
    shelves: Shelves,
    rng: np.random.Generator,
) -> IntArray:
    """0-3 replenishable products per person, from their categories and tiers."""
    count = rng.choice(MAX_STAPLES + 1, size=n, p=np.array([0.30, 0.35, 0.25, 0.10]))
    rows = np.repeat(np.arange(n), MAX_STAPLES)
    cat = categorical(category_pref[rows], rng.random(len(rows)))
    tier = categorical(tier_pref[rows], rng.random(len(rows)))
    product = shelves.replenishable.draw(cat * N_TIERS + tier, rng.random(len(rows))).reshape(
        n, MAX_STAPLES
    )
    product[np.arange(MAX_STAPLES)[None, :] >= count[:, None]] = -1
    # The same product twice is one staple.
    product[:, 1] = np.where(product[:, 1] == product[:, 0], -1, product[:, 1])
    product[:, 2] = np.where(
        (product[:, 2] == product[:, 0]) | (product[:, 2] == product[:, 1]), -1, product[:, 2]
    )
    return product
