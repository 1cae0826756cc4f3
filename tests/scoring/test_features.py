"""The feature table: hand-computed values, no leakage from after the as-of date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lifetide.context import Lifetide
from lifetide.identity.resolver import IdentityResolver
from lifetide.imports.service import import_file
from lifetide.models.summary import summarize_transactions
from lifetide.scoring.features import categories, customer_features, labels, slug
from lifetide.scoring.profiles import NoProfiles, sync_profiles
from tests.imports.conftest import write_csv

PRODUCTS = [
    ["product_id", "name", "category", "brand", "price", "price_tier", "replenishable"],
    ["P1", "Cleanser", "skincare", "Acme", "10.00", "budget", "true"],
    ["P2", "Lipstick", "makeup", "Rouge", "30.00", "mid", "false"],
    ["P3", "Serum", "skincare", "Lumen", "90.00", "prestige", "false"],
]
CUSTOMERS = [
    ["customer_id", "source", "email", "first_name", "last_name", "accepts_email_marketing",
     "accepts_sms_marketing", "created_at"],
    ["U1", "ecommerce", "ana@example.com", "Ana", "Silva", "true", "false", "2025-01-01T00:00:00Z"],
    # Ana's store record: one person, so one profile with U1's orders and hers.
    ["S1", "pos", "ANA@example.com", "Ana", "Silva", "false", "false", "2025-02-01T00:00:00Z"],
    ["U2", "ecommerce", "bo@example.com", "Bo", "Park", "true", "false", "2025-03-01T00:00:00Z"],
    # Signs up after the as-of date: not yet a customer then.
    ["U3", "ecommerce", "cy@example.com", "Cy", "Lee", "true", "false", "2025-07-01T00:00:00Z"],
]  # fmt: skip
ORDER_HEAD = ["order_id", "customer_id", "ordered_at", "channel", "status", "promo_code",
              "currency", "subtotal", "discount", "shipping", "tax", "total"]  # fmt: skip
ORDERS = [
    ORDER_HEAD,
    ["O1", "U1", "2025-01-10 12:00", "online", "completed", "", "USD", "40", "0", "5", "3", "48"],
    # Same day as O1: one purchase occasion for BG/NBD.
    ["O2", "S1", "2025-01-10 18:00", "store", "completed", "", "USD", "10", "0", "0", "1", "11"],
    ["O3", "U1", "2025-03-01T12:00:00Z", "online", "partially_returned", "SPRING", "USD", "90",
     "9", "5", "6", "92"],
    ["O4", "U1", "2025-05-31 12:00", "store", "completed", "", "USD", "30", "0", "0", "2", "32"],
    ["O5", "U1", "2025-04-01 12:00", "online", "cancelled", "", "USD", "30", "0", "0", "0", "30"],
    # After the as-of date (2025-06-01): the future, invisible to the features.
    ["O6", "U1", "2025-06-02 00:00", "online", "completed", "", "USD", "30", "0", "0", "0", "30"],
    ["O7", "U2", "2025-05-01 09:00", "store", "completed", "", "USD", "30", "0", "0", "0", "30"],
]  # fmt: skip
ITEM_HEAD = ["order_id", "line_number", "product_id", "category", "brand", "unit_price",
             "quantity", "discount", "clearance", "returned", "returned_at"]  # fmt: skip
ITEMS = [
    ITEM_HEAD,
    ["O1", "1", "P1", "skincare", "Acme", "10", "1", "0", "false", "false", ""],
    ["O1", "2", "P2", "makeup", "Rouge", "30", "1", "0", "false", "false", ""],
    ["O2", "1", "P1", "skincare", "Acme", "10", "1", "0", "false", "false", ""],
    # Returned before the as-of date: counts.
    ["O3", "1", "P3", "skincare", "Lumen", "90", "1", "9", "false", "true", "2025-03-10T00:00:00Z"],
    ["O4", "1", "P2", "makeup", "Rouge", "30", "1", "0", "true", "true", "2025-06-05T00:00:00Z"],
    ["O6", "1", "P2", "makeup", "Rouge", "30", "1", "0", "false", "true", "2025-06-10T00:00:00Z"],
    ["O7", "1", "P2", "makeup", "Rouge", "30", "1", "0", "false", "false", ""],
]  # fmt: skip
EVENTS = [
    ["message_id", "type", "event", "timestamp", "user_id", "anonymous_id"],
    ["e1", "track", "Product Viewed", "2025-05-30T10:00:00Z", "", "ana-phone"],
    ["e2", "identify", "", "2025-05-30T10:01:00Z", "U1", "ana-phone"],
    ["e3", "track", "Product Added", "2025-05-20T10:00:00Z", "U1", "ana-phone"],
    ["e4", "track", "Product Viewed", "2025-04-01T10:00:00Z", "U1", "ana-phone"],
    ["e5", "track", "Email Delivered", "2025-05-01T10:00:00Z", "U2", ""],
    ["e6", "track", "Email Opened", "2025-05-01T11:00:00Z", "U2", ""],
    ["e7", "track", "Product Viewed", "2025-06-03T10:00:00Z", "U1", "ana-phone"],
]  # fmt: skip
AS_OF = dt.date(2025, 6, 1)


@pytest.fixture
def shop(app: Lifetide, tmp_path: Path) -> Lifetide:
    for name, rows in (
        ("products", PRODUCTS),
        ("customers", CUSTOMERS),
        ("orders", ORDERS),
        ("order_items", ITEMS),
        ("events", EVENTS),
    ):
        import_file(app.warehouse, name, write_csv(tmp_path / f"{name}.csv", rows))
    IdentityResolver(app.warehouse, app.sessions, app.clock, probabilistic=False).run()
    with app.sessions() as session:
        sync_profiles(session, app.warehouse)
    return app


def rows_by_first_record(app: Lifetide, table: Any) -> dict[str, dict[str, Any]]:
    keys = app.warehouse.duckdb.execute(
        "SELECT value, profile_id FROM profile_keys WHERE kind IN ('user_id', 'crm_id')"
    ).fetchall()
    profile_of = dict(keys)
    by_profile = {r["profile_id"]: r for r in table.to_pylist()}
    return {record: by_profile[p] for record, p in profile_of.items() if p in by_profile}


def test_features_by_hand(shop: Lifetide) -> None:
    cats = categories(shop.warehouse)
    assert cats == ["makeup", "skincare"]  # makeup sold more units
    table = customer_features(shop.warehouse, AS_OF, cats).to_pyarrow()
    rows = rows_by_first_record(shop, table)
    assert "U3" not in rows  # signed up after the as-of date
    ana = rows["U1"]
    assert rows["S1"] is ana or rows["S1"]["profile_id"] == ana["profile_id"]
    assert ana["orders"] == 4  # O1, O2, O3, O4; not the cancelled O5 nor the later O6
    assert (ana["orders_online"], ana["orders_store"]) == (2, 2)
    assert ana["net_spend"] == pytest.approx(40 + 10 + 81 + 30)
    # Purchase days 2025-01-10, 03-01, 05-31: x = 2; t_x = 141 days; T to 2025-06-02.
    assert ana["x"] == 2
    assert ana["t_x"] == pytest.approx(141 / 7)
    assert ana["T"] == pytest.approx(143 / 7)
    assert ana["monetary"] == pytest.approx((81 + 30) / 2)  # the first day is left out
    assert ana["recency_days"] == 1
    assert ana["units"] == 5
    # O3 had a promo code and a line discount; O4's line was on clearance.
    assert ana["units_discounted"] == 2
    assert ana["units_clearance"] == 1
    assert ana["units_returned"] == 1  # O4's return came after the as-of date
    assert ana["return_rate"] == pytest.approx(0.2)
    assert ana["orders_with_promo"] == 1 and ana["promo_codes_used"] == 1
    assert ana["share_prestige"] == pytest.approx(0.2)
    assert ana["share_skincare"] == pytest.approx((10 + 10 + 81) / (10 + 30 + 10 + 81 + 30))
    assert ana["top_brand_share"] == pytest.approx(81 / 161)
    # Events through the device before sign-in count for Ana; the one on 06-03 does not.
    assert ana["product_views_7d"] == 1
    assert ana["product_views_90d"] == 2
    assert ana["cart_adds_30d"] == 1
    assert ana["days_since_seen"] == 2
    bo = rows["U2"]
    assert bo["x"] == 0 and bo["monetary"] == 0
    assert bo["email_open_rate_90d"] == 1.0
    assert bo["tenure_days"] == (dt.date(2025, 6, 2) - dt.date(2025, 3, 1)).days


def test_labels_see_only_the_window_after_the_date(shop: Lifetide) -> None:
    rows = rows_by_first_record(shop, labels(shop.warehouse, AS_OF, 30).to_pyarrow())
    assert set(rows) == {"U1", "S1"}
    assert rows["U1"]["future_orders"] == 1
    assert rows["U1"]["future_spend"] == pytest.approx(30)
    assert rows["U1"]["returned_items"] == 1


def test_no_profiles_is_a_clear_error(app: Lifetide) -> None:
    with app.sessions() as session, pytest.raises(NoProfiles, match="identity resolve"):
        sync_profiles(session, app.warehouse)


@pytest.mark.parametrize(
    ("name", "expected"), [("bath & body", "bath_body"), ("Skin-Care", "skin_care"), ("&", "blank")]
)
def test_slug(name: str, expected: str) -> None:
    assert slug(name) == expected


@pytest.mark.slow
def test_bgnbd_inputs_match_the_transactions_summary(synth_shop: Lifetide) -> None:
    """x, t_x and T from the warehouse equal the models' own summary of the same purchases."""
    as_of = dt.date(2026, 6, 30)
    wh = synth_shop.warehouse
    table = customer_features(wh, as_of, categories(wh)).to_pyarrow()
    buyers = {r["profile_id"]: r for r in table.to_pylist() if r["orders"] > 0}
    days = wh.duckdb.execute(
        """
        SELECT k.profile_id, CAST(o.ordered_at AS DATE) AS day
        FROM orders o JOIN profile_keys k ON k.value = o.customer_id
        WHERE k.kind IN ('user_id', 'crm_id') AND o.status <> 'cancelled'
          AND o.ordered_at < TIMESTAMP '2026-07-01'
        """
    ).fetch_arrow_table()
    summary = summarize_transactions(
        days.column("profile_id"), days.column("day"), dt.date(2026, 7, 1), unit="week"
    )
    ids = summary.customer_id.to_pylist()
    assert set(ids) == set(buyers)
    ours = np.array([[buyers[i]["x"], buyers[i]["t_x"], buyers[i]["T"]] for i in ids])
    theirs = np.column_stack([summary.frequency, summary.recency, summary.T])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
