"""Promo codes: which exist, when they apply, and which one an order carries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray


@dataclass(frozen=True)
class Promo:
    """A promo code: the share it takes off merchandise, or free shipping."""

    code: str
    rate: float
    free_shipping: bool = False


PROMOS: tuple[Promo, ...] = (
    Promo("WELCOME10", 0.10),  # first order
    Promo("FREESHIP", 0.0, free_shipping=True),  # online, any time
    Promo("VIP20", 0.20),  # from the fifth order on
    Promo("NEWYEAR10", 0.10),  # January-February
    Promo("SPRING15", 0.15),  # March-May
    Promo("SUMMER15", 0.15),  # June-August
    Promo("FALL10", 0.10),  # September-October
    Promo("HOLIDAY20", 0.20),  # November-December
)
WELCOME, FREESHIP, VIP = 0, 1, 2
SEASONAL_BY_MONTH = np.array([3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 7, 7])
RATES = np.array([p.rate for p in PROMOS])
FREE_SHIPPING = np.array([p.free_shipping for p in PROMOS])


def choose_promos(
    uses: BoolArray, seq: IntArray, store: BoolArray, month: IntArray, u: FloatArray
) -> IntArray:
    """The promo code of each order (index into PROMOS), -1 for none.

    Orders that use a code take the one a shopper would have: the welcome code on a first
    order, the VIP code for regulars, free shipping online, else the season's code.
    """
    seasonal = SEASONAL_BY_MONTH[month - 1]
    code = np.where(
        seq == 0,
        np.where(u < 0.7, WELCOME, seasonal),
        np.where(
            (seq >= 4) & (u < 0.35),
            VIP,
            np.where(~store & (u > 0.75), FREESHIP, seasonal),
        ),
    )
    return np.where(uses, code, -1).astype(np.int64)
