"""When each person buys: the BG/NBD process, exactly, plus cancelled attempts beside it.

Per person (Fader, Hardie & Lee 2005): lambda ~ Gamma(r, rate alpha) purchases a week and
p ~ Beta(a, b). The first order is at acquisition (time 0 of the person's clock). Repeat
orders arrive as a Poisson process of rate lambda; after each repeat order the person drops
out with probability p, never to buy again. Drawn exactly as: N ~ Poisson(lambda T) arrivals
in (0, T], dropout after repeat order J ~ Geometric(p), repeat orders = the first min(N, J)
of N sorted uniform arrivals. The hour of each order is then moved within its UTC day to a
realistic local hour (timeline.warp_hours), which keeps counts and days exact.
Cancelled orders (a failed first attempt an hour or so before a real online order) are not
purchases and stand outside the process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifetide.synth import segments
from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray
from lifetide.synth.config import SynthConfig
from lifetide.synth.people import Persons
from lifetide.synth.timeline import ONLINE_HOURS, STORE_HOURS, warp_hours


@dataclass(frozen=True)
class Purchases:
    """A chunk's orders sorted by (person, time), and each person's true process outcome."""

    person: IntArray  # person's position in the chunk
    day: FloatArray  # days since the history start
    store: BoolArray  # placed in a store (else online)
    cancelled: BoolArray
    seq: IntArray  # 0 = first purchase, k = k-th repeat; -1 for cancelled orders
    # Per person:
    first_day: FloatArray  # first purchase (= acquisition); sign-up day for non-buyers
    repeats: IntArray
    alive: BoolArray  # still active at the end of the history (False for non-buyers)
    dropout_day: FloatArray  # day of the last purchase if dropped out, else NaN

    @property
    def size(self) -> int:
        """Number of orders, cancelled ones included."""
        return len(self.person)


def draw_purchases(
    config: SynthConfig,
    persons: Persons,
    days: int,
    utc_offset: IntArray,
    rng: np.random.Generator,
) -> Purchases:
    """Draw every order of the chunk's persons over a history of `days` days."""
    n = persons.size
    buyer = persons.buyer
    horizon_weeks = (days - persons.acquired) / 7.0
    arrivals = np.where(buyer, rng.poisson(persons.lam * horizon_weeks), 0)
    dropout_after = rng.geometric(persons.p_drop)
    repeats = np.minimum(arrivals, dropout_after)
    alive = buyer & (dropout_after > arrivals)

    # Sorted uniform arrival times per person; keep the first `repeats` of them.
    owner = segments.owners(arrivals)
    key = np.sort(owner + rng.random(len(owner)))
    frac = key - owner  # owners are sorted already, so this undoes the offset
    kept = segments.positions(arrivals) < repeats[owner]
    rep_person = owner[kept]
    rep_day = persons.acquired[rep_person] + frac[kept] * (days - persons.acquired[rep_person])

    first_person = np.flatnonzero(buyer)
    person = np.concatenate([first_person, rep_person])
    day = np.concatenate([persons.acquired[first_person], rep_day])
    # Owners are sorted and times ascend within an owner, so ranks number the repeats.
    seq = np.concatenate(
        [np.zeros(len(first_person), dtype=np.int64), segments.ranks(rep_person) + 1]
    )
    store = rng.random(len(person)) < persons.store_share[person]
    day = np.where(
        store,
        warp_hours(day, utc_offset[person], STORE_HOURS),
        warp_hours(day, utc_offset[person], ONLINE_HOURS),
    )

    # A failed attempt 1-4 hours before some online orders, cancelled.
    failed = ~store & (rng.random(len(person)) < config.cancel_rate)
    failed_day = day[failed] - rng.uniform(1, 4, int(failed.sum())) / 24
    valid = failed_day >= 0
    person = np.concatenate([person, person[failed][valid]])
    day = np.concatenate([day, failed_day[valid]])
    store = np.concatenate([store, np.zeros(int(valid.sum()), dtype=bool)])
    cancelled = np.zeros(len(person), dtype=bool)
    cancelled[len(person) - int(valid.sum()) :] = True
    seq = np.concatenate([seq, np.full(int(valid.sum()), -1, dtype=np.int64)])

    order = np.lexsort((day, person))
    person, day, store, cancelled, seq = (
        person[order],
        day[order],
        store[order],
        cancelled[order],
        seq[order],
    )
    first_day = np.where(buyer, np.nan, warp_hours(persons.acquired, utc_offset, ONLINE_HOURS))
    first_day[person[seq == 0]] = day[seq == 0]
    last_day = np.full(n, -np.inf)
    np.maximum.at(last_day, person[seq >= 0], day[seq >= 0])
    dropout_day = np.where(buyer & ~alive, last_day, np.nan)
    return Purchases(
        person=person,
        day=day,
        store=store,
        cancelled=cancelled,
        seq=seq,
        first_day=first_day,
        repeats=repeats,
        alive=alive,
        dropout_day=dropout_day,
    )
