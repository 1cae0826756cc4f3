"""NOT, AND and OR behave as complement, intersection and union, at any depth (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import reduce
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifetide.segments.compiler import members
from lifetide.segments.rules import Definition
from lifetide.segments.tables import Tables
from tests.segments.cases import CASES
from tests.segments.shop import ALL, NOW, load_shop

# Leaves with a known answer, including ones where unknown values are involved (NOT of them
# must still be the complement).
LEAVES = [rule for _, rule, _ in CASES if rule["type"] not in ("group", "not")][::3]
ANSWERS = {i: expected for i, (_, rule, expected) in enumerate(CASES)}
LEAF_ANSWERS = [next(e for _, r, e in CASES if r is leaf) for leaf in LEAVES]


@pytest.fixture(scope="module")
def shop() -> Iterator[Tables]:
    backend = ibis.duckdb.connect()
    yield load_shop(backend)
    backend.disconnect()


def trees() -> st.SearchStrategy[tuple[dict[str, Any], set[int]]]:
    leaf = st.integers(0, len(LEAVES) - 1).map(lambda i: (LEAVES[i], set(LEAF_ANSWERS[i])))

    def extend(
        children: st.SearchStrategy[tuple[dict[str, Any], set[int]]],
    ) -> st.SearchStrategy[tuple[dict[str, Any], set[int]]]:
        def group(op: str, parts: list[tuple[dict[str, Any], set[int]]]) -> Any:
            rule = {"type": "group", "op": op, "children": [p[0] for p in parts]}
            sets = [p[1] for p in parts]
            expected = (
                reduce(set.__and__, sets, set(ALL))
                if op == "and"
                else reduce(set.__or__, sets, set())
            )
            # An empty group matches everyone, whichever its operator.
            return rule, expected if parts else set(ALL)

        negated = children.map(lambda p: ({"type": "not", "child": p[0]}, set(ALL) - p[1]))
        grouped = st.builds(group, st.sampled_from(["and", "or"]), st.lists(children, max_size=3))
        return negated | grouped

    return st.recursive(leaf, extend, max_leaves=6)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=trees())
def test_trees_compile_to_their_set_algebra(
    shop: Tables, tree: tuple[dict[str, Any], set[int]]
) -> None:
    rule, expected = tree
    definition = Definition.model_validate({"root": rule})
    got = set(members(definition.root, shop, NOW).to_pyarrow().column("profile_id").to_pylist())
    assert got == expected
