"""Bad files are rejected with file, row and column, and change nothing at all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from lifetide.imports.problems import ImportRejected
from lifetide.imports.service import import_file
from lifetide.warehouse.connection import Warehouse
from tests.imports.conftest import (
    CUSTOMERS,
    EVENTS,
    ORDER_ITEMS,
    ORDERS,
    PRODUCTS,
    snapshot,
    write_csv,
)


@dataclass(frozen=True)
class Case:
    """A bad file and the problems it must be rejected with: (row, column, words)."""

    id: str
    table: str
    rows: list[list[str]]
    expected: list[tuple[int | None, str | None, str]]


def _with(base: list[list[str]], *extra: list[str]) -> list[list[str]]:
    return [*base, *extra]


CASES = [
    Case(
        "bad types",
        "products",
        _with(PRODUCTS, ["P9", "Toner", "skincare", "Acme", "abc", "mid", "maybe", "4.5"]),
        [
            (4, "price", "expected an amount"),
            (4, "replenishable", "expected true or false"),
            (4, "replenish_days", "expected a whole number, got '4.5'"),
        ],
    ),
    Case(
        "money with three decimals is not rounded silently",
        "products",
        _with(PRODUCTS, ["P9", "Toner", "skincare", "Acme", "9.999", "mid", "true", ""]),
        [(4, "price", "at most 2 decimals, like 12.50, got '9.999'")],
    ),
    Case(
        "bad timestamp",
        "orders",
        _with(
            ORDERS, ["O9", "C1", "yesterday", "online", "completed", "USD", "1", "0", "0", "0", "1"]
        ),
        [(3, "ordered_at", "expected a timestamp")],
    ),
    Case(
        "missing required column",
        "orders",
        [[c for c in row if c != "channel"] for row in [ORDERS[0]]]
        + [[v for i, v in enumerate(r) if ORDERS[0][i] != "channel"] for r in ORDERS[1:]],
        [(None, "channel", "required column is missing")],
    ),
    Case(
        "unknown column with a hint",
        "customers",
        [[*CUSTOMERS[0], "emial"]] + [[*r, "x"] for r in CUSTOMERS[1:]],
        [(None, "emial", "did you mean 'email'")],
    ),
    Case(
        "required value empty and a value outside the choices",
        "orders",
        _with(
            ORDERS,
            ["O9", "C1", "2024-03-03T00:00:00Z", "mail", "completed", "", "1", "0", "0", "0", "1"],
        ),
        [(3, "channel", "must be one of online, store; got 'mail'"), (3, "currency", "required")],
    ),
    Case(
        "unknown customer",
        "orders",
        _with(
            ORDERS,
            [
                "O9",
                "C404",
                "2024-03-03T00:00:00Z",
                "online",
                "completed",
                "USD",
                "1",
                "0",
                "0",
                "0",
                "1",
            ],
        ),
        [(3, "customer_id", "unknown customer_id 'C404'")],
    ),
    Case(
        "unknown order and product",
        "order_items",
        _with(
            ORDER_ITEMS, ["O404", "1", "P404", "skincare", "Acme", "1", "1", "0", "false", "false"]
        ),
        [
            (3, "order_id", "unknown order_id 'O404'"),
            (3, "product_id", "unknown product_id 'P404'"),
        ],
    ),
    Case(
        "duplicate keys in the file",
        "order_items",
        _with(
            ORDER_ITEMS, ["O1", "1", "P3", "skincare", "Lumen", "89", "1", "0", "false", "false"]
        ),
        [(3, "order_id", "duplicate key order_id='O1', line_number='1', first on row 1")],
    ),
    Case(
        "quantity below one",
        "order_items",
        _with(
            ORDER_ITEMS, ["O1", "2", "P3", "skincare", "Lumen", "89", "0", "0", "false", "false"]
        ),
        [(3, "quantity", "must be at least 1")],
    ),
    Case(
        "invalid JSON properties",
        "events",
        _with(
            EVENTS,
            ["m9", "track", "Product Viewed", "2024-03-01T11:50:00Z", "C1", "a1", "P1", "{oops"],
        ),
        [(4, "properties", "expected a JSON value")],
    ),
    Case(
        "event type outside Segment's",
        "events",
        _with(EVENTS, ["m9", "click", "x", "2024-03-01T11:50:00Z", "C1", "", "", ""]),
        [(4, "type", "must be one of track, page")],
    ),
    Case(
        "header but no rows",
        "products",
        [PRODUCTS[0]],
        [(None, None, "has a header but no rows")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_file_is_rejected_precisely_and_changes_nothing(
    case: Case, loaded: Warehouse, tmp_path: Path
) -> None:
    before = snapshot(loaded)
    path = write_csv(tmp_path / f"bad_{case.table}.csv", case.rows)
    with pytest.raises(ImportRejected) as rejected:
        import_file(loaded, case.table, path)
    problems = rejected.value.problems
    for row, column, words in case.expected:
        assert any(
            p.row == row and p.column == column and words in p.message and p.file == str(path)
            for p in problems
        ), f"no problem at row {row}, column {column} saying {words!r} in:\n{rejected.value}"
    assert snapshot(loaded) == before


def test_good_rows_beside_a_bad_one_are_not_written(loaded: Warehouse, tmp_path: Path) -> None:
    good = [[f"N{i}", "Item", "tools", "Acme", "5.00", "budget", "false", ""] for i in range(500)]
    bad = ["N_BAD", "Item", "tools", "Acme", "five", "budget", "false", ""]
    path = write_csv(tmp_path / "mixed.csv", [PRODUCTS[0], *good, bad])
    before = snapshot(loaded)
    with pytest.raises(ImportRejected) as rejected:
        import_file(loaded, "products", path)
    assert [(p.row, p.column) for p in rejected.value.problems] == [(501, "price")]
    assert snapshot(loaded) == before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV or Parquet file"),
        (b"\xff\xfe\xfa not utf-8 at all " * 10, "not UTF-8"),
        (b'{"product_id": "P1", "name": "x"}\n', "no column matches table products"),
        (b"just some words\nand more words\n", "no column matches table products"),
    ],
    ids=["empty", "binary", "not utf-8", "json", "plain text"],
)
def test_a_file_that_is_not_csv_is_rejected(
    content: bytes, words: str, loaded: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "products.csv"
    path.write_bytes(content)
    before = snapshot(loaded)
    with pytest.raises(ImportRejected, match=words):
        import_file(loaded, "products", path)
    assert snapshot(loaded) == before


def test_ragged_rows_are_reported_as_unreadable_csv(loaded: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(",".join(PRODUCTS[0]) + "\nP9,Toner,skincare\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match="cannot be read as CSV"):
        import_file(loaded, "products", path)


def test_missing_file_and_unknown_table(warehouse: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(ImportRejected, match="no such file"):
        import_file(warehouse, "products", tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="unknown table 'sales'"):
        import_file(warehouse, "sales", tmp_path / "nope.csv")


def test_problem_count_is_capped_but_total_is_exact(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = [[f"N{i}", "Item", "tools", "Acme", "bad", "budget", "false", ""] for i in range(1000)]
    path = write_csv(tmp_path / "products.csv", [PRODUCTS[0], *rows])
    with pytest.raises(ImportRejected) as rejected:
        import_file(warehouse, "products", path, max_problems=25)
    assert len(rejected.value.problems) == 25
    assert rejected.value.total == 1000
    assert "and 995 more" in rejected.value.describe(limit=5)
