"""Web visits: each person's devices, their sessions, and when each device first signs in.

Session kinds:
- order: ends in Order Completed at the online order's instant (one per online order);
- cart: an abandoned cart. For abandonment rate a there are a/(1-a) carts per online order,
  so carts / (carts + orders) = a; they split into two kinds by `lost_cart_share` s:
  - a (1-s) share come back: Poisson with mean (1-s) a/(1-a) per order, placed a day or
    two before that order;
  - an s share are lost: tied to no order (the person orders again only if their own
    purchase process says so), they are drawn like browse sessions (same people, periods
    and timing) at rho per browse session, rho set per chunk so that their expected number
    is s a/(1-a) per online order. Non-buyers who browse abandon carts at that same rate
    per browse session as buyers;
- browse: product browsing while active (and rarely after dropping out);
- signup: the web sign-up of a person who never buys;
- landing: the visit that follows an e-mail click;
- visitor: browsing by anonymous visitors who never sign in.
A device's events carry only its anonymous id until the device's first sign-in (an identify
call: at checkout in an order session, or at the start of a session where the person signs
in; see steps.py); from then on they also carry the user id of the account the device signs
in to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifetide.synth import segments
from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray
from lifetide.synth.campaigns import CLICKED, Mailings
from lifetide.synth.config import SynthConfig
from lifetide.synth.duplicates import ECOMMERCE, Records
from lifetide.synth.people import Persons
from lifetide.synth.places import city_weights, utc_offsets
from lifetide.synth.purchases import Purchases
from lifetide.synth.timeline import ONLINE_HOURS, warp_hours
from lifetide.synth.useragents import draw_agents

ORDER, CART, BROWSE, SIGNUP, LANDING, VISITOR = range(6)
MOBILE, DESKTOP, TABLET = range(3)
SECOND = 1.0 / 86_400
# How often each of a person's devices is used (first = their phone, usually).
DEVICE_WEIGHTS = np.array([0.6, 0.3, 0.1, 0.6])
MAX_SLOTS = 4


@dataclass(frozen=True)
class Devices:
    """Browsers and phones: whose, which account they sign in to, from when they exist."""

    person: IntArray  # -1 for anonymous visitors
    account: IntArray  # record index, -1 for visitors
    available: FloatArray  # first day in use
    kind: IntArray  # MOBILE, DESKTOP, TABLET
    agent: IntArray  # index into useragents.AGENTS

    @property
    def size(self) -> int:
        """Number of devices."""
        return len(self.person)


@dataclass(frozen=True)
class Sessions:
    """A chunk's sessions (unordered)."""

    kind: IntArray
    person: IntArray  # -1 for visitors
    device: IntArray
    day: FloatArray  # the order instant for order sessions, else the start
    order: IntArray  # order sessions: index into Purchases, else -1
    campaign: IntArray  # landing sessions: campaign index, else -1
    can_sign_in: BoolArray  # the person may sign in on this device during this session

    @property
    def size(self) -> int:
        """Number of sessions."""
        return len(self.kind)


def plan_devices(
    persons: Persons, records: Records, visitors: int, rng: np.random.Generator
) -> Devices:
    """Each person's 1-3 devices, one more for a second web account, and visitors' devices."""
    extra = records.online_record >= 0
    slots = persons.devices + extra
    owner = segments.owners(slots)
    slot = segments.positions(slots)
    is_extra = extra[owner] & (slot == persons.devices[owner])
    dup = records.online_record[owner]
    account = np.where(is_extra, dup, owner)
    available = np.where(is_extra, records.created[np.maximum(dup, 0)], -np.inf)
    first_kind = np.where(rng.random(len(owner)) < 0.65, MOBILE, DESKTOP)
    other_kind = rng.choice(3, size=len(owner), p=np.array([0.5, 0.35, 0.15]))
    kind = np.where(slot == 0, first_kind, other_kind)
    kind = np.concatenate([kind, rng.choice(3, size=visitors, p=np.array([0.6, 0.3, 0.1]))])
    return Devices(
        person=np.concatenate([owner, np.full(visitors, -1)]),
        account=np.concatenate([account, np.full(visitors, -1)]),
        available=np.concatenate([available, np.full(visitors, -np.inf)]),
        kind=kind,
        agent=draw_agents(kind, rng),
    )


