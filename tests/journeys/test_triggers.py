"""Journeys started from the warehouse: segment entries (paged, never skipped) and dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.files import parse_journey
from lifetide.journeys.store import JourneyStore
from lifetide.journeys.triggers import WarehouseTriggers
from lifetide.ops.database import transaction
from lifetide.ops.models import Customer, JourneyInstance
from lifetide.settings import Settings

T0 = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
SEND = "steps: {hello: {type: send, template: welcome}}\nstart: hello\n"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def shop(settings: Settings, clock: ManualClock) -> Iterator[Lifetide]:
    with Lifetide(settings, clock=clock) as app:
        yield app


def _live(app: Lifetide, text: str) -> int:
    store = JourneyStore(app.sessions, app.clock)
    journey = parse_journey(text)
    journey_id = store.create(journey.name, journey, None).id
    store.set_status(journey_id, "live")
    return journey_id


def _instances(app: Lifetide, journey_id: int) -> list[JourneyInstance]:
    with app.sessions() as session:
        query = select(JourneyInstance).where(JourneyInstance.journey_id == journey_id)
        return list(session.scalars(query.order_by(JourneyInstance.profile_id)))


def _changes(app: Lifetide, rows: list[tuple[int, int, int, str, dt.datetime]]) -> None:
    con = app.warehouse.duckdb
    for segment, refresh, profile, change, at in rows:
        con.execute(
            "INSERT INTO segment_changes VALUES (?, ?, ?, ?, ?)",
            [segment, refresh, profile, change, at.replace(tzinfo=None)],
        )


def test_a_refresh_larger_than_a_page_opens_every_member_once(shop: Lifetide) -> None:
    journey_id = _live(shop, f"name: Welcome\ntrigger: {{type: segment, segment_id: 7}}\n{SEND}")
    entered = [(7, 1, p, "entered", T0) for p in range(1, 11)]
    exited = [(7, 1, 99, "exited", T0), (8, 2, 50, "entered", T0)]
    _changes(shop, entered + exited)
    triggers = WarehouseTriggers(shop.sessions, shop.clock, shop.warehouse)
    opened = [triggers.segments(limit=3) for _ in range(6)]
    assert sum(opened) == 10 and opened[-1] == 0
    assert [i.profile_id for i in _instances(shop, journey_id)] == list(range(1, 11))
    # The next refresh of the segment is read from where the cursor stands.
    _changes(shop, [(7, 3, 11, "entered", T0)])
    assert triggers.segments(limit=3) == 1


def test_changes_older_than_two_days_start_nothing(shop: Lifetide) -> None:
    journey_id = _live(shop, f"name: Win\ntrigger: {{type: segment, segment_id: 7}}\n{SEND}")
    _changes(shop, [(7, 1, 1, "entered", T0 - dt.timedelta(days=3))])
    WarehouseTriggers(shop.sessions, shop.clock, shop.warehouse).segments()
    assert _instances(shop, journey_id) == []


def _birthdays(app: Lifetide, dates: dict[int, str]) -> None:
    with transaction(app.sessions) as session:
        for n, (_, birth) in enumerate(sorted(dates.items())):
            session.add(
                Customer(
                    email=f"b{n}@shop.test",
                    traits={"birth_date": birth},
                    created_at=T0,
                    updated_at=T0,
                )
            )


def test_a_yearly_date_opens_on_its_day_once_and_catches_up_missed_days(
    shop: Lifetide, clock: ManualClock
) -> None:
    journey_id = _live(
        shop,
        "name: Birthday\n"
        "trigger: {type: date, source: trait, field: birth_date, yearly: true}\n" + SEND,
    )
    # 2 Nov (today), 3 Nov, 5 Nov; and 29 Feb, which falls on 28 Feb in 2027.
    _birthdays(shop, {1: "1990-11-02", 2: "1985-11-03", 3: "2001-11-05", 4: "1996-02-29"})
    triggers = WarehouseTriggers(shop.sessions, shop.clock, shop.warehouse)
    assert triggers.dates() == 1
    assert triggers.dates() == 0  # once a day
    # The worker is down for three days; on the 6th it catches up the 3rd, 4th and 5th.
    clock.advance(dt.timedelta(days=4))
    assert triggers.dates() == 2
    keys = sorted(str(i.instance_key) for i in _instances(shop, journey_id))
    assert keys == ["2026-11-02", "2026-11-03", "2026-11-05"]
    clock.set(dt.datetime(2027, 2, 28, 9, tzinfo=dt.UTC))
    assert triggers.dates() == 1


def test_a_prediction_date_with_an_offset(shop: Lifetide) -> None:
    journey_id = _live(
        shop,
        "name: Running low\n"
        "trigger: {type: date, source: prediction, field: next_replenishment_due, "
        "offset_days: -3}\n" + SEND,
    )
    con = shop.warehouse.duckdb
    con.execute(
        "CREATE TABLE predictions AS SELECT * FROM (VALUES "
        "(1::BIGINT, DATE '2026-11-05'), (2::BIGINT, DATE '2026-11-04'), (3::BIGINT, NULL)) "
        "AS t(profile_id, next_replenishment_due)"
    )
    WarehouseTriggers(shop.sessions, shop.clock, shop.warehouse).dates()
    assert [(i.profile_id, i.instance_key) for i in _instances(shop, journey_id)] == [
        (1, "2026-11-05")
    ]
