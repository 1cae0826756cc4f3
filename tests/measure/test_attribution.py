"""Attribution: a table of cases, and agreement with a brute-force reading on random data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifetide.measure.attribution import CLICK, OPEN, Windows, attribute, revenue_by

T0 = dt.datetime(2026, 11, 10, 12, 0)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def _orders(rows: list[tuple[str, int, dt.datetime, float]]) -> Any:
    frame = pd.DataFrame(rows, columns=["order_id", "profile_id", "ordered_at", "revenue"])
    return ibis.memtable(
        frame.astype({"profile_id": "int64", "revenue": "float64", "ordered_at": "datetime64[us]"})
    )


def _touches(rows: list[tuple[str, int, str, dt.datetime]]) -> Any:
    frame = pd.DataFrame(rows, columns=["send_key", "profile_id", "kind", "at"])
    frame["journey_id"] = [int(k.split(":")[0]) for k in frame["send_key"]]
    frame["step"] = "email"
    frame["channel"] = "email"
    return ibis.memtable(
        frame.astype({"profile_id": "int64", "journey_id": "int64", "at": "datetime64[us]"}),
        schema={
            "send_key": "string",
            "profile_id": "int64",
            "kind": "string",
            "at": "timestamp",
            "journey_id": "int64",
            "step": "string",
            "channel": "string",
        },
    )


def _credited(con: Any, orders: Any, touches: Any, windows: Windows | None = None) -> dict:
    rows = con.to_pyarrow(attribute(orders, touches, windows)).to_pylist()
    return {row["order_id"]: row["send_key"] for row in rows}


ORDER_AT = T0 + 10 * DAY
CASES: list[tuple[str, list[tuple[str, int, str, dt.datetime]], str | None]] = [
    ("a click 4 days before", [("1:a:1", 1, CLICK, ORDER_AT - 4 * DAY)], "1:a:1"),
    ("a click 5 days before, just", [("1:a:1", 1, CLICK, ORDER_AT - 5 * DAY)], "1:a:1"),
    ("a click 6 days before", [("1:a:1", 1, CLICK, ORDER_AT - 6 * DAY)], None),
    ("an open 23 hours before", [("1:a:1", 1, OPEN, ORDER_AT - 23 * HOUR)], "1:a:1"),
    ("an open 25 hours before", [("1:a:1", 1, OPEN, ORDER_AT - 25 * HOUR)], None),
    ("a touch after the order", [("1:a:1", 1, CLICK, ORDER_AT + HOUR)], None),
    ("someone else's click", [("1:a:1", 2, CLICK, ORDER_AT - HOUR)], None),
    (
        "the last touch wins, an open after a click",
        [("1:a:1", 1, CLICK, ORDER_AT - 3 * DAY), ("2:b:1", 1, OPEN, ORDER_AT - 2 * HOUR)],
        "2:b:1",
    ),
    (
        "an open too old to count leaves the click",
        [("1:a:1", 1, CLICK, ORDER_AT - 3 * DAY), ("2:b:1", 1, OPEN, ORDER_AT - 2 * DAY)],
        "1:a:1",
    ),
    (
        "a click outranks an open at the same instant",
        [("2:b:1", 1, OPEN, ORDER_AT - HOUR), ("1:a:1", 1, CLICK, ORDER_AT - HOUR)],
        "1:a:1",
    ),
    (
        "then the smaller key",
        [("2:b:1", 1, CLICK, ORDER_AT - HOUR), ("1:a:1", 1, CLICK, ORDER_AT - HOUR)],
        "1:a:1",
    ),
    ("no touch at all", [], None),
]


@pytest.mark.parametrize(("name", "touches", "credited"), CASES, ids=[c[0] for c in CASES])
def test_which_touch_is_credited(
    con: Any, name: str, touches: list[tuple[str, int, str, dt.datetime]], credited: str | None
) -> None:
    orders = _orders([("o1", 1, ORDER_AT, 50.0)])
    assert _credited(con, orders, _touches(touches)) == {"o1": credited}


def test_windows_are_settings(con: Any) -> None:
    orders = _orders([("o1", 1, ORDER_AT, 50.0)])
    touches = _touches([("1:a:1", 1, CLICK, ORDER_AT - 6 * DAY)])
    assert _credited(con, orders, touches, Windows(click=7 * DAY)) == {"o1": "1:a:1"}
    with pytest.raises(ValueError, match="negative"):
        Windows(open=-HOUR)


def test_one_click_can_earn_two_orders_and_revenue_adds_up_by_journey(con: Any) -> None:
    orders = _orders(
        [
            ("o1", 1, ORDER_AT, 50.0),
            ("o2", 1, ORDER_AT + DAY, 20.0),
            ("o3", 2, ORDER_AT, 99.0),
            ("o4", 3, ORDER_AT, 7.0),
        ]
    )
    touches = _touches([("1:a:1", 1, CLICK, ORDER_AT - HOUR), ("2:b:1", 2, OPEN, ORDER_AT - HOUR)])
    attributed = attribute(orders, touches)
    assert _credited(con, orders, touches) == {
        "o1": "1:a:1",
        "o2": "1:a:1",
        "o3": "2:b:1",
        "o4": None,
    }
    by_journey = con.to_pyarrow(revenue_by(attributed, "journey_id").order_by("journey_id"))
    assert by_journey.to_pylist() == [
        {"journey_id": 1, "orders": 2, "revenue": 70.0},
        {"journey_id": 2, "orders": 1, "revenue": 99.0},
    ]


def _reference(
    orders: list[tuple[str, int, dt.datetime, float]],
    touches: list[tuple[str, int, str, dt.datetime]],
    windows: Windows,
) -> dict[str, str | None]:
    """The rule read literally, one order at a time."""
    credited: dict[str, str | None] = {}
    for order_id, profile, at, _ in orders:
        eligible = [
            (touched, kind == CLICK, key)
            for key, who, kind, touched in touches
            if who == profile
            and touched <= at
            and at - touched <= (windows.click if kind == CLICK else windows.open)
        ]
        # Latest first; a click before an open; then the smallest key.
        best = min(eligible, key=lambda e: (-e[0].timestamp(), not e[1], e[2]), default=None)
        credited[order_id] = best[2] if best else None
    return credited


moments = st.integers(min_value=0, max_value=14 * 24).map(lambda h: T0 + h * HOUR)


@settings(max_examples=40, deadline=None)
@given(
    orders=st.lists(
        st.tuples(st.integers(1, 3), moments, st.floats(1, 500)), min_size=1, max_size=8
    ),
    touches=st.lists(
        st.tuples(st.integers(1, 9), st.integers(1, 3), st.sampled_from([OPEN, CLICK]), moments),
        max_size=12,
    ),
)
def test_agrees_with_the_rule_read_literally(
    con: Any,
    orders: list[tuple[int, dt.datetime, float]],
    touches: list[tuple[int, int, str, dt.datetime]],
) -> None:
    order_rows = [(f"o{i}", p, at, v) for i, (p, at, v) in enumerate(orders)]
    touch_rows = [(f"{j}:s:{i}", p, kind, at) for i, (j, p, kind, at) in enumerate(touches)]
    windows = Windows()
    got = _credited(con, _orders(order_rows), _touches(touch_rows), windows)
    assert got == _reference(order_rows, touch_rows, windows)