def plan_sessions(
    config: SynthConfig,
    persons: Persons,
    purchases: Purchases,
    records: Records,
    mailings: Mailings,
    devices: Devices,
    days: int,
    utc_offset: IntArray,
    rng: np.random.Generator,
) -> Sessions:
    """Every session of the chunk: its kind, person, device, instant, and sign-in."""
    n = persons.size
    online = np.flatnonzero(~purchases.store)
    live_online = online[~purchases.cancelled[online]]

    # Abandoned carts that come back: a day or two before a real order.
    per_order = config.cart_abandonment / (1 - config.cart_abandonment)
    returning = (1 - config.lost_cart_share) * per_order
    carts = np.repeat(live_online, rng.poisson(returning, len(live_online)))
    cart_day = purchases.day[carts] - 0.02 - rng.exponential(2.0, len(carts))
    carts, cart_day = carts[cart_day >= 0], cart_day[cart_day >= 0]

    lost = config.lost_cart_share * per_order * len(live_online)
    b_person, b_day, b_cart = _browsing(config, persons, purchases, days, utc_offset, lost, rng)
    signup = np.flatnonzero(~persons.buyer & (records.source[:n] == ECOMMERCE))

    clicks = mailings.kind == CLICKED
    l_person = records.person[mailings.record[clicks]]
    l_day = mailings.day[clicks] + rng.uniform(5, 40, int(clicks.sum())) * SECOND
    l_keep = l_day < days

    kind = np.concatenate(
        [
            np.full(len(online), ORDER),
            np.full(len(carts), CART),
            np.where(b_cart, CART, BROWSE),
            np.full(len(signup), SIGNUP),
            np.full(int(l_keep.sum()), LANDING),
        ]
    )
    person = np.concatenate(
        [purchases.person[online], purchases.person[carts], b_person, signup, l_person[l_keep]]
    )
    day = np.concatenate(
        [purchases.day[online], cart_day, b_day, purchases.first_day[signup], l_day[l_keep]]
    )
    order = np.concatenate([online, np.full(len(person) - len(online), -1)])
    campaign = np.concatenate(
        [np.full(len(person) - int(l_keep.sum()), -1), mailings.campaign[clicks][l_keep]]
    )
    device = _choose_devices(persons, devices, person, day, rng)

    # Visitors who never sign in.
    visitor_devices = np.flatnonzero(devices.person < 0)
    visits = 1 + rng.poisson(0.6, len(visitor_devices))
    v_device = np.repeat(visitor_devices, visits)
    home = rng.choice(len(city_weights()), size=len(visitor_devices), p=city_weights())
    v_offset = np.repeat(utc_offsets()[home], visits)
    v_day = warp_hours(rng.random(len(v_device)) * days, v_offset, ONLINE_HOURS)

    kind = np.concatenate([kind, np.full(len(v_device), VISITOR)])
    person = np.concatenate([person, np.full(len(v_device), -1)])
    day = np.concatenate([day, v_day])
    order = np.concatenate([order, np.full(len(v_device), -1)])
    campaign = np.concatenate([campaign, np.full(len(v_device), -1)])
    device = np.concatenate([device, v_device])

    can_sign_in = _can_sign_in(config, purchases, records, devices, kind, person, device, day, rng)
    return Sessions(kind, person, device, day, order, campaign, can_sign_in)


