"""What each order holds, and what it costs.

Gamma-Gamma (Fader & Hardie 2013): each person has nu ~ Gamma(q, rate gamma); each of their
orders has a value z ~ Gamma(p, rate nu) in USD. The quantity that follows this law is the
order's merchandise value after discounts, `subtotal - discount` (no shipping, no tax,
returns not deducted); cancelled orders are not purchases.

An order is realized from real catalog products so that subtotal - discount lands on z:
1. staples (replenishable products the person re-buys) due again since their last purchase
   (>= 80% of replenish_days), then products picked by taste (choices.py);
2. lines are kept while their running net value stays at or below z - 3 USD;
3. a last line fills the remainder: a product of a preferred category priced within 3% of
   it (quantity > 1 when it exceeds the category's dearest product).
So subtotal - discount = z up to the price grid: within 3% of the last line's price, and the
whole z when z is below the cheapest product (a few cents, rarely). The per-order draw z is
kept in the truth (`target`) so the gap can be measured; it is far inside the model's noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifetide.synth import money, segments
from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray
from lifetide.synth.choices import draw_categories, pick_products
from lifetide.synth.config import SynthConfig
from lifetide.synth.people import MAX_STAPLES, Persons
from lifetide.synth.promotions import FREE_SHIPPING, RATES, choose_promos
from lifetide.synth.purchases import Purchases
from lifetide.synth.shelves import Shelves
from lifetide.synth.timeline import Timeline

REMAINDER_CENTS = 300  # the filler line is at least this much
PRICE_TOLERANCE = 0.03
MAX_TASTE_LINES = 12
FREE_SHIPPING_FROM = 5_000  # cents of merchandise after discounts
SHIPPING_CENTS = 595
CLEARANCE_MARKDOWNS = np.array([0.30, 0.40, 0.50])
STAPLE_DUE = 0.8  # share of replenish_days after which a staple is bought again
STAPLE_TAKE = 0.85  # probability a due staple is in the order
# Status codes, as in schema.ORDER_STATUSES.
COMPLETED, PARTIALLY_RETURNED, RETURNED, CANCELLED = 0, 1, 2, 3


@dataclass(frozen=True)
class Baskets:
    """Order money (aligned with Purchases) and order lines (grouped by order)."""

    target_cents: IntArray  # the Gamma-Gamma draw z
    promo: IntArray  # index into promotions.PROMOS, -1 for none
    subtotal: IntArray
    discount: IntArray
    shipping: IntArray
    tax: IntArray
    status: IntArray
    line_count: IntArray
    # Lines, sorted by order then line number.
    line_order: IntArray
    product: IntArray
    quantity: IntArray
    unit_cents: IntArray
    line_discount: IntArray
    clearance: BoolArray
    returned: BoolArray
    returned_day: FloatArray  # NaN where not returned

    @property
    def total(self) -> IntArray:
        """Amount paid per order: subtotal - discount + shipping + tax."""
        return self.subtotal - self.discount + self.shipping + self.tax

    @property
    def net(self) -> IntArray:
        """Merchandise after discounts per order: the Gamma-Gamma quantity."""
        return self.subtotal - self.discount


def fill_baskets(
    config: SynthConfig,
    persons: Persons,
    purchases: Purchases,
    shelves: Shelves,
    timeline: Timeline,
    tax_percent: FloatArray,
    rng: np.random.Generator,
) -> Baskets:
    """Draw each order's value, promo code and lines, then price it."""
    catalog = shelves.catalog
    who = purchases.person
    n_orders = purchases.size
    target = np.maximum(1, money.to_cents(rng.gamma(config.gg_p, 1.0 / persons.nu[who])))
    promo = choose_promos(
        rng.random(n_orders) < persons.promo_prob[who],
        purchases.seq,
        purchases.store,
        timeline.months(purchases.day),
        rng.random(n_orders),
    )
    promo_rate = np.where(promo >= 0, RATES[np.maximum(promo, 0)], 0.0)

    # Candidate lines: due staples first, then picks by taste.
    s_order, s_product = _due_staples(persons, purchases, catalog.replenish_days, rng)
    taste_count = np.minimum(1 + rng.poisson(target / 7_000), MAX_TASTE_LINES)
    t_order = segments.owners(taste_count)
    t_product, t_clear = pick_products(persons, who[t_order], shelves, rng)
    order = np.concatenate([s_order, t_order])
    product = np.concatenate([s_product, t_product])
    clearance = np.concatenate([np.zeros(len(s_order), dtype=bool), t_clear])
    rank = np.concatenate([np.zeros(len(s_order)), np.ones(len(t_order))])
    sort = np.lexsort((rank, order))
    order, product, clearance = order[sort], product[sort], clearance[sort]
    # One line per product: drop repeats of a product within an order.
    _, first = np.unique(order * catalog.size + product, return_index=True)
    keep = np.zeros(len(order), dtype=bool)
    keep[first] = True
    order, product, clearance = order[keep], product[keep], clearance[keep]

    quantity = rng.choice(np.array([1, 2, 3]), size=len(order), p=np.array([0.88, 0.10, 0.02]))
    rate = np.where(
        clearance,
        CLEARANCE_MARKDOWNS[rng.integers(0, len(CLEARANCE_MARKDOWNS), len(order))],
        promo_rate[order],
    )
    gross = catalog.price_cents[product] * quantity
    line_discount = money.share_of(gross, rate)
    counts = np.bincount(order, minlength=n_orders)
    running = segments.cumsum_within(gross - line_discount, counts)
    fits = running <= target[order] - REMAINDER_CENTS
    order, product, clearance = order[fits], product[fits], clearance[fits]
    quantity, line_discount, gross = quantity[fits], line_discount[fits], gross[fits]

    # The filler line brings the order's net value to its target.
    kept_net = np.bincount(order, weights=gross - line_discount, minlength=n_orders)
    remainder = target - kept_net.astype(np.int64)
    f_product, f_quantity = _fillers(
        persons, who, remainder, promo_rate, order, product, shelves, rng
    )
    f_gross = catalog.price_cents[f_product] * f_quantity
    f_discount = money.share_of(f_gross, promo_rate)

    order = np.concatenate([order, np.arange(n_orders)])
    product = np.concatenate([product, f_product])
    quantity = np.concatenate([quantity, f_quantity])
    line_discount = np.concatenate([line_discount, f_discount])
    clearance = np.concatenate([clearance, np.zeros(n_orders, dtype=bool)])
    # Shuffle lines within each order so the filler is not always last.
    sort = np.lexsort((rng.random(len(order)), order))
    order, product, quantity = order[sort], product[sort], quantity[sort]
    line_discount, clearance = line_discount[sort], clearance[sort]
    unit = catalog.price_cents[product]

    # Returns: clearance is final sale; a return is dropped if it would fall after the end.
    returned_day = purchases.day[order] + 3 + rng.gamma(2.0, 5.0, len(order))
    returned = (
        ~purchases.cancelled[order]
        & ~clearance
        & (rng.random(len(order)) < persons.return_prob[who[order]])
        & (returned_day < timeline.days)
    )
    returned_day = np.where(returned, returned_day, np.nan)

    line_count = np.bincount(order, minlength=n_orders)
    subtotal = np.bincount(order, weights=unit * quantity, minlength=n_orders).astype(np.int64)
    discount = np.bincount(order, weights=line_discount, minlength=n_orders).astype(np.int64)
    net = subtotal - discount
    free = np.where(promo >= 0, FREE_SHIPPING[np.maximum(promo, 0)], False)
    shipping = np.where(
        ~purchases.store & ~free & (net < FREE_SHIPPING_FROM), SHIPPING_CENTS, 0
    ).astype(np.int64)
    tax = money.share_of(net, tax_percent[who] / 100.0)
    n_returned = np.bincount(order, weights=returned, minlength=n_orders)
    status = np.where(
        purchases.cancelled,
        CANCELLED,
        np.where(
            n_returned == 0,
            COMPLETED,
            np.where(n_returned == line_count, RETURNED, PARTIALLY_RETURNED),
        ),
    )
    return Baskets(
        target_cents=target,
        promo=promo,
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        tax=tax,
        status=status.astype(np.int64),
        line_count=line_count.astype(np.int64),
        line_order=order,
        product=product,
        quantity=quantity.astype(np.int64),
        unit_cents=unit,
        line_discount=line_discount,
        clearance=clearance,
        returned=returned,
        returned_day=returned_day,
    )


