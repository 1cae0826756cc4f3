"""The synthetic retailer's settings, including every true parameter the data is drawn from."""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from typing import Any

# The four uplift classes, in the order the *_classes shares are given.
UPLIFT_CLASSES = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")

UNITS_NOTE = (
    "Time: history runs from `start` 00:00 UTC (inclusive) to `end` + 1 day 00:00 UTC "
    "(exclusive); `start` = that exclusive end minus round(years * 365.25) days. "
    "BG/NBD: purchase rate lambda ~ Gamma(shape r, rate alpha) in purchases per WEEK "
    "(alpha in weeks), dropout probability p ~ Beta(a, b); T, t_x in weeks from the "
    "person's first order; the first order is at acquisition and the person can drop out "
    "only after a repeat order. Orders with status 'cancelled' are not purchases. "
    "Gamma-Gamma: nu ~ Gamma(shape q, rate gamma) in 1/USD, each purchase's value "
    "z ~ Gamma(shape p, rate nu) in USD, where the realized value is the order's "
    "subtotal - discount (merchandise after discounts, before shipping and tax, returns "
    "not deducted), equal to z up to the catalog's price grid (see docs of baskets.py). "
    "Money is USD with 2 decimals. Rates and shares are per person unless named otherwise."
)


@dataclass(frozen=True)
class SynthConfig:
    """How large the synthetic retailer is and the true parameters its data follows."""

    customers: int = 20_000
    seed: int = 0
    end: datetime.date = datetime.date(2026, 11, 1)
    years: float = 3.0
    # Persons per chunk: fixes the random streams, so it is part of the output's identity.
    chunk_size: int = 20_000
    products: int = 2_400

    # BG/NBD (Fader, Hardie & Lee 2005), weeks. r/alpha = 0.052 purchases a week (2.7 a year)
    # while active, with r < 1 for the usual long tail (most buy once or twice a year, a few
    # monthly); E[p] = a/(a+b) = 0.18, i.e. about 5 repeat orders before lapsing, so a buyer
    # places ~3 orders over the history. CDNOW's music buyers, for scale: r=0.24, alpha=4.4,
    # a=0.79, b=2.43 (mean rate 0.055, but far more heterogeneous and quicker to lapse).
    bgnbd_r: float = 0.55
    bgnbd_alpha: float = 10.5
    bgnbd_a: float = 0.85
    bgnbd_b: float = 3.8
    # Gamma-Gamma (Fader & Hardie 2013), USD. Mean order value p*gamma/(q-1) = 70 USD, the
    # usual prestige-beauty basket; within-person CV 1/sqrt(p) = 0.41, between-person CV of
    # the mean 1/sqrt(q-2) = 0.71.
    gg_p: float = 6.0
    gg_q: float = 4.0
    gg_gamma: float = 35.0

    # Acquisition intensity at the end of history over that at its start (growing cohorts).
    cohort_growth: float = 2.0
    never_purchased: float = 0.15
    # Persons with a second CRM record, and the share of those with a third.
    duplicate_rate: float = 0.04
    third_record_share: float = 0.12
    # Shares of persons: store-only and online-only; the rest mix channels.
    store_only: float = 0.20
    online_only: float = 0.35
    loyalty_member: float = 0.40
    email_opt_out: float = 0.35
    sms_opt_in: float = 0.22
    # Share of e-mail addresses that hard-bounce (typos, dead mailboxes).
    email_bounce: float = 0.025
    clearance_lover: float = 0.10
    # Mean of the per-person line return probability (Beta distributed).
    return_rate: float = 0.06
    cancel_rate: float = 0.012
    # Class shares (persuadable, sure_thing, lost_cause, sleeping_dog).
    email_classes: tuple[float, float, float, float] = (0.15, 0.25, 0.50, 0.10)
    discount_classes: tuple[float, float, float, float] = (0.20, 0.30, 0.40, 0.10)
    # P(discount seeker | discount class), same order.
    discount_seeker_given_class: tuple[float, float, float, float] = (0.50, 0.10, 0.02, 0.0)

    # Web behaviour. Share of carts (cart ids with a Product Added) that never become an order.
    cart_abandonment: float = 0.70
    # Share of those abandoned carts that are lost: tied to no order, placed like browse
    # sessions (non-buyers who browse abandon some too); the rest come back, a day or two
    # before one of the person's online orders. Either way carts / (carts + orders) stays
    # cart_abandonment.
    lost_cart_share: float = 0.5
    # Browse-only sessions a week while active, and after dropping out.
    browse_rate: float = 0.015
    browse_rate_lapsed: float = 0.005
    # Probability a browse or cart session starts signed in (once the account exists).
    login_rate: float = 0.35
    # Never-identified visitors per person.
    anonymous_visitors: float = 0.30
    # E-mail: campaigns every 7-14 days over the last `email_months` months, each to a share
    # of the opted-in list.
    email_months: float = 6.0
    email_audience: tuple[float, float] = (0.30, 0.55)

    def __post_init__(self) -> None:
        """Reject settings the generator cannot honour."""
        if self.customers < 1:
            raise ValueError("customers must be at least 1")
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if not 0.25 <= self.years <= 20:
            raise ValueError("years must be between 0.25 and 20")
        if self.products < 300:
            raise ValueError("products must be at least 300 so every category has a range")
        if not 0 < self.cart_abandonment < 1:
            raise ValueError("cart_abandonment must be strictly between 0 and 1")
        if not 0 < self.lost_cart_share < 1:
            raise ValueError("lost_cart_share must be strictly between 0 and 1")
        for name in ("email_classes", "discount_classes"):
            shares = getattr(self, name)
            if abs(sum(shares) - 1) > 1e-9 or min(shares) < 0:
                raise ValueError(f"{name} must be four non-negative shares summing to 1")
        if min(self.bgnbd_r, self.bgnbd_alpha, self.bgnbd_a, self.bgnbd_b) <= 0:
            raise ValueError("BG/NBD parameters must be positive")
        if min(self.gg_p, self.gg_gamma) <= 0 or self.gg_q <= 1:
            raise ValueError("Gamma-Gamma needs p, gamma > 0 and q > 1 (finite mean)")

    @property
    def end_exclusive(self) -> datetime.datetime:
        """The first instant after the history: the day after `end`, 00:00 UTC (naive)."""
        return datetime.datetime.combine(self.end, datetime.time()) + datetime.timedelta(days=1)

    @property
    def history_days(self) -> int:
        """Whole days of history."""
        return round(self.years * 365.25)

    @property
    def start(self) -> datetime.datetime:
        """The first instant of the history (00:00 UTC, naive)."""
        return self.end_exclusive - datetime.timedelta(days=self.history_days)

    def to_json(self) -> dict[str, Any]:
        """Every field as JSON-ready values, with the derived window and a note of units."""
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime.date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            fields[f.name] = value
        return {
            "config": fields,
            "start": self.start.isoformat(),
            "end_exclusive": self.end_exclusive.isoformat(),
            "uplift_classes": list(UPLIFT_CLASSES),
            "units": UNITS_NOTE,
        }
