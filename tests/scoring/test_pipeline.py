"""`Scorer` end to end on a small retailer, and on the awkward inputs a real shop sends."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.identity.resolver import IdentityResolver
from lifetide.imports.service import import_file
from lifetide.models.lifecycle import STAGES
from lifetide.reports.store import load_report
from lifetide.scoring.pipeline import ScoreError, ScoreOptions, Scorer
from lifetide.scoring.profiles import NoProfiles
from lifetide.scoring.tables import SCORING_TABLES
from lifetide.settings import load_settings
from tests.conftest import SHOP_END
from tests.imports.conftest import write_csv

DOCS = Path(__file__).resolve().parents[2] / "docs"


def rows(app: Lifetide, sql: str) -> list[dict[str, Any]]:
    cursor = app.warehouse.duckdb.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


@pytest.fixture(scope="module")
def scored(synth_shop_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small retailer scored once with every evaluation."""
    import shutil

    data = tmp_path_factory.mktemp("scored") / "data"
    shutil.copytree(synth_shop_dir, data)
    settings = load_settings(data_dir=data, env="test")
    clock = ManualClock(dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC))
    with Lifetide(settings, clock=clock) as app:
        Scorer(app, ScoreOptions(as_of=SHOP_END)).run()
    return data


@pytest.fixture
def scored_app(scored: Path) -> Any:
    with Lifetide(load_settings(data_dir=scored, env="test")) as app:
        yield app


def test_every_profile_gets_a_row_and_no_nan(scored_app: Lifetide) -> None:
    profiles = rows(scored_app, "SELECT count(*) AS n FROM profiles")[0]["n"]
    predictions = rows(scored_app, "SELECT * FROM predictions")
    assert 0 < len(predictions) <= profiles
    for row in predictions:
        for name, value in row.items():
            assert not (isinstance(value, float) and math.isnan(value)), (name, row)
        assert row["lifecycle_stage"] in STAGES
        if row["orders"] == 0:
            assert row["lifecycle_stage"] == "never_purchased"
            assert row["clv_12m"] is None and row["p_alive"] is None
        else:
            assert row["clv_12m"] >= 0 and 0 <= row["p_alive"] <= 1
        assert 0 <= row["p_purchase_30d"] <= 1
    buyers = [r for r in predictions if r["orders"] > 0]
    top = sum(r["future_top20"] for r in buyers)
    assert top == pytest.approx(0.2 * len(buyers), abs=2)


def test_recommendations_exclude_recent_non_replenishable_purchases(
    scored_app: Lifetide,
) -> None:
    recs = rows(scored_app, "SELECT profile_id, count(*) AS n FROM recommendations GROUP BY 1")
    assert recs and all(r["n"] == 10 for r in recs)
    clash = rows(
        scored_app,
        f"""
        SELECT count(*) AS n FROM recommendations r
        JOIN profile_keys k ON k.profile_id = r.profile_id AND k.kind IN ('user_id', 'crm_id')
        JOIN orders o ON o.customer_id = k.value AND o.status <> 'cancelled'
        JOIN order_items i ON i.order_id = o.order_id AND i.product_id = r.product_id
        JOIN products p ON p.product_id = r.product_id AND NOT p.replenishable
        WHERE o.ordered_at >= DATE '{SHOP_END}' - INTERVAL 89 DAY
          AND o.ordered_at < DATE '{SHOP_END}' + INTERVAL 1 DAY
        """,
    )
    assert clash[0]["n"] == 0


def test_run_is_recorded_with_its_figures(scored_app: Lifetide) -> None:
    run = rows(scored_app, "SELECT * FROM score_runs ORDER BY run_id DESC LIMIT 1")[0]
    assert run["as_of"] == SHOP_END
    metrics = json.loads(run["metrics"])
    assert 0.5 < metrics["p_purchase_30d"]["auc"] <= 1
    assert set(metrics["recommendations"]) == {"blend", "als", "cooccurrence", "popularity"}
    assert metrics["future_top20"]["customers"] > 0


def test_report_data_is_saved(scored: Path) -> None:
    report = load_report(scored / "reports" / "models.json")
    assert report.as_of == SHOP_END
    assert report.bgnbd is not None and report.classifiers is not None


def _documented_columns() -> dict[str, str]:
    text = (DOCS / "data-model.md").read_text()
    start = text.index("## Derived tables")
    body = text[start : text.index("\n## ", start + 5)]
    parts = re.split(r"\n### `([a-z_]+)`\n", body)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_derived_column_is_documented(scored_app: Lifetide) -> None:
    documented = _documented_columns()
    for table in (*SCORING_TABLES, "profiles", "profile_keys"):
        assert table in documented, f"docs/data-model.md has no section for {table}"
        for column, *_ in scored_app.warehouse.duckdb.execute(f"DESCRIBE {table}").fetchall():
            name = re.sub(r"^price_tier_(?!$).+", "price_tier_<category>", column)
            if table == "predictions" and column == "price_tier":
                name = column
            assert f"`{name}`" in documented[table], f"docs/data-model.md: {table}.{column}"


