"""Validation points at the failing node: (input, expected loc, words in the message)."""

from __future__ import annotations

from typing import Any

import pytest

from lifetide.segments.fields import catalog_for
from lifetide.segments.rules import MAX_DEPTH
from lifetide.segments.validate import InvalidDefinition, validated

CATALOG = catalog_for(
    {"profile_id": "int64", "clv_12m": "float64", "lifecycle_stage": "string", "as_of": "date"}
)
SEGMENTS = {7: "VIPs"}


def tree(*children: dict[str, Any]) -> dict[str, Any]:
    return {"root": {"type": "group", "op": "and", "children": list(children)}}


OK = {"type": "trait", "field": "country", "op": "eq", "value": "US"}

CASES: list[tuple[str, dict[str, Any], tuple[Any, ...], str]] = [
    (
        "unknown field",
        tree(OK, {"type": "trait", "field": "shoe_size", "op": "eq", "value": 1}),
        ("root", "children", 1, "field"),
        "unknown profile field",
    ),
    (
        "operator that does not fit",
        tree({"type": "trait", "field": "country", "op": "gt", "value": "US"}),
        ("root", "children", 0, "op"),
        "does not fit",
    ),
    (
        "missing value",
        tree({"type": "trait", "field": "country", "op": "eq"}),
        ("root", "children", 0, "value"),
        "needs a value",
    ),
    (
        "not a date",
        tree({"type": "trait", "field": "created_at", "op": "before", "value": "last week"}),
        ("root", "children", 0, "value"),
        "expected a date",
    ),
    (
        "between the wrong way round",
        tree({"type": "prediction", "field": "clv_12m", "op": "between", "value": [9, 1]}),
        ("root", "children", 0, "value"),
        "low <= high",
    ),
    (
        "not a number",
        tree({"type": "prediction", "field": "clv_12m", "op": "gt", "value": "lots"}),
        ("root", "children", 0, "value"),
        "expected a number",
    ),
    (
        "a stage that does not exist",
        tree({"type": "prediction", "field": "lifecycle_stage", "op": "eq", "value": "vip"}),
        ("root", "children", 0, "value"),
        "not a Lifecycle stage",
    ),
    (
        "unknown node type",
        tree(OK, {"type": "magic"}),
        ("root", "children", 1),
        "type",
    ),
    (
        "window without days",
        tree({"type": "event", "event": "Product Added", "window": {"kind": "last_days"}}),
        ("root", "children", 0, "window"),
        "needs days",
    ),
    (
        "unknown segment",
        tree({"type": "not", "child": {"type": "segment", "segment_id": 99}}),
        ("root", "children", 0, "child", "segment_id"),
        "no saved segment 99",
    ),
    (
        "bad event property",
        tree(
            {
                "type": "event",
                "event": "Product Viewed",
                "where": [{"property": "properties.a b", "op": "eq", "value": "x"}],
            }
        ),
        ("root", "children", 0, "where", 0, "property"),
        "unknown event property",
    ),
    (
        "unknown key",
        tree({"type": "trait", "field": "country", "op": "eq", "value": "US", "colour": 1}),
        ("root", "children", 0, "colour"),
        "Extra inputs",
    ),
    (
        "purchase count with a date operator",
        tree({"type": "purchase", "measure": "count", "op": "before", "value": "2026-01-01"}),
        ("root", "children", 0, "op"),
        "does not fit",
    ),
]


@pytest.mark.parametrize(("name", "data", "loc", "words"), CASES, ids=[c[0] for c in CASES])
def test_problem_points_at_the_node(name: str, data: dict[str, Any], loc: Any, words: str) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        validated(data, CATALOG, SEGMENTS)
    problems = caught.value.to_json()
    assert any(tuple(p["loc"][: len(loc)]) == loc and words in p["msg"] for p in problems), problems


def test_predictions_before_scoring_are_refused() -> None:
    data = tree({"type": "prediction", "field": "clv_12m", "op": "gt", "value": 1})
    with pytest.raises(InvalidDefinition, match="lifetide score"):
        validated(data, catalog_for(None), SEGMENTS)


def test_too_deep_is_refused() -> None:
    node: dict[str, Any] = OK
    for _ in range(MAX_DEPTH + 1):
        node = {"type": "group", "op": "or", "children": [node]}
    with pytest.raises(InvalidDefinition, match="nest at most"):
        validated({"root": node}, CATALOG, SEGMENTS)


def test_a_good_definition_passes_and_json_text_is_read() -> None:
    ok = validated(tree(OK, {"type": "segment", "segment_id": 7}), CATALOG, SEGMENTS)
    assert len(ok.root.children) == 2  # type: ignore[union-attr]
    text = '{"root": {"type": "bucket", "start": 0, "end": 10}}'
    assert validated(text, CATALOG, SEGMENTS).root.type == "bucket"
