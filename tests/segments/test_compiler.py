"""The compiler, table-driven: every node type on a retailer whose answers are known."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ibis
import pytest

from lifetide.segments.compiler import bucket_of, members
from lifetide.segments.rules import Definition
from lifetide.segments.tables import Tables
from tests.segments.cases import CASES, SQL_LOOKING, trait
from tests.segments.shop import ALL, NOW, load_shop


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[Any, Tables]]:
    backend = ibis.duckdb.connect()
    yield backend, load_shop(backend)
    backend.disconnect()


def matched(tables: Tables, rule: dict[str, Any]) -> set[int]:
    definition = Definition.model_validate({"root": rule})
    result = members(definition.root, tables, NOW).to_pyarrow()
    ids = result.column("profile_id").to_pylist()
    assert len(ids) == len(set(ids)), "a profile is listed twice"
    return set(ids)


@pytest.mark.parametrize(("name", "rule", "expected"), CASES, ids=[c[0] for c in CASES])
def test_case(
    shop: tuple[Any, Tables], name: str, rule: dict[str, Any], expected: set[int]
) -> None:
    assert matched(shop[1], rule) == expected


def test_every_node_type_has_a_case() -> None:
    def types(rule: dict[str, Any]) -> set[str]:
        found = {rule["type"]}
        for child in rule.get("children", []):
            found |= types(child)
        if "child" in rule:
            found |= types(rule["child"])
        return found

    covered = set().union(*(types(rule) for _, rule, _ in CASES))
    assert covered == {
        "trait", "prediction", "purchase", "event", "sequence", "engagement", "segment",
        "bucket", "group", "not",
    }  # fmt: skip


def test_a_value_that_looks_like_sql_stays_a_value(shop: tuple[Any, Tables]) -> None:
    backend, tables = shop
    assert matched(tables, trait("email", "eq", "x'; drop table orders; --@evil.com")) == {8}
    assert matched(tables, trait("city", "in", [SQL_LOOKING, "London"])) == {3}
    assert "orders" in backend.list_tables()
    assert tables.orders.count().to_pyarrow().as_py() == 9


def test_buckets_split_everyone_once_and_match_the_formula(shop: tuple[Any, Tables]) -> None:
    tables = shop[1]
    halves = [
        matched(tables, {"type": "bucket", "start": a, "end": b, "salt": "holdout"})
        for a, b in ((0, 50), (50, 100))
    ]
    assert halves[0] | halves[1] == set(ALL)
    assert not halves[0] & halves[1]
    assert halves[0] == {p for p in ALL if bucket_of(p, "holdout") < 50}


def test_buckets_are_stable_and_salt_draws_another_split() -> None:
    ids = range(1, 20_001)
    first = [bucket_of(p, "a") for p in ids]
    assert first == [bucket_of(p, "a") for p in ids]
    share = sum(b < 10 for b in first) / len(first)
    assert 0.09 < share < 0.11
    other = [bucket_of(p, "b") for p in ids]
    both = sum(x < 10 and y < 10 for x, y in zip(first, other, strict=True)) / len(first)
    # Independent 10% splits overlap in about 1% of people.
    assert 0.005 < both < 0.02
