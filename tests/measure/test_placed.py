"""`placed_orders` stays what joining orders to profile keys gives, through every write."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select, update

from lifetide.context import Lifetide
from lifetide.imports.staging import TYPED
from lifetide.imports.writer import write
from lifetide.measure.queries import profile_orders
from lifetide.measure.tables import PLACED
from lifetide.ops.database import transaction
from lifetide.ops.models import Identity
from lifetide.scoring.profiles import sync_profiles
from lifetide.settings import load_settings
from lifetide.warehouse.arrow import arrow_schema
from lifetide.warehouse.schema import ORDERS

Row = tuple[str, int, dt.datetime, float]


@pytest.fixture
def shop(synth_shop: Lifetide) -> Lifetide:
    """The resolved retailer (tests/conftest.py), free to write to."""
    return synth_shop


def _kept(app: Lifetide) -> set[Row]:
    rows = app.warehouse.duckdb.execute(
        f"SELECT order_id, profile_id, ordered_at, round(revenue, 2) FROM {PLACED}"
    ).fetchall()
    return {tuple(r) for r in rows}  # type: ignore[misc]


def _joined(app: Lifetide) -> set[Row]:
    backend = app.warehouse.backend
    rows = profile_orders(backend.table("orders"), backend.table("profile_keys")).to_pyarrow()
    return {
        (r["order_id"], r["profile_id"], r["ordered_at"], round(r["revenue"], 2))
        for r in rows.to_pylist()
    }


def _orders(app: Lifetide, where: str) -> list[dict[str, Any]]:
    table = app.warehouse.duckdb.execute(f"SELECT * FROM orders WHERE {where}").fetch_arrow_table()
    return list(table.to_pylist())


def _write_orders(app: Lifetide, rows: list[dict[str, Any]]) -> None:
    """Upsert orders as the import service and the journal loader do."""
    con = app.warehouse.duckdb
    con.register(TYPED, pa.Table.from_pylist(rows, schema=arrow_schema(ORDERS)))
    con.execute("BEGIN TRANSACTION")
    try:
        write(con, ORDERS, len(rows))
        con.execute("COMMIT")
    finally:
        con.unregister(TYPED)


def test_the_resolved_shop_keeps_every_order_by_profile(shop: Lifetide) -> None:
    kept = _kept(shop)
    assert len(kept) > 1_000
    assert kept == _joined(shop)


def test_a_changed_a_cancelled_and_a_new_order_are_kept_as_they_now_are(shop: Lifetide) -> None:
    first, second = _orders(shop, "status = 'completed' AND customer_id IS NOT NULL LIMIT 2")
    changed = first | {"total": first["total"] + Decimal("10.00")}
    cancelled = second | {"status": "cancelled"}
    new = first | {"order_id": "NEW-1", "ordered_at": dt.datetime(2026, 10, 30, 9, 0)}
    guest = first | {"order_id": "NEW-2", "customer_id": None}
    _write_orders(shop, [changed, cancelled, new, guest])
    kept = {r[0]: r for r in _kept(shop)}
    assert kept[first["order_id"]][3] == pytest.approx(float(changed["total"]))
    assert second["order_id"] not in kept
    assert kept["NEW-1"][1] == kept[first["order_id"]][1]
    assert "NEW-2" not in kept
    assert set(kept.values()) == _joined(shop)


def test_a_failed_write_changes_nothing(shop: Lifetide) -> None:
    before = _kept(shop)
    (order,) = _orders(shop, "status = 'completed' AND customer_id IS NOT NULL LIMIT 1")
    con = shop.warehouse.duckdb
    cancelled = pa.Table.from_pylist([order | {"status": "cancelled"}], schema=arrow_schema(ORDERS))
    con.register(TYPED, cancelled)
    con.execute("BEGIN TRANSACTION")
    write(con, ORDERS, 1)
    con.execute("ROLLBACK")
    con.unregister(TYPED)
    assert _kept(shop) == before


def test_orders_follow_their_customer_into_the_profile_it_merged_into(shop: Lifetide) -> None:
    (order,) = _orders(shop, "status = 'completed' AND customer_id IS NOT NULL LIMIT 1")
    with shop.sessions() as session:
        moved = session.scalars(
            select(Identity).where(Identity.value == order["customer_id"])
        ).first()
        assert moved is not None
        other = session.scalars(
            select(Identity.customer_id).where(Identity.customer_id != moved.customer_id)
        ).first()
    assert other is not None
    # A merge leaves the record's key with the surviving profile.
    with transaction(shop.sessions) as session:
        session.execute(update(Identity).where(Identity.id == moved.id).values(customer_id=other))
    with shop.sessions() as session:
        sync_profiles(session, shop.warehouse)
    kept = {r[0]: r for r in _kept(shop)}
    assert kept[order["order_id"]][1] == other
    assert set(kept.values()) == _joined(shop)


def test_a_warehouse_from_before_gets_its_orders_by_profile(
    synth_shop_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(synth_shop_dir, data)
    settings = load_settings(data_dir=data, env="test")
    with Lifetide(settings) as app:
        app.warehouse.duckdb.execute(f"DROP TABLE {PLACED}")
    with Lifetide(settings) as app:
        assert len(_kept(app)) > 1_000
        assert _kept(app) == _joined(app)
