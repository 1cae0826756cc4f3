"""Whose each event is, and what a batch's events add up to (messaging.activity, pure)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifetide.messaging.activity import (
    PRODUCT_ADDED,
    PRODUCT_REMOVED,
    PRODUCT_VIEWED,
    cart_and_views,
)

T0 = dt.datetime(2026, 5, 10, 10, 0)
# Ada (11): user id u-ada, CRM id crm-ada, device dev-ada. Bo (12): u-bo, dev-bo.
OWNERS = [
    ("user_id", "u-ada", 11),
    ("crm_id", "crm-ada", 11),
    ("anonymous_id", "dev-ada", 11),
    ("user_id", "u-bo", 12),
    ("anonymous_id", "dev-bo", 12),
]
CARTS = [(11, "c-ada"), (12, "c-bo")]


def event(
    kind: str,
    product: str,
    minute: int,
    *,
    user: str | None = "u-ada",
    device: str | None = None,
    cart: str | None = None,
    quantity: int | None = None,
    name: str | None = None,
    price: str | None = None,
) -> dict[str, Any]:
    """One row as RecentActivity.read gives it."""
    return {
        "user_id": user,
        "anonymous_id": device,
        "event": kind,
        "product_id": product,
        "cart_id": cart,
        "quantity": quantity,
        "name": name,
        "category": None,
        "brand": None,
        "price": Decimal(price) if price else None,
        "at": T0 + dt.timedelta(minutes=minute),
    }


def lines_of(rows: list[dict[str, Any]], profile: int = 11, cart: str = "c-ada") -> list[Any]:
    lines, _ = cart_and_views(rows, OWNERS, CARTS, depth=4)
    return [(line["product_id"], line["quantity"]) for line in lines.get((profile, cart), [])]


def views_of(rows: list[dict[str, Any]], profile: int = 11, depth: int = 4) -> list[str]:
    _, views = cart_and_views(rows, OWNERS, CARTS, depth=depth)
    return [view["product_id"] for view in views.get(profile, [])]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param([], [], id="nothing"),
        pytest.param(
            [event(PRODUCT_ADDED, "p1", 0, cart="c-ada", quantity=2)], [("p1", 2)], id="one line"
        ),
        pytest.param(
            [event(PRODUCT_ADDED, "p1", 0, cart="c-ada")], [("p1", 1)], id="no quantity is one"
        ),
        pytest.param(
            [
                event(PRODUCT_ADDED, "p1", 0, cart="c-ada", quantity=2),
                event(PRODUCT_ADDED, "p1", 5, cart="c-ada", quantity=1),
                event(PRODUCT_REMOVED, "p1", 6, cart="c-ada", quantity=1),
            ],
            [("p1", 2)],
            id="added twice, one removed",
        ),
        pytest.param(
            [
                event(PRODUCT_ADDED, "p2", 0, cart="c-ada"),
                event(PRODUCT_REMOVED, "p2", 1, cart="c-ada"),
            ],
            [],
            id="removed again: gone",
        ),
        pytest.param(
            [
                event(PRODUCT_ADDED, "p2", 3, cart="c-ada"),
                event(PRODUCT_ADDED, "p1", 1, cart="c-ada"),
                event(PRODUCT_ADDED, "p3", 1, cart="c-ada"),
            ],
            [("p1", 1), ("p3", 1), ("p2", 1)],
            id="in the order first added, ties by product",
        ),
        pytest.param(
            [event(PRODUCT_ADDED, "p1", 0, cart="c-other")], [], id="another cart of hers"
        ),
        pytest.param(
            [event(PRODUCT_ADDED, "p7", 0, user="u-bo", cart="c-ada")],
            [],
            id="someone else adding to her cart id",
        ),
        pytest.param(
            [event(PRODUCT_ADDED, "p1", 0, user=None, device="dev-ada", cart="c-ada")],
            [("p1", 1)],
            id="her device, no one signed in",
        ),
        pytest.param(
            [event(PRODUCT_ADDED, "p1", 0, user="u-bo", device="dev-ada", cart="c-ada")],
            [],
            id="her device, Bo signed in",
        ),
        pytest.param(
            [event(PRODUCT_ADDED, "p1", 0, user="crm-ada", cart="c-ada")],
            [("p1", 1)],
            id="another record id of hers",
        ),
        pytest.param(
            [event(PRODUCT_ADDED, "p1", 0, cart=None)], [], id="a cart event without a cart"
        ),
    ],
)
def test_cart_lines(rows: list[dict[str, Any]], expected: list[Any]) -> None:
    assert lines_of(rows) == expected


@pytest.mark.parametrize(
    ("rows", "depth", "expected"),
    [
        pytest.param([], 4, [], id="nothing"),
        pytest.param(
            [event(PRODUCT_VIEWED, p, m) for p, m in (("p1", 0), ("p2", 9), ("p3", 5))],
            4,
            ["p2", "p3", "p1"],
            id="latest first",
        ),
        pytest.param(
            [event(PRODUCT_VIEWED, p, m) for p, m in (("p1", 0), ("p2", 1), ("p1", 7))],
            4,
            ["p1", "p2"],
            id="each product once, at its latest view",
        ),
        pytest.param(
            [event(PRODUCT_VIEWED, p, m) for p, m in (("p1", 1), ("p2", 2), ("p3", 3))],
            2,
            ["p3", "p2"],
            id="cut to depth",
        ),
        pytest.param(
            [event(PRODUCT_VIEWED, p, 0) for p in ("p9", "p2", "p5")],
            4,
            ["p2", "p5", "p9"],
            id="ties by product",
        ),
        pytest.param(
            [event(PRODUCT_VIEWED, "p6", 0, user="u-bo", device="dev-ada")],
            4,
            [],
            id="Bo on her device is not hers",
        ),
        pytest.param(
            [event(PRODUCT_ADDED, "p1", 0, cart="c-ada")], 4, [], id="an add is not a view"
        ),
        pytest.param(
            [event(PRODUCT_VIEWED, "p1", 0, user="u-stranger")], 4, [], id="no owner in batch"
        ),
    ],
)
def test_views(rows: list[dict[str, Any]], depth: int, expected: list[str]) -> None:
    assert views_of(rows, depth=depth) == expected


def test_views_of_bo_on_her_device_are_his() -> None:
    rows = [event(PRODUCT_VIEWED, "p6", 0, user="u-bo", device="dev-ada")]
    assert views_of(rows, profile=12) == ["p6"]


def test_each_line_and_view_carries_what_its_latest_event_said() -> None:
    rows = [
        event(PRODUCT_ADDED, "p8", 0, cart="c-ada", name="Kit", price="14"),
        event(PRODUCT_ADDED, "p8", 30, cart="c-ada", name="Travel Kit", price="15"),
        event(PRODUCT_VIEWED, "p10", 60, name="Brush", price="8"),
        event(PRODUCT_VIEWED, "p10", 0, name="Old Brush", price="9"),
    ]
    lines, views = cart_and_views(rows, OWNERS, CARTS, depth=4)
    [line] = lines[(11, "c-ada")]
    assert (line["name"], line["price"], line["quantity"]) == ("Travel Kit", Decimal("15"), 2)
    [view] = views[11]
    assert (view["name"], view["price"], view["viewed_at"]) == (
        "Brush",
        Decimal("8"),
        T0 + dt.timedelta(minutes=60),
    )


def test_a_device_shared_by_two_profiles_counts_for_both() -> None:
    owners = [*OWNERS, ("anonymous_id", "dev-ada", 12)]
    rows = [event(PRODUCT_VIEWED, "p1", 0, user=None, device="dev-ada")]
    _, views = cart_and_views(rows, owners, CARTS, depth=4)
    assert {profile: [v["product_id"] for v in found] for profile, found in views.items()} == {
        11: ["p1"],
        12: ["p1"],
    }


EVENTS = st.lists(
    st.builds(
        event,
        st.sampled_from([PRODUCT_ADDED, PRODUCT_REMOVED, PRODUCT_VIEWED]),
        st.sampled_from(["p1", "p2", "p3", "p4", "p5", "p6"]),
        st.integers(0, 20),
        user=st.sampled_from(["u-ada", "crm-ada", "u-bo", None]),
        device=st.sampled_from(["dev-ada", "dev-bo", None]),
        cart=st.sampled_from(["c-ada", "c-bo", "c-x", None]),
        quantity=st.one_of(st.none(), st.integers(1, 3)),
    ),
    max_size=40,
)


@given(EVENTS, st.randoms(use_true_random=False), st.integers(1, 6))
def test_the_order_events_arrive_in_changes_nothing_that_is_shown(
    rows: list[dict[str, Any]], shuffler: random.Random, depth: int
) -> None:
    # Quantities, order and membership: the latest event's details may differ between two
    # events at the same instant, which DuckDB's argmax did not fix either.
    def shown(found: list[dict[str, Any]]) -> Any:
        lines, views = cart_and_views(found, OWNERS, CARTS, depth)
        return (
            {k: [(x["product_id"], x["quantity"]) for x in v] for k, v in lines.items()},
            {k: [(x["product_id"], x["viewed_at"]) for x in v] for k, v in views.items()},
        )

    shuffled = list(rows)
    shuffler.shuffle(shuffled)
    assert shown(shuffled) == shown(rows)


@given(EVENTS, st.integers(1, 6))
def test_lines_are_positive_and_views_unique_and_at_most_depth(
    rows: list[dict[str, Any]], depth: int
) -> None:
    lines, views = cart_and_views(rows, OWNERS, CARTS, depth)
    assert set(lines) <= set(CARTS)
    assert all(line["quantity"] > 0 for found in lines.values() for line in found)
    for found in views.values():
        products = [v["product_id"] for v in found]
        assert len(products) == len(set(products)) <= depth
        stamps = [v["viewed_at"] for v in found]
        assert stamps == sorted(stamps, reverse=True)
