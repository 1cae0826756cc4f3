from __future__ import annotations

import datetime as dt
import json

import ibis.expr.types as ir
import pytest

from lifetide.segments.insights import Overlap, Ranked, Share, insights
from lifetide.segments.tables import Tables, segment_tables
from lifetide.warehouse.connection import Warehouse
from tests.segments import small_shop
from tests.segments.small_shop import NOW


def _members(tables: Tables, segment_id: int) -> ir.Table:
    return tables.members.filter(tables.members.segment_id == segment_id).select("profile_id")


@pytest.fixture
def shop(warehouse: Warehouse) -> Tables:
    small_shop.build(warehouse.backend)
    return segment_tables(warehouse.backend)


def test_every_figure_of_the_small_shop(shop: Tables) -> None:
    found = insights(shop, _members(shop, 1), NOW, compare=_members(shop, 2))

    assert found.size == 3
    assert found.profiles == 6
    assert found.share_of_profiles == 0.5
    assert found.window_start == dt.datetime(2025, 6, 1)
    assert found.window_end == dt.datetime(2026, 6, 1)
    assert found.orders_12m == 4
    assert found.revenue_12m == 215.0
    assert found.revenue_all_12m == 485.0
    assert found.revenue_share == pytest.approx(215 / 485)
    assert found.average_clv == 75.0
    assert found.total_clv == 150.0
    assert found.lifecycle == (Share("active", 2, 2 / 3), Share("unscored", 1, 1 / 3))
    assert found.top_categories == (
        Ranked("skincare", 110.0, 110 / 215, units=4),
        Ranked("haircare", 75.0, 75 / 215, units=1),
        Ranked("makeup", 30.0, 30 / 215, units=2),
    )
    assert found.top_brands == (
        Ranked("BrandB", 80.0, 80 / 215, units=3),
        Ranked("BrandC", 75.0, 75 / 215, units=1),
        Ranked("BrandA", 60.0, 60 / 215, units=3),
    )
    assert found.channels == (Share("online", 3, 0.75), Share("store", 1, 0.25))
    assert found.promo.orders_with_promo == 3
    assert found.promo.share == 0.75
    assert found.promo.top_codes == (Share("SPRING", 2, 0.5), Share("WELCOME", 1, 0.25))
    assert found.overlap == Overlap(both=1, only_this=2, only_other=1, jaccard=0.25)


def test_without_predictions_clv_is_none_and_there_is_no_lifecycle(warehouse: Warehouse) -> None:
    small_shop.build(warehouse.backend, predictions=False)
    tables = segment_tables(warehouse.backend)

    found = insights(tables, _members(tables, 1), NOW)

    assert found.average_clv is None
    assert found.total_clv is None
    assert found.lifecycle == ()
    assert found.overlap is None
    assert found.revenue_12m == 215.0


def test_an_empty_segment_has_zeros_not_errors(shop: Tables) -> None:
    found = insights(shop, _members(shop, 99), NOW, compare=_members(shop, 2))

    assert (found.size, found.orders_12m, found.revenue_12m) == (0, 0, 0.0)
    assert found.revenue_all_12m == 485.0
    assert found.revenue_share == 0.0
    assert found.average_clv is None
    assert found.total_clv == 0.0
    assert found.top_categories == ()
    assert found.channels == ()
    assert found.promo.share == 0.0
    assert found.overlap == Overlap(both=0, only_this=0, only_other=2, jaccard=0.0)


def test_an_empty_promo_code_is_no_promo_code(shop: Tables, warehouse: Warehouse) -> None:
    # o2 (profile 1, store) had no code: an empty one, as some imports write it, is the same.
    warehouse.duckdb.execute("UPDATE orders SET promo_code = '' WHERE order_id = 'o2'")

    found = insights(shop, _members(shop, 1), NOW)

    assert found.promo.orders_with_promo == 3
    assert found.promo.share == 0.75
    assert found.promo.top_codes == (Share("SPRING", 2, 0.5), Share("WELCOME", 1, 0.25))


def test_a_timezone_aware_now_is_read_as_utc(shop: Tables) -> None:
    # 02:00 at UTC+2 is midnight UTC: the same window as NOW.
    plus_two = dt.timezone(dt.timedelta(hours=2))
    found = insights(shop, _members(shop, 1), dt.datetime(2026, 6, 1, 2, tzinfo=plus_two))

    assert found.window_end == dt.datetime(2026, 6, 1)
    assert found.orders_12m == 4


def test_top_lists_stop_at_eight_largest_first(shop: Tables, warehouse: Warehouse) -> None:
    con = warehouse.duckdb
    for n in range(10):
        con.execute(
            "INSERT INTO orders (order_id, customer_id, ordered_at, channel, status, currency,"
            " subtotal, discount, shipping, tax, total)"
            f" VALUES ('x{n}', 'c1', '2026-05-02', 'online', 'completed', 'USD', {n + 1}, 0, 0,"
            f" 0, {n + 1})"
        )
        con.execute(
            "INSERT INTO order_items (order_id, line_number, product_id, category, brand,"
            " unit_price, quantity, discount, clearance, returned)"
            f" VALUES ('x{n}', 1, 'p1', 'cat{n}', 'brand{n}', {n + 1}, 1, 0, false, false)"
        )

    found = insights(shop, _members(shop, 1), NOW)

    assert len(found.top_categories) == 8
    assert len(found.top_brands) == 8
    assert [c.key for c in found.top_categories[:3]] == ["skincare", "haircare", "makeup"]
    assert [c.key for c in found.top_categories[3:]] == ["cat9", "cat8", "cat7", "cat6", "cat5"]
    # Shares are of all member line spend (215 + 55), not of the eight shown.
    assert found.top_categories[0].share == pytest.approx(110 / 270)


def test_to_json_is_plain_json(shop: Tables) -> None:
    found = insights(shop, _members(shop, 1), NOW, compare=_members(shop, 2))

    data = json.loads(json.dumps(found.to_json()))

    assert data["window_end"] == "2026-06-01T00:00:00"
    assert data["top_brands"][0] == {
        "key": "BrandB",
        "spend": 80.0,
        "share": pytest.approx(80 / 215),
        "units": 3,
    }
    assert data["promo"]["top_codes"][0] == {"key": "SPRING", "count": 2, "share": 0.5}
    assert data["overlap"] == {"both": 1, "only_this": 2, "only_other": 1, "jaccard": 0.25}
