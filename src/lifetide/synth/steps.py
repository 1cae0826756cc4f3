"""The events inside each session, in order, with their products and instants.

A session is a fixed sequence of blocks, each present zero or more times:
page, identify (sign-in at the start), product list, search, product views, (view, add)
pairs for each cart item, cart viewed, identify (sign-in at checkout), checkout started,
coupon applied, order completed, order cancelled. Everything is laid out for all sessions at
once: a session's events are consecutive, with gaps of seconds between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifetide.synth import segments
from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray
from lifetide.synth.baskets import Baskets
from lifetide.synth.choices import draw_categories, pick_popular, pick_products
from lifetide.synth.people import N_CATEGORIES, Persons
from lifetide.synth.purchases import Purchases
from lifetide.synth.sessions import CART, ORDER, Sessions
from lifetide.synth.shelves import Shelves

# Blocks, in session order.
(PAGE, IDENTIFY_EARLY, LIST, SEARCH, VIEWS, PAIRS, CART_VIEWED, IDENTIFY_LATE, CHECKOUT,
 COUPON, COMPLETED, CANCELLED) = range(12)  # fmt: skip
N_BLOCKS = 12
# Event codes (what the event is), shared with events.py.
(E_PAGE, E_IDENTIFY, E_LIST, E_SEARCH, E_VIEWED, E_ADDED, E_CART_VIEWED, E_CHECKOUT,
 E_COUPON, E_COMPLETED, E_CANCELLED) = range(11)  # fmt: skip
_BLOCK_EVENT = np.array(
    [E_PAGE, E_IDENTIFY, E_LIST, E_SEARCH, E_VIEWED, E_VIEWED, E_CART_VIEWED, E_IDENTIFY,
     E_CHECKOUT, E_COUPON, E_COMPLETED, E_CANCELLED]
)  # fmt: skip
SECOND = 1.0 / 86_400
# Per session kind (order, cart, browse, signup, landing, visitor).
P_LIST = np.array([0.3, 0.3, 0.6, 0.0, 0.2, 0.5])
P_SEARCH = np.array([0.1, 0.05, 0.25, 0.1, 0.05, 0.2])
MEAN_VIEWS = np.array([0.4, 0.2, 1.2, 0.5, 0.8, 1.0])
MIN_VIEWS = np.array([0, 0, 1, 0, 1, 1])
# Share of cart items looked at on their product page before being added (the rest are
# added from a list or from "buy it again").
P_ITEM_VIEWED = np.array([0.6, 0.4, 0.0, 0.0, 0.0, 0.0])
P_CART_VIEWED = np.array([0.7, 0.3, 0.0, 0.0, 0.0, 0.0])
P_CHECKOUT = 0.15  # abandoned carts that reached checkout
P_TASTE_VIEW = 0.75  # product views that follow the person's taste (else popular items)


@dataclass(frozen=True)
class Steps:
    """A chunk's web events as arrays; sessions' events are consecutive and in time order."""

    session: IntArray
    code: IntArray  # E_*
    day: FloatArray
    product: IntArray  # -1 where none
    quantity: IntArray  # Product Added only, else 0
    category: IntArray  # product's or list's category, -1 where none
    subcategory: IntArray  # searched subcategory, -1 where none
    # Per session:
    cart_value: IntArray  # cents of the cart's items (abandoned carts), 0 otherwise
    list_category: IntArray

    @property
    def size(self) -> int:
        """Number of events."""
        return len(self.session)


def lay_out(
    sessions: Sessions,
    persons: Persons,
    purchases: Purchases,
    baskets: Baskets,
    shelves: Shelves,
    days: int,
    rng: np.random.Generator,
) -> Steps:
    """Expand sessions into their events."""
    catalog = shelves.catalog
    s = sessions.size
    kind = sessions.kind
    is_order = kind == ORDER
    is_cart = kind == CART
    order = np.maximum(sessions.order, 0)

    # Cart items: an order session's lines, or 1-2 products an abandoned cart holds.
    line_count = np.where(is_order, baskets.line_count[order], 0)
    order_item_session = segments.owners(line_count)
    line = segments.starts(baskets.line_count)[order[order_item_session]] + segments.positions(
        line_count
    )
    cart_count = np.where(is_cart, 1 + rng.binomial(1, 0.15, s), 0)
    cart_item_session = segments.owners(cart_count)
    cart_product = pick_products(persons, sessions.person[cart_item_session], shelves, rng)[0]
    # A product picked twice for one cart is one item.
    _, first = np.unique(cart_item_session * catalog.size + cart_product, return_index=True)
    cart_item_session, cart_product = cart_item_session[first], cart_product[first]
    item_session = np.concatenate([order_item_session, cart_item_session])
    item_product = np.concatenate([baskets.product[line], cart_product])
    item_quantity = np.concatenate(
        [baskets.quantity[line], np.where(rng.random(len(cart_product)) < 0.1, 2, 1)]
    )
    by_session = np.argsort(item_session, kind="stable")
    item_session = item_session[by_session]
    item_product = item_product[by_session]
    item_quantity = item_quantity[by_session]
    item_viewed = rng.random(len(item_session)) < P_ITEM_VIEWED[kind[item_session]]
    # Each item gives [Product Viewed] Product Added, consecutively.
    item_events = 1 + item_viewed.astype(np.int64)
    pair_owner = segments.owners(item_events)
    pair_is_add = segments.positions(item_events) == item_events[pair_owner] - 1
    pair_product = item_product[pair_owner]
    pair_quantity = np.where(pair_is_add, item_quantity[pair_owner], 0)
    cart_value = np.bincount(
        item_session, weights=catalog.price_cents[item_product] * item_quantity, minlength=s
    ).astype(np.int64)

    blocks = np.zeros((s, N_BLOCKS), dtype=np.int64)
    blocks[:, PAGE] = 1
    blocks[:, IDENTIFY_EARLY] = sessions.can_sign_in & ~is_order
    blocks[:, LIST] = rng.random(s) < P_LIST[kind]
    blocks[:, SEARCH] = rng.random(s) < P_SEARCH[kind]
    blocks[:, VIEWS] = rng.poisson(MEAN_VIEWS[kind]) + MIN_VIEWS[kind]
    blocks[:, PAIRS] = np.bincount(item_session, weights=item_events, minlength=s)
    blocks[:, CART_VIEWED] = rng.random(s) < P_CART_VIEWED[kind]
    blocks[:, IDENTIFY_LATE] = sessions.can_sign_in & is_order
    blocks[:, CHECKOUT] = is_order | (is_cart & (rng.random(s) < P_CHECKOUT))
    blocks[:, COUPON] = is_order & (baskets.promo[order] >= 0)
    blocks[:, COMPLETED] = is_order
    blocks[:, CANCELLED] = is_order & purchases.cancelled[order]

    counts = blocks.sum(axis=1)
    ends = np.cumsum(blocks, axis=1)
    session = segments.owners(counts)
    pos = segments.positions(counts)
    block = np.zeros(len(session), dtype=np.int64)
    for k in range(N_BLOCKS - 1):
        block += pos >= ends[session, k]
    begin = np.where(block > 0, ends[session, np.maximum(block - 1, 0)], 0)
    offset = pos - begin
    code = _BLOCK_EVENT[block]

    product = np.full(len(session), -1, dtype=np.int64)
    quantity = np.zeros(len(session), dtype=np.int64)
    in_pairs = block == PAIRS
    at = segments.starts(blocks[:, PAIRS])[session[in_pairs]] + offset[in_pairs]
    product[in_pairs] = pair_product[at]
    quantity[in_pairs] = pair_quantity[at]
    code[in_pairs] = np.where(pair_is_add[at], E_ADDED, E_VIEWED)

    # Products of extra views: by taste for persons, by popularity for visitors.
    view_owner = segments.owners(blocks[:, VIEWS])
    who = sessions.person[view_owner]
    taste = (who >= 0) & (rng.random(len(who)) < P_TASTE_VIEW)
    viewed = pick_popular(len(who), shelves, rng)
    viewed[taste] = pick_products(persons, who[taste], shelves, rng, allow_clearance=False)[0]
    in_views = block == VIEWS
    product[in_views] = viewed[
        segments.starts(blocks[:, VIEWS])[session[in_views]] + offset[in_views]
    ]

    # Lists and searches show one of the person's categories (any category for visitors).
    persons_list = draw_categories(persons, np.maximum(sessions.person, 0), rng)
    list_category = np.where(sessions.person >= 0, persons_list, rng.integers(0, N_CATEGORIES, s))
    category = np.where(product >= 0, catalog.category[np.maximum(product, 0)], -1)
    category = np.where(code == E_LIST, list_category[session], category)
    subcategory = np.where(
        code == E_SEARCH, catalog.subcategory[rng.integers(0, catalog.size, len(session))], -1
    )

    day = _instants(sessions, session, code, counts, days, rng)
    # Every session that may sign in got an identify slot; a device signs in at the earliest
    # of its slots and the others are dropped (removing an event leaves the others' times).
    keep = _first_sign_ins(code, sessions.device[session], day)
    return Steps(
        session=session[keep],
        code=code[keep],
        day=day[keep],
        product=product[keep],
        quantity=quantity[keep],
        category=category[keep],
        subcategory=subcategory[keep],
        cart_value=cart_value,
        list_category=list_category,
    )


def _first_sign_ins(code: IntArray, device: IntArray, day: FloatArray) -> BoolArray:
    """All events except identify slots that are not their device's earliest."""
    slots = np.flatnonzero(code == E_IDENTIFY)
    by_time = slots[np.lexsort((day[slots], device[slots]))]
    _, first = np.unique(device[by_time], return_index=True)
    keep = code != E_IDENTIFY
    keep[by_time[first]] = True
    return np.asarray(keep)


