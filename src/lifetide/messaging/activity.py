"""A batch's cart lines and recently viewed products, summed up from its owners' events (pure).

The events come from the operational database's recent activity (lifetide.collect.activity);
this module only decides whose each event is and what it adds up to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lifetide.warehouse.schema import RECORD_KINDS

PRODUCT_ADDED = "Product Added"
PRODUCT_REMOVED = "Product Removed"
PRODUCT_VIEWED = "Product Viewed"
# What a line or view takes from its latest event.
_DETAILS = ("name", "category", "brand", "price")


@dataclass
class _Seen:
    """One (profile, cart or None, product) of a batch's activity, as its events sum up."""

    units: int
    first_at: dt.datetime
    last_at: dt.datetime
    latest: Mapping[str, Any]


def cart_and_views(
    rows: Iterable[Mapping[str, Any]],
    owners: Iterable[tuple[str, str, int]],
    carts: Iterable[tuple[int, str]],
    depth: int,
) -> tuple[dict[tuple[int, str], list[dict[str, Any]]], dict[int, list[dict[str, Any]]]]:
    """The batch's cart lines and recently viewed products, from its owners' events (pure).

    `rows`: events as `RecentActivity.read` gives them; `owners`: (kind, value, profile) of
    the profiles' record ids and devices; `carts`: the (profile, cart id) pairs wanted.
    An event is its signed-in user's; a device's only when no one was signed in, so a
    shared device never shows one person what another looked at, and another visitor cannot
    put lines into someone's cart (a cart id is not a secret).

    Cart lines, by (profile, cart): units added minus units removed (a quantity of 1 when
    none is given), in the order first added; lines at zero or below are gone. Views, by
    profile: each product once, latest first, the `depth` newest. Each line and view carries
    the name, category, brand and price its latest event named, for products the catalog
    cannot describe.
    """
    by_user: dict[str, list[int]] = {}
    by_device: dict[str, list[int]] = {}
    for kind, value, profile in owners:
        (by_user if kind in RECORD_KINDS else by_device).setdefault(value, []).append(profile)
    wanted = set(carts)
    seen: dict[tuple[int, str | None, str], _Seen] = {}
    for row in rows:
        user = row["user_id"]
        profiles = (
            by_user.get(user, ()) if user is not None else by_device.get(row["anonymous_id"], ())
        )
        viewed = row["event"] == PRODUCT_VIEWED
        if viewed:
            units = 0
        elif row["event"] in (PRODUCT_ADDED, PRODUCT_REMOVED):
            quantity = row["quantity"]
            units = 1 if quantity is None else int(quantity)
            units = -units if row["event"] == PRODUCT_REMOVED else units
        else:
            continue
        cart = None if viewed else row["cart_id"]
        if not viewed and cart is None:
            continue
        at = row["at"]
        for profile in profiles:
            if cart is not None and (profile, cart) not in wanted:
                continue
            key = (profile, cart, row["product_id"])
            found = seen.get(key)
            if found is None:
                seen[key] = _Seen(units, at, at, row)
                continue
            found.units += units
            found.first_at = min(found.first_at, at)
            if at >= found.last_at:
                found.last_at, found.latest = at, row
    lines: dict[tuple[int, str], list[dict[str, Any]]] = {}
    views: dict[int, list[dict[str, Any]]] = {}
    for (profile, cart, product), found in sorted(
        seen.items(), key=lambda item: (item[1].first_at, item[0][2])
    ):
        details = {name: found.latest[name] for name in _DETAILS}
        if cart is not None:
            if found.units > 0:
                line = {"product_id": product, "quantity": found.units, **details}
                lines.setdefault((profile, cart), []).append(line)
        else:
            view = {"product_id": product, "viewed_at": found.last_at, **details}
            views.setdefault(profile, []).append(view)
    for viewed_products in views.values():
        viewed_products.sort(key=lambda v: str(v["product_id"]))
        viewed_products.sort(key=lambda v: v["viewed_at"], reverse=True)  # stable: ties by id
        del viewed_products[depth:]
    return lines, views
