"""Sticky assignment: deterministic, weighted, independent across keys, same as the warehouse."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from lifetide.experiments.assignment import Arm, Assignment, arm_ranges, assign, salt_of
from lifetide.segments.compiler import bucket_of, members
from lifetide.segments.rules import Definition
from lifetide.segments.tables import ensure_segment_tables, segment_tables
from lifetide.warehouse.connection import Warehouse

IDS = range(1, 100_001)
ABC = [Arm("A", 1), Arm("B", 1), Arm("C", 2)]


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=40).filter(lambda k: k.strip() != ""),
    st.integers(0, 2**40),
    st.lists(st.floats(0.5, 100), min_size=2, max_size=6),
)
def test_the_same_customer_always_gets_the_same_arm(
    key: str, profile_id: int, weights: list[float]
) -> None:
    arms = [Arm(f"arm{i}", w) for i, w in enumerate(weights)]
    first = assign(key, profile_id, arms)
    assert first in {a.name for a in arms}
    assert assign(key, profile_id, arms) == first
    assert Assignment(key, arms).arms_of([profile_id, profile_id]) == [first, first]


def test_weights_are_respected_over_100k_customers() -> None:
    counts = Counter(Assignment("subject-test", ABC).arms_of(IDS))
    observed = [counts["A"], counts["B"], counts["C"]]
    assert sum(observed) == len(IDS)
    # Within 1% of customers of the planned 25/25/50, and no sample-ratio alarm.
    for seen, share in zip(observed, (0.25, 0.25, 0.5), strict=True):
        assert abs(seen / len(IDS) - share) < 0.01
    assert sps.chisquare(observed, [25_000, 25_000, 50_000]).pvalue > 0.001


def test_uneven_weights_like_a_holdout() -> None:
    counts = Counter(Assignment("offer", [Arm("send", 95), Arm("holdout", 5)]).arms_of(IDS))
    assert abs(counts["holdout"] / len(IDS) - 0.05) < 0.003


def test_two_experiments_split_independently() -> None:
    first = Assignment("subject-test", ABC).arms_of(IDS)
    second = Assignment("offer-test", ABC).arms_of(IDS)
    table = np.zeros((3, 3))
    index = {"A": 0, "B": 1, "C": 2}
    for a, b in zip(first, second, strict=True):
        table[index[a], index[b]] += 1
    assert sps.chi2_contingency(table).pvalue > 0.001
    assert first != second


def test_ranges_cover_all_buckets_in_order() -> None:
    ranges = arm_ranges(ABC)
    assert [(r.name, r.start, r.end) for r in ranges] == [
        ("A", 0.0, 25.0),
        ("B", 25.0, 50.0),
        ("C", 50.0, 100.0),
    ]
    thirds = arm_ranges([Arm("x"), Arm("y"), Arm("z")])
    assert [r.end for r in thirds] == [33.33, 66.67, 100.0]


def test_an_arm_is_its_bucket_range_under_the_experiment_salt() -> None:
    assignment = Assignment("subject-test", ABC)
    salt = salt_of("subject-test")
    for profile_id in range(1, 2_001):
        bucket = bucket_of(profile_id, salt)
        expected = next(r.name for r in assignment.ranges if r.start <= bucket < r.end)
        assert assignment.arm_of(profile_id) == expected


def test_the_warehouse_selects_exactly_each_arm(tmp_path: Path) -> None:
    # An arm as a segment condition, compiled to SQL on DuckDB, is the same set of customers.
    ids = list(range(1, 5_001))
    assignment = Assignment("subject-test", ABC)
    with Warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}") as warehouse:
        warehouse.ensure_tables()
        backend = warehouse.thread_backend()
        ensure_segment_tables(backend)
        backend.raw_sql("INSERT INTO profiles (profile_id) SELECT range FROM range(1, 5001)")
        tables = segment_tables(backend)
        for arm in assignment.ranges:
            rule = {"type": "bucket", "start": arm.start, "end": arm.end, "salt": assignment.salt}
            expr = members(Definition.model_validate({"root": rule}).root, tables,
                           dt.datetime(2026, 1, 1))  # fmt: skip
            found = set(expr.to_pyarrow().column("profile_id").to_pylist())
            assert found == {p for p in ids if assignment.arm_of(p) == arm.name}


@pytest.mark.parametrize(
    ("key", "arms", "message"),
    [
        ("k", [Arm("A")], "at least 2 arms"),
        ("k", [Arm("A"), Arm("A")], "named twice"),
        ("k", [Arm("A"), Arm(" ")], "may not be empty"),
        ("k", [Arm("A"), Arm("B", 0)], "positive weight"),
        ("k", [Arm("A"), Arm("B", float("nan"))], "positive weight"),
        ("k", [Arm("A", 1_000_000), Arm("B", 1)], "too small a weight"),
        ("  ", [Arm("A"), Arm("B")], "key may not be empty"),
        ("x" * 90, [Arm("A"), Arm("B")], "at most 89"),
    ],
)
def test_bad_experiments_are_refused(key: str, arms: list[Arm], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Assignment(key, arms)