# --- awkward inputs -------------------------------------------------------------------------

CUSTOMER_HEAD = ["customer_id", "source", "email", "accepts_email_marketing",
                 "accepts_sms_marketing", "created_at"]  # fmt: skip
ORDER_HEAD = ["order_id", "customer_id", "ordered_at", "channel", "status", "currency",
              "subtotal", "discount", "shipping", "tax", "total"]  # fmt: skip


def _shop(app: Lifetide, tmp_path: Path, customers: int, orders: list[list[str]]) -> None:
    people = [CUSTOMER_HEAD] + [
        [f"C{i}", "ecommerce", f"c{i}@example.com", "true", "false", "2025-01-01T00:00:00Z"]
        for i in range(customers)
    ]
    import_file(app.warehouse, "customers", write_csv(tmp_path / "customers.csv", people))
    if orders:
        import_file(
            app.warehouse, "orders", write_csv(tmp_path / "orders.csv", [ORDER_HEAD, *orders])
        )
    IdentityResolver(app.warehouse, app.sessions, app.clock, probabilistic=False).run()


def _order(i: int, customer: int, day: str, subtotal: str = "20", discount: str = "0") -> list[str]:
    return [f"O{i}", f"C{customer}", f"{day}T10:00:00Z", "online", "completed", "USD",
            subtotal, discount, "0", "0", subtotal]  # fmt: skip


def _score(app: Lifetide, as_of: dt.date = dt.date(2025, 12, 31)) -> dict[str, Any]:
    result = Scorer(app, ScoreOptions(as_of=as_of)).run()
    predictions = rows(app, "SELECT * FROM predictions ORDER BY profile_id")
    for row in predictions:
        for name, value in row.items():
            assert not (isinstance(value, float) and math.isnan(value)), (name, row)
    return {"result": result, "rows": predictions}


def test_an_empty_warehouse_is_a_clear_error(app: Lifetide) -> None:
    with pytest.raises(NoProfiles, match="identity resolve"):
        Scorer(app, ScoreOptions(as_of=dt.date(2025, 1, 1))).run()


def test_a_future_date_is_refused(app: Lifetide) -> None:
    future = app.clock.now().date() + dt.timedelta(days=1)
    with pytest.raises(ScoreError, match="in the future"):
        Scorer(app, ScoreOptions(as_of=future)).run()


def test_customers_without_orders_are_prospects(app: Lifetide, tmp_path: Path) -> None:
    scored = _score_shop(app, tmp_path, customers=5, orders=[])
    assert {r["lifecycle_stage"] for r in scored["rows"]} == {"never_purchased"}
    assert all(r["clv_12m"] is None for r in scored["rows"])
    assert any("no customer has a purchase" in n for n in scored["result"].notes)


def _score_shop(
    app: Lifetide, tmp_path: Path, customers: int, orders: list[list[str]]
) -> dict[str, Any]:
    _shop(app, tmp_path, customers, orders)
    return _score(app)


def test_everyone_bought_once(app: Lifetide, tmp_path: Path) -> None:
    orders = [_order(i, i, f"2025-{1 + i % 12:02d}-15") for i in range(40)]
    scored = _score_shop(app, tmp_path, customers=40, orders=orders)
    notes = " ".join(scored["result"].notes)
    assert "BG/NBD not fit: 0 repeat buyers" in notes
    for row in scored["rows"]:
        assert row["clv_12m"] is None and row["p_alive"] is None
        assert row["lifecycle_stage"] in {"new", "at_risk", "lapsed", "churned", "active"}
        assert row["expected_order_value"] == pytest.approx(20.0)


def test_single_orders_zero_spend_and_dates_after_the_as_of_date(
    app: Lifetide, tmp_path: Path
) -> None:
    orders = []
    n = 0
    for customer in range(60):
        for month in range(1, 2 + customer % 5):
            n += 1
            # Customer 0 buys only free samples: zero spend must not break Gamma-Gamma.
            subtotal = "0" if customer == 0 else str(10 + customer)
            orders.append(_order(n, customer, f"2025-{month * 2:02d}-10", subtotal))
    orders.append(_order(9999, 1, "2026-03-01"))  # after the as-of date
    # A discount larger than the subtotal: a free order, not negative spend.
    orders.append(_order(9998, 2, "2025-11-20", subtotal="10", discount="15"))
    scored = _score_shop(app, tmp_path, customers=61, orders=orders)
    assert any("1 orders dated after 2025-12-31" in n for n in scored["result"].notes)
    stages = {r["lifecycle_stage"] for r in scored["rows"]}
    assert "never_purchased" in stages  # customer 60 never bought
    buyers = [r for r in scored["rows"] if r["orders"]]
    assert all(r["clv_12m"] is not None and r["clv_12m"] >= 0 for r in buyers)
    assert max(r["orders"] for r in buyers) == 5
    assert all(r["net_spend"] >= 0 and r["expected_order_value"] >= 0 for r in buyers)