def _instants(
    sessions: Sessions,
    session: IntArray,
    code: IntArray,
    counts: IntArray,
    days: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Event instants: seconds apart, order sessions ending their checkout at the order."""
    n = len(session)
    gap = 3 + rng.exponential(25.0, n)
    gap = np.where(code == E_ADDED, 2 + rng.exponential(8.0, n), gap)
    gap = np.where(code == E_IDENTIFY, 5 + rng.exponential(20.0, n), gap)
    gap = np.where(code == E_COMPLETED, rng.uniform(60, 240, n), gap)
    gap = np.where(code == E_CANCELLED, rng.uniform(300, 1800, n), gap)
    gap[segments.starts(counts)[counts > 0]] = 0.0
    elapsed = segments.cumsum_within(gap, counts)
    # Order sessions are anchored on Order Completed, the others on their first event.
    anchor = np.zeros(sessions.size)
    done = code == E_COMPLETED
    anchor[session[done]] = elapsed[done]
    day = sessions.day[session] + (elapsed - anchor[session]) * SECOND
    return np.clip(day, 0.0, days - SECOND / 1e6)


def signed_in(steps: Steps, device: IntArray, n_devices: int) -> BoolArray:
    """Events at or after their device's first identify (and the identify itself)."""
    first = np.full(n_devices, np.inf)
    ident = steps.code == E_IDENTIFY
    np.minimum.at(first, device[ident], steps.day[ident])
    return np.asarray(steps.day >= first[device])