def _due_staples(
    persons: Persons, purchases: Purchases, replenish_days: IntArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """(order, product) of the staples each purchase re-buys, walking purchases in sequence."""
    last = np.full((persons.size, MAX_STAPLES), -np.inf)
    by_seq = np.argsort(purchases.seq, kind="stable")
    seq_sorted = purchases.seq[by_seq]
    bounds = np.searchsorted(seq_sorted, np.arange(int(seq_sorted.max(initial=-1)) + 2))
    orders: list[IntArray] = []
    products: list[IntArray] = []
    # One pass per purchase number (first, first repeat, ...), vectorized over persons: a
    # staple's clock restarts whenever it is bought, which needs the previous purchase done.
    for k in range(len(bounds) - 1):
        rows = by_seq[bounds[k] : bounds[k + 1]]
        who = purchases.person[rows]
        day = purchases.day[rows]
        staples = persons.staples[who]
        valid = staples >= 0
        period = replenish_days[np.maximum(staples, 0)]
        due = valid & (day[:, None] - last[who] >= STAPLE_DUE * period)
        take = due & (rng.random(due.shape) < STAPLE_TAKE)
        r, s = np.nonzero(take)
        last[who[r], s] = day[r]
        orders.append(rows[r])
        products.append(staples[r, s])
    if not orders:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(orders), np.concatenate(products)


def _fillers(
    persons: Persons,
    who: IntArray,
    remainder: IntArray,
    promo_rate: FloatArray,
    line_order: IntArray,
    line_product: IntArray,
    shelves: Shelves,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray]:
    """Product and quantity of each order's last line, priced to fill `remainder` cents."""
    n = len(who)
    category = draw_categories(persons, who, rng)
    gross = remainder / (1.0 - promo_rate)
    dearest = shelves.by_price.highest(category)
    quantity = np.maximum(1, np.ceil(gross / (0.8 * dearest))).astype(np.int64)
    unit = gross / quantity
    cheap = unit < shelves.by_price.lowest(category)
    product = np.empty(n, dtype=np.int64)
    existing = np.sort(line_order * shelves.catalog.size + line_product)
    pending = np.arange(n)
    for _ in range(4):
        # Redraw among near-priced products when the pick repeats a line already there.
        u = rng.random(len(pending))
        in_cat = ~cheap[pending]
        picked = np.empty(len(pending), dtype=np.int64)
        picked[in_cat] = shelves.by_price.near(
            category[pending][in_cat], unit[pending][in_cat], PRICE_TOLERANCE, u[in_cat]
        )
        picked[~in_cat] = shelves.any_price.near(
            np.zeros(int((~in_cat).sum()), dtype=np.int64),
            unit[pending][~in_cat],
            PRICE_TOLERANCE,
            u[~in_cat],
        )
        product[pending] = picked
        key = pending * shelves.catalog.size + picked
        at = np.minimum(np.searchsorted(existing, key), max(len(existing) - 1, 0))
        clash = (existing[at] == key) if len(existing) else np.zeros(len(key), dtype=bool)
        pending = pending[clash]
        if len(pending) == 0:
            break
    return product, quantity
