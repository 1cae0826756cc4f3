"""Marketing e-mail: the campaign calendar and each record's deliveries, opens and clicks.

Campaigns go out every 7-14 days over the last months of the history, each to a random share
of the records that hold an address, have opted in, were created before the send and are
not suppressed. An address that hard-bounces bounces once and is suppressed from then on.
A delivered e-mail is opened with the person's open propensity, clicked with their click
propensity given an open, and unsubscribed from with their unsubscribe propensity; an
unsubscribe withdraws that record's consent (its accepts_email_marketing becomes false).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from lifetide.synth.arraytypes import FloatArray, IntArray
from lifetide.synth.config import SynthConfig
from lifetide.synth.duplicates import Records
from lifetide.synth.people import Persons
from lifetide.synth.timeline import Timeline

DELIVERED, OPENED, CLICKED, BOUNCED, UNSUBSCRIBED = range(5)
EMAIL_EVENTS = (
    "Email Delivered",
    "Email Opened",
    "Email Link Clicked",
    "Email Bounced",
    "Unsubscribed",
)
MINUTE = 1.0 / 1440
THEMES = (
    ("new-arrivals", "New arrivals are here"),
    ("skincare-edit", "Your skincare edit"),
    ("best-sellers", "The best sellers everyone is buying"),
    ("fragrance-finder", "Find your signature scent"),
    ("glow-guide", "The glow guide"),
    ("hair-heroes", "Hair heroes under $30"),
    ("last-chance", "Last chance: sale ends tonight"),
    ("gift-guide", "The gift guide"),
    ("restock", "Back in stock"),
    ("member-event", "Members save more this week"),
)


@dataclass(frozen=True)
class Campaigns:
    """The e-mail calendar: one entry per campaign."""

    day: FloatArray
    campaign_id: list[str]
    name: list[str]
    subject: list[str]
    audience: FloatArray  # share of eligible records each campaign goes to

    @property
    def size(self) -> int:
        """Number of campaigns."""
        return len(self.day)


@dataclass(frozen=True)
class Mailings:
    """A chunk's e-mail events and the consent they withdrew."""

    record: IntArray
    kind: IntArray  # DELIVERED .. UNSUBSCRIBED
    day: FloatArray
    campaign: IntArray
    unsubscribed_day: FloatArray  # per record, NaN if never


def schedule(config: SynthConfig, timeline: Timeline, rng: np.random.Generator) -> Campaigns:
    """Campaign send instants every 7-14 days over the last `email_months` months."""
    first = max(0.0, timeline.days - config.email_months * 30.44)
    sends: list[float] = []
    day = np.floor(first + rng.uniform(0, 7))
    while day < timeline.days - 1:
        # 15:00 UTC is 10:00 in New York, when retail e-mail goes out.
        sends.append(float(day + 15 / 24 + rng.uniform(0, 30) * MINUTE))
        day += int(rng.integers(7, 15))
    start = timeline.day_of_start()
    ids, names, subjects = [], [], []
    for i, d in enumerate(sends):
        slug, subject = THEMES[int(rng.integers(len(THEMES)))]
        date = start + datetime.timedelta(days=int(d))
        ids.append(f"cmp_{date:%Y%m%d}_{slug}")
        names.append(f"{date:%Y-%m-%d} {slug.replace('-', ' ')} #{i + 1}")
        subjects.append(subject)
    low, high = config.email_audience
    return Campaigns(
        day=np.array(sends),
        campaign_id=ids,
        name=names,
        subject=subjects,
        audience=rng.uniform(low, high, len(sends)),
    )


def send_campaigns(
    campaigns: Campaigns,
    records: Records,
    persons: Persons,
    days: int,
    rng: np.random.Generator,
) -> Mailings:
    """Simulate every campaign for the chunk's records, in calendar order."""
    n = records.size
    subscribed = records.opted_in.copy()
    suppressed = np.zeros(n, dtype=bool)
    unsubscribed_day = np.full(n, np.nan)
    who = records.person
    parts: list[tuple[IntArray, IntArray, FloatArray, IntArray]] = []

    def emit(rows: IntArray, kind: int, when: FloatArray, campaign: int) -> None:
        inside = when < days
        parts.append(
            (
                rows[inside],
                np.full(int(inside.sum()), kind),
                when[inside],
                np.full(int(inside.sum()), campaign),
            )
        )

    # One pass per campaign: consent and suppression carry over to the next send.
    for c in range(campaigns.size):
        send = campaigns.day[c]
        eligible = subscribed & ~suppressed & (records.created < send)
        chosen = np.flatnonzero(eligible & (rng.random(n) < campaigns.audience[c]))
        arrive = send + rng.exponential(3.0, len(chosen)) * MINUTE
        bounce = records.bounces[chosen]
        emit(chosen[bounce], BOUNCED, arrive[bounce], c)
        suppressed[chosen[bounce]] = True
        got = chosen[~bounce]
        arrive = arrive[~bounce]
        emit(got, DELIVERED, arrive, c)
        opened = rng.random(len(got)) < persons.open_prob[who[got]]
        open_day = arrive + rng.exponential(8 / 24, len(got))
        emit(got[opened], OPENED, open_day[opened], c)
        clicked = opened & (rng.random(len(got)) < persons.click_prob[who[got]])
        click_day = open_day + rng.exponential(2.0, len(got)) * MINUTE
        emit(got[clicked], CLICKED, click_day[clicked], c)
        leaves = rng.random(len(got)) < persons.unsubscribe_prob[who[got]]
        # From the opened mail's footer, or from the inbox's unsubscribe button unopened.
        leave_day = np.where(opened, open_day, arrive + rng.exponential(0.5, len(got)))
        leave_day = leave_day + rng.exponential(1.0, len(got)) * MINUTE
        leaves &= leave_day < days
        emit(got[leaves], UNSUBSCRIBED, leave_day[leaves], c)
        subscribed[got[leaves]] = False
        unsubscribed_day[got[leaves]] = leave_day[leaves]

    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Mailings(empty, empty, np.zeros(0), empty, unsubscribed_day)
    return Mailings(
        record=np.concatenate([p[0] for p in parts]),
        kind=np.concatenate([p[1] for p in parts]).astype(np.int64),
        day=np.concatenate([p[2] for p in parts]),
        campaign=np.concatenate([p[3] for p in parts]).astype(np.int64),
        unsubscribed_day=unsubscribed_day,
    )
