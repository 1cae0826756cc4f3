from __future__ import annotations

import csv
import io

import ibis.expr.types as ir
import pytest

from lifetide.segments import export as export_module
from lifetide.segments.export import (
    EXPORT_COLUMNS,
    ExportError,
    allowed_columns,
    closing_stream,
    export_csv,
    export_tables,
)
from lifetide.segments.tables import Tables, segment_tables
from lifetide.warehouse.connection import Warehouse
from tests.segments import small_shop


def _members(tables: Tables, segment_id: int) -> ir.Table:
    return tables.members.filter(tables.members.segment_id == segment_id).select("profile_id")


def _read(chunks: list[bytes]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8"))))


@pytest.fixture
def shop(warehouse: Warehouse) -> Tables:
    small_shop.build(warehouse.backend)
    return segment_tables(warehouse.backend)


def test_default_columns_are_the_profile_traits(shop: Tables) -> None:
    rows = _read(list(export_csv(shop, _members(shop, 1))))

    assert rows == [
        list(EXPORT_COLUMNS),
        ["1", "ada@example.com", "+14155550101", "Ada", "Lovelace", "GB", "London"],
        ["2", "bo@example.com", "", "Bo", "Diddley", "US", "Chicago"],
        ["3", "cy@example.com", "+14155550103", "Cy", "Twombly", "US", "Lexington"],
    ]


def test_prediction_columns_join_and_are_empty_where_not_scored(shop: Tables) -> None:
    rows = _read(list(export_csv(shop, _members(shop, 1), ["email", "clv_12m", "lifecycle_stage"])))

    assert rows == [
        ["email", "clv_12m", "lifecycle_stage"],
        ["ada@example.com", "100.5", "active"],
        ["bo@example.com", "49.5", "active"],
        ["cy@example.com", "", ""],
    ]


def test_repeated_columns_are_kept_once(shop: Tables) -> None:
    rows = _read(list(export_csv(shop, _members(shop, 2), ["email", "profile_id", "email"])))

    assert rows == [["email", "profile_id"], ["cy@example.com", "3"], ["di@example.com", "4"]]


def test_an_unknown_column_is_refused_before_streaming_and_lists_the_allowed(
    shop: Tables,
) -> None:
    with pytest.raises(ExportError) as raised:
        export_csv(shop, _members(shop, 1), ["email", "password", "ssn"])

    message = str(raised.value)
    assert "password, ssn" in message
    assert "profile_id, email, phone" in message
    assert "clv_12m" in message
    assert isinstance(raised.value, ValueError)


def test_without_predictions_only_profile_columns_are_allowed(warehouse: Warehouse) -> None:
    small_shop.build(warehouse.backend, predictions=False)
    tables = segment_tables(warehouse.backend)

    assert allowed_columns(tables) == list(EXPORT_COLUMNS)
    with pytest.raises(ExportError, match="clv_12m"):
        export_csv(tables, _members(tables, 1), ["clv_12m"])


def test_rows_come_in_batches(shop: Tables, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "BATCH_ROWS", 2)

    chunks = list(export_csv(shop, _members(shop, 1), ["profile_id"]))

    assert [_read([c]) for c in chunks] == [[["profile_id"]], [["1"], ["2"]], [["3"]]]


def test_spreadsheet_formulas_are_defused_but_numbers_and_phones_are_not(
    shop: Tables, warehouse: Warehouse
) -> None:
    warehouse.duckdb.execute(
        "UPDATE profiles SET first_name = '=HYPERLINK(\"http://evil\")', last_name = '-2+3',"
        " city = '@SUM(A1)' WHERE profile_id = 1"
    )

    rows = _read(list(export_csv(shop, _members(shop, 1), ["first_name", "last_name", "city"])))

    assert rows[1] == ['\'=HYPERLINK("http://evil")', "'-2+3", "'@SUM(A1)"]
    phones = _read(list(export_csv(shop, _members(shop, 1), ["phone"])))
    assert phones[1] == ["+14155550101"]


def test_a_stream_on_its_own_connection_closes_it(warehouse: Warehouse) -> None:
    small_shop.build(warehouse.backend)
    tables, connection = export_tables(warehouse)

    rows = _read(list(closing_stream(export_csv(tables, _members(tables, 2)), connection)))

    assert [r[0] for r in rows] == ["profile_id", "3", "4"]
    with pytest.raises(Exception, match="closed"):
        connection.execute("SELECT 1")
