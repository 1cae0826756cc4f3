"""Small valid files for every table, and a way to write variations of them."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pytest

from lifetide.imports.service import import_file
from lifetide.warehouse.connection import Warehouse

PRODUCTS = [
    [
        "product_id",
        "name",
        "category",
        "brand",
        "price",
        "price_tier",
        "replenishable",
        "replenish_days",
    ],
    ["P1", "Gentle Cleanser", "skincare", "Acme", "12.50", "budget", "true", "45"],
    ["P2", "Velvet Lipstick", "makeup", "Rouge", "30", "mid", "false", ""],
    ["P3", "Night Serum", "skincare", "Lumen", "89.00", "prestige", "yes", "60"],
]
CUSTOMERS = [
    [
        "customer_id",
        "source",
        "email",
        "first_name",
        "accepts_email_marketing",
        "accepts_sms_marketing",
        "created_at",
    ],
    ["C1", "ecommerce", "ana@example.com", "Ana", "true", "false", "2024-01-05T10:00:00Z"],
    ["C2", "pos", "bo@example.com", "Bo", "false", "false", "2024-02-01 09:30:00"],
]
ORDERS = [
    [
        "order_id",
        "customer_id",
        "ordered_at",
        "channel",
        "status",
        "currency",
        "subtotal",
        "discount",
        "shipping",
        "tax",
        "total",
    ],
    [
        "O1",
        "C1",
        "2024-03-01T12:00:00+02:00",
        "online",
        "completed",
        "USD",
        "25.00",
        "0",
        "4.95",
        "2.00",
        "31.95",
    ],
    [
        "O2",
        "C2",
        "2024-03-02T15:00:00Z",
        "store",
        "completed",
        "USD",
        "30.00",
        "3.00",
        "0",
        "2.40",
        "29.40",
    ],
]
ORDER_ITEMS = [
    [
        "order_id",
        "line_number",
        "product_id",
        "category",
        "brand",
        "unit_price",
        "quantity",
        "discount",
        "clearance",
        "returned",
    ],
    ["O1", "1", "P1", "skincare", "Acme", "12.50", "2", "0", "false", "false"],
    ["O2", "1", "P2", "makeup", "Rouge", "30.00", "1", "3.00", "false", "true"],
]
EVENTS = [
    [
        "message_id",
        "type",
        "event",
        "timestamp",
        "user_id",
        "anonymous_id",
        "product_id",
        "properties",
    ],
    [
        "m1",
        "track",
        "Product Viewed",
        "2024-03-01T11:50:00Z",
        "C1",
        "a1",
        "P1",
        '{"product_id": "P1"}',
    ],
    [
        "m2",
        "track",
        "Product Added",
        "2024-03-01T11:55:00Z",
        "C1",
        "a1",
        "P1",
        '{"product_id": "P1", "quantity": 2}',
    ],
    ["m3", "page", "Home", "2024-03-01T11:40:00Z", "", "a1", "", ""],
]
VALID = {
    "products": PRODUCTS,
    "customers": CUSTOMERS,
    "orders": ORDERS,
    "order_items": ORDER_ITEMS,
    "events": EVENTS,
}


def write_csv(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    """Write rows (header first) as a CSV file."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def snapshot(warehouse: Warehouse) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted, to prove an import changed nothing."""
    con = warehouse.duckdb
    return {
        name: sorted(con.execute(f"SELECT * FROM {name}").fetchall(), key=repr) for name in VALID
    }


@pytest.fixture
def loaded(warehouse: Warehouse, tmp_path: Path) -> Warehouse:
    """A warehouse holding the valid files of every table."""
    for name, rows in VALID.items():
        import_file(warehouse, name, write_csv(tmp_path / f"{name}.csv", rows))
    return warehouse
