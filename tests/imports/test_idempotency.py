"""Importing by natural key: the same file twice changes nothing; a changed row is replaced."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from lifetide.imports.casting import cast_expression
from lifetide.imports.service import files_in, import_file
from lifetide.warehouse.connection import Warehouse
from lifetide.warehouse.schema import MONEY, Column
from tests.imports.conftest import EVENTS, PRODUCTS, VALID, snapshot, write_csv


def test_same_files_twice_change_nothing(loaded: Warehouse, tmp_path: Path) -> None:
    before = snapshot(loaded)
    for name, rows in VALID.items():
        result = import_file(loaded, name, write_csv(tmp_path / f"again_{name}.csv", rows))
        assert (result.counts.inserted, result.counts.updated) == (0, 0)
        assert result.counts.unchanged == len(rows) - 1
        assert not result.changed
    assert snapshot(loaded) == before


def test_a_changed_row_is_updated_and_a_new_one_inserted(loaded: Warehouse, tmp_path: Path) -> None:
    rows = [list(r) for r in PRODUCTS]
    rows[1][4] = "13.00"  # P1 costs more now
    rows.append(["P4", "Hair Oil", "hair", "Acme", "18.00", "mid", "true", "40"])
    result = import_file(loaded, "products", write_csv(tmp_path / "products2.csv", rows))
    assert (result.counts.inserted, result.counts.updated, result.counts.unchanged) == (1, 1, 2)
    prices = dict(loaded.duckdb.execute("SELECT product_id, price FROM products").fetchall())
    assert prices == {
        "P1": Decimal("13.00"),
        "P2": Decimal("30.00"),
        "P3": Decimal("89.00"),
        "P4": Decimal("18.00"),
    }


def test_events_are_append_only_and_resends_are_dropped(loaded: Warehouse, tmp_path: Path) -> None:
    resent = [list(r) for r in EVENTS]
    resent[1][2] = "Product Clicked"  # same message id, different content: a duplicate
    resent.append(["m4", "track", "Cart Viewed", "2024-03-01T11:56:00Z", "C1", "a1", "", ""])
    result = import_file(loaded, "events", write_csv(tmp_path / "events2.csv", resent))
    assert (result.counts.inserted, result.counts.updated, result.counts.unchanged) == (1, 0, 3)
    names = loaded.duckdb.execute("SELECT event FROM events WHERE message_id = 'm1'").fetchall()
    assert names == [("Product Viewed",)]


def test_timestamps_with_offsets_are_stored_in_utc(loaded: Warehouse) -> None:
    stored = loaded.duckdb.execute(
        "SELECT order_id, ordered_at FROM orders ORDER BY order_id"
    ).fetchall()
    assert stored == [
        ("O1", dt.datetime(2024, 3, 1, 10, 0)),  # 12:00 at +02:00
        ("O2", dt.datetime(2024, 3, 2, 15, 0)),
    ]


def test_parquet_import_matches_csv_and_accepts_zoned_timestamps(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "customer_id": ["C1"],
            "source": ["crm"],
            "accepts_email_marketing": [True],
            "accepts_sms_marketing": [False],
            "created_at": pa.array(
                [dt.datetime(2024, 1, 5, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))],
                type=pa.timestamp("us", tz="+02:00"),
            ),
        }
    )
    pq.write_table(table, tmp_path / "customers.parquet")
    result = import_file(warehouse, "customers", tmp_path / "customers.parquet")
    assert result.file_format == "parquet"
    assert result.counts.inserted == 1
    stored = warehouse.duckdb.execute("SELECT created_at, email FROM customers").fetchall()
    assert stored == [(dt.datetime(2024, 1, 5, 10, 0), None)]


def test_a_folder_imports_in_dependency_order(warehouse: Warehouse, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    for name, rows in VALID.items():
        write_csv(folder / f"{name}.csv", rows)
    jobs = files_in(folder)
    assert [name for name, _ in jobs] == [
        "products",
        "customers",
        "orders",
        "order_items",
        "events",
    ]
    for name, path in jobs:
        import_file(warehouse, name, path)
    assert warehouse.count("order_items") == 2


_con = duckdb.connect()
_money_sql = cast_expression(Column("v", MONEY), "VARCHAR")


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=Decimal("9999999999999.99"), places=2, allow_nan=False))
def test_money_text_converts_exactly(value: Decimal) -> None:
    got = _con.execute(
        f"SELECT {_money_sql} FROM (SELECT ?::VARCHAR AS v)", [str(value)]
    ).fetchone()
    assert got is not None
    assert got[0] == value


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False).filter(
        lambda d: d != d.quantize(Decimal("0.01"))
    )
)
def test_money_text_with_three_decimals_is_refused(value: Decimal) -> None:
    got = _con.execute(
        f"SELECT {_money_sql} FROM (SELECT ?::VARCHAR AS v)", [str(value)]
    ).fetchone()
    assert got == (None,)
