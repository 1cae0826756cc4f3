"""Recent activity in the operational database: kept from the loader and the warehouse, read by
owner within its window, expired (collect.activity), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from lifetide.clock import ManualClock
from lifetide.collect.activity import RecentActivity
from lifetide.context import Lifetide
from lifetide.ops.database import session_factory
from lifetide.ops.models import ShopperActivity
from lifetide.settings import Settings
from lifetide.warehouse.connection import Warehouse
from lifetide.worker import EXPIRY_SECONDS, Worker

NOW = dt.datetime(2026, 5, 10, 12, 0, tzinfo=dt.UTC)


def row(
    message_id: str,
    event: str = "Product Viewed",
    *,
    hours_ago: float = 1,
    user: str | None = "u1",
    device: str | None = "d1",
    product: str | None = "p1",
    cart: str | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A warehouse events row as the loader maps it (naive UTC timestamps, JSON text)."""
    at = (NOW - dt.timedelta(hours=hours_ago)).replace(tzinfo=None)
    return {
        "message_id": message_id,
        "type": "track",
        "event": event,
        "timestamp": at,
        "received_at": at,
        "user_id": user,
        "anonymous_id": device,
        "product_id": product,
        "category": "skincare",
        "brand": "Glow",
        "price": Decimal("12.50"),
        "quantity": 2 if event != "Product Viewed" else None,
        "cart_id": cart,
        "properties": json.dumps(properties) if properties is not None else None,
    }


@pytest.fixture
def activity(engine: Engine) -> RecentActivity:
    return RecentActivity(session_factory(engine), ManualClock(NOW), days=30)


def kept(activity: RecentActivity, engine: Engine) -> list[str]:
    with session_factory(engine)() as session:
        found = session.scalars(select(ShopperActivity.message_id).order_by("message_id"))
        return list(found)


def test_record_keeps_cart_and_view_events_once(activity: RecentActivity, engine: Engine) -> None:
    rows = [
        row("v1", properties={"name": "Rose Cleanser"}),
        row("a1", "Product Added", cart="c1"),
        row("r1", "Product Removed", cart="c1"),
        row("o1", "Order Completed"),
        row("v-no-product", product=None),
        row("v-old", hours_ago=31 * 24),
    ]
    assert activity.record(rows) == 3
    assert activity.record(rows) == 0  # a replayed batch adds nothing
    assert kept(activity, engine) == ["a1", "r1", "v1"]
    [view] = activity.read(["u1"], [], [], NOW)
    assert view == {
        "user_id": "u1", "anonymous_id": "d1", "event": "Product Viewed", "product_id": "p1",
        "cart_id": None, "quantity": None, "name": "Rose Cleanser", "category": "skincare",
        "brand": "Glow", "price": Decimal("12.50"), "at": dt.datetime(2026, 5, 10, 11, 0),
    }  # fmt: skip


def test_a_large_batch_is_kept_once_too(activity: RecentActivity, engine: Engine) -> None:
    # Past the size PostgreSQL is given by COPY; a replay and a repeat inside the batch.
    activity.record([row("v7")])
    rows = [row(f"v{i}", user=f"u{i}") for i in range(3_000)] + [row("v5")]
    assert activity.record(rows) == 2_999
    assert activity.record(rows) == 0
    assert len(kept(activity, engine)) == 3_000
    [found] = activity.read(["u42"], [], [], NOW)
    assert (found["product_id"], found["price"], found["at"]) == (
        "p1",
        Decimal("12.50"),
        dt.datetime(2026, 5, 10, 11, 0),
    )


def test_read_by_user_and_by_device_only_when_no_one_signed_in(
    activity: RecentActivity,
) -> None:
    activity.record(
        [
            row("by-user", user="u1", device="d9"),
            row("by-device", user=None, device="d1"),
            row("other-user-on-device", user="u2", device="d1"),
            row("cart-mine", "Product Added", cart="c1"),
            row("cart-other", "Product Added", cart="c2"),
        ]
    )
    found = activity.read(["u1"], ["d1"], ["c1"], NOW)
    assert sorted(r["product_id"] + ":" + str(r["user_id"]) for r in found) == [
        "p1:None",
        "p1:u1",
        "p1:u1",
    ]
    assert {r["cart_id"] for r in found} == {None, "c1"}
    assert activity.read([], [], [], NOW) == []