def _browsing(
    config: SynthConfig,
    persons: Persons,
    purchases: Purchases,
    days: int,
    utc_offset: IntArray,
    lost_carts: float,
    rng: np.random.Generator,
) -> tuple[IntArray, FloatArray, BoolArray]:
    """Browse sessions, and the lost carts drawn the same way among them (flagged True).

    Browsing is steady while active, rare after dropping out, and a few visits around a
    non-buyer's sign-up; `lost_carts` is the chunk's expected number of lost carts.
    """
    buyer = persons.buyer
    begin = np.clip(purchases.first_day - 14, 0, days)
    stop = np.where(np.isnan(purchases.dropout_day), days, purchases.dropout_day)
    active_mean = config.browse_rate * np.where(buyer, (stop - begin) / 7, 0)
    lapsed_mean = config.browse_rate_lapsed * np.where(buyer, (days - stop) / 7, 0)
    new_mean = np.where(buyer, 0.0, 1.5)
    # Lost carts per browse session, the same for everyone; drawing both as one Poisson
    # process and flagging each visit a cart with probability rho / (1 + rho) keeps the
    # browse sessions Poisson with their own means. A chunk where no browsing is expected
    # (browse rates of 0 and no non-buyers) gets no lost carts.
    expected = float(active_mean.sum() + lapsed_mean.sum() + new_mean.sum())
    rho = lost_carts / expected if expected > 0 else 0.0
    n_active = rng.poisson(active_mean * (1 + rho))
    n_lapsed = rng.poisson(lapsed_mean * (1 + rho))
    n_new = rng.poisson(new_mean * (1 + rho))
    new_begin = np.clip(purchases.first_day - 10, 0, days)
    new_stop = np.clip(purchases.first_day + 45, 0, days)

    a = segments.owners(n_active)
    la = segments.owners(n_lapsed)
    nw = segments.owners(n_new)
    person = np.concatenate([a, la, nw])
    day = np.concatenate(
        [
            begin[a] + rng.random(len(a)) * (stop[a] - begin[a]),
            stop[la] + rng.random(len(la)) * (days - stop[la]),
            new_begin[nw] + rng.random(len(nw)) * (new_stop[nw] - new_begin[nw]),
        ]
    )
    day = np.minimum(day, days - SECOND)
    is_cart = rng.random(len(person)) < rho / (1 + rho)
    return person, warp_hours(day, utc_offset[person], ONLINE_HOURS), is_cart


def _choose_devices(
    persons: Persons, devices: Devices, person: IntArray, day: FloatArray, rng: np.random.Generator
) -> IntArray:
    """A device per session among the person's devices in use on that day."""
    counts = np.bincount(devices.person[devices.person >= 0], minlength=persons.size)
    first = segments.starts(counts)
    slot = np.arange(MAX_SLOTS)[None, :]
    exists = slot < counts[person][:, None]
    index = np.minimum(first[person][:, None] + slot, devices.size - 1)
    usable = exists & (devices.available[index] <= day[:, None])
    extra_slot = slot == persons.devices[person][:, None]
    weight = np.where(extra_slot, DEVICE_WEIGHTS[3], DEVICE_WEIGHTS[np.minimum(slot, 2)])
    weight = np.where(usable, weight, 0.0)
    cumulative = np.cumsum(weight, axis=1)
    u = rng.random(len(person)) * cumulative[:, -1]
    chosen = (u[:, None] >= cumulative).sum(axis=1)
    return np.asarray(first[person] + np.minimum(chosen, counts[person] - 1), dtype=np.int64)


def _can_sign_in(
    config: SynthConfig,
    purchases: Purchases,
    records: Records,
    devices: Devices,
    kind: IntArray,
    person: IntArray,
    device: IntArray,
    day: FloatArray,
    rng: np.random.Generator,
) -> BoolArray:
    """Sessions in which the person may sign in: checkouts, sign-ups, some visits.

    A visit qualifies with probability login_rate once the account the device uses exists.
    """
    n = records.web_account.size
    # The web account exists from the primary's creation if it came from the web, else from
    # the first online order.
    first_online = np.full(n, np.inf)
    online = ~purchases.store
    np.minimum.at(first_online, purchases.person[online], purchases.day[online])
    web_since = np.where(records.source[:n] == ECOMMERCE, records.created[:n], first_online)
    owner = np.maximum(devices.person, 0)
    is_extra = devices.account != owner
    account_since = np.where(
        is_extra, records.created[np.maximum(devices.account, 0)], web_since[owner]
    )
    account_since = np.where(devices.person < 0, np.inf, account_since)
    who = np.maximum(person, 0)
    chooses = (
        np.isin(kind, (CART, BROWSE, LANDING))
        & records.web_account[who]
        & (rng.random(len(kind)) < config.login_rate)
        & (day >= account_since[device])
    )
    return np.asarray((kind == ORDER) | (kind == SIGNUP) | chooses)
