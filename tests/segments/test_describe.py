"""The English sentence under the count, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from lifetide.segments.describe import describe
from lifetide.segments.fields import catalog_for
from lifetide.segments.rules import Definition

CATALOG = catalog_for({"clv_12m": "float64", "lifecycle_stage": "string"})

CASES: list[tuple[dict[str, Any], str]] = [
    ({"type": "group", "children": []}, "All customers."),
    (
        {"type": "trait", "field": "country", "op": "in", "value": ["US", "CA"]},
        "Customers whose country is any of US or CA.",
    ),
    (
        {
            "type": "group",
            "op": "and",
            "children": [
                {"type": "prediction", "field": "clv_12m", "op": "gt", "value": 100},
                {
                    "type": "purchase",
                    "filters": {"categories": ["skincare"]},
                    "window": {"kind": "last_days", "days": 90},
                },
            ],
        },
        "Customers whose predicted CLV (12 months) is more than 100 and who bought skincare "
        "products in the last 90 days.",
    ),
    (
        {
            "type": "group",
            "op": "or",
            "children": [
                {
                    "type": "engagement",
                    "action": "opened",
                    "window": {"kind": "last_days", "days": 30},
                },
                {
                    "type": "group",
                    "op": "and",
                    "children": [
                        {"type": "segment", "segment_id": 7, "op": "not_in"},
                        {
                            "type": "event",
                            "event": "Product Viewed",
                            "count_op": "at_least",
                            "count": 3,
                        },
                    ],
                },
            ],
        },
        "Customers who opened an e-mail in the last 30 days or (who are not in segment "
        "\u201cVIPs\u201d and who did \u201cProduct Viewed\u201d at least 3 times).",
    ),
    (
        {
            "type": "sequence",
            "did": {"event": "Product Added"},
            "not_after": {"event": "Order Completed"},
            "window": {"kind": "last_days", "days": 7},
        },
        "Customers who did \u201cProduct Added\u201d in the last 7 days and did not do "
        "\u201cOrder Completed\u201d after it.",
    ),
    (
        {"type": "purchase", "measure": "sum", "op": "gte", "value": 500},
        "Customers whose total spend on anything is at least $500.",
    ),
    (
        {"type": "not", "child": {"type": "bucket", "start": 0, "end": 10, "salt": "q4"}},
        "Customers excluding those who fall in the random 0%\u201310% bucket "
        "(split \u201cq4\u201d).",
    ),
    (
        {"type": "event", "event": "Product Added", "count_op": "never"},
        "Customers who never did \u201cProduct Added\u201d.",
    ),
]


@pytest.mark.parametrize(("rule", "sentence"), CASES)
def test_sentence(rule: dict[str, Any], sentence: str) -> None:
    definition = Definition.model_validate({"root": rule})
    assert describe(definition.root, CATALOG, {7: "VIPs"}) == sentence