def test_read_sees_only_the_window_before_until(activity: RecentActivity) -> None:
    activity.record([row("recent", hours_ago=1), row("earlier", hours_ago=48)])
    future = row("future", hours_ago=-1)
    activity.record([future])
    assert len(activity.read(["u1"], [], [], NOW)) == 2  # not what comes after now
    # Thirty days on from an hour ago, the older one is out of the window.
    later = NOW + dt.timedelta(days=30) - dt.timedelta(hours=2)
    assert [r["at"].hour for r in activity.read(["u1"], [], [], later)] == [11, 13]


def test_expire_deletes_what_aged_out(engine: Engine) -> None:
    clock = ManualClock(NOW)
    activity = RecentActivity(session_factory(engine), clock, days=1)
    activity.record([row("new", hours_ago=1), row("day-old", hours_ago=20)])
    assert not activity.empty()
    clock.advance(dt.timedelta(hours=6))
    assert activity.expire() == 1
    assert kept(activity, engine) == ["new"]
    clock.advance(dt.timedelta(days=2))
    assert activity.expire() == 1
    assert activity.empty()


def test_a_retention_under_a_day_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="at least a day"):
        RecentActivity(session_factory(engine), ManualClock(NOW), days=0)


@pytest.fixture
def filled(warehouse: Warehouse) -> Warehouse:
    """A warehouse with a week of events of every kind, some outside a 3-day window."""
    warehouse.duckdb.execute(
        """
        INSERT INTO events (message_id, type, event, timestamp, user_id, anonymous_id,
                            product_id, price, quantity, cart_id, properties) VALUES
         ('v1', 'track', 'Product Viewed', '2026-05-10 09:00', NULL, 'd1', 'p1', 9.5, NULL,
          NULL, '{"name": "Brush"}'),
         ('a1', 'track', 'Product Added', '2026-05-09 09:00', 'u1', 'd1', 'p2', NULL, 3, 'c1',
          NULL),
         ('o1', 'track', 'Order Completed', '2026-05-09 10:00', 'u1', 'd1', NULL, NULL, NULL,
          NULL, NULL),
         ('old', 'track', 'Product Viewed', '2026-05-01 09:00', 'u1', NULL, 'p3', NULL, NULL,
          NULL, NULL)
        """
    )
    return warehouse


def test_copy_from_the_warehouse_takes_the_window_once(engine: Engine, filled: Warehouse) -> None:
    activity = RecentActivity(session_factory(engine), ManualClock(NOW), days=3)
    assert activity.copy_from(filled) == 2
    assert activity.copy_from(filled) == 0
    assert kept(activity, engine) == ["a1", "v1"]
    rows = {r["product_id"]: r for r in activity.read(["u1"], ["d1"], ["c1"], NOW)}
    assert (rows["p1"]["name"], rows["p1"]["price"]) == ("Brush", Decimal("9.50"))
    assert (rows["p2"]["quantity"], rows["p2"]["cart_id"]) == (3, "c1")
    # `since` narrows the window, never widens it.
    other = RecentActivity(session_factory(engine), ManualClock(NOW), days=30)
    with session_factory(engine).begin() as session:
        session.query(ShopperActivity).delete()
    assert other.copy_from(filled, since=NOW - dt.timedelta(hours=12)) == 1


def test_the_worker_fills_an_empty_store_then_expires_hourly(settings: Settings) -> None:
    clock = ManualClock(NOW)
    seconds = [0.0]
    with Lifetide(settings.model_copy(update={"activity_retention_days": 2}), clock) as app:
        app.warehouse.duckdb.execute(
            "INSERT INTO events (message_id, type, event, timestamp, user_id, product_id) "
            "VALUES ('v1', 'track', 'Product Viewed', '2026-05-10 09:00', 'u1', 'p1')"
        )
        worker = Worker(app, monotonic=lambda: seconds[0])
        worker.run_once()
        assert not app.activity.empty()
        clock.advance(dt.timedelta(days=3))
        worker.run_once()  # within the hour: nothing expires yet
        assert not app.activity.empty()
        seconds[0] += EXPIRY_SECONDS
        worker.run_once()
        assert app.activity.empty()
        with app.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ShopperActivity)) == 0
