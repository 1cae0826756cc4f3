from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifetide.models.recommend import RankingMetrics, evaluate

LOG3 = math.log2(3)

# (recommended row, held-out items, k, precision, recall, ndcg), worked by hand.
CASES = [
    ([1, 2, 3], [2], 3, 1 / 3, 1.0, 1 / LOG3),
    ([5, 6, 7], [5, 7, 9], 3, 2 / 3, 2 / 3, (1 + 1 / 2) / (1 + 1 / LOG3 + 1 / 2)),
    ([1, -1, -1], [1], 3, 1 / 3, 1.0, 1.0),
    ([4, 5, 6], [1, 2], 3, 0.0, 0.0, 0.0),
    ([4, 5, 6, 1], [1], 3, 0.0, 0.0, 0.0),
    ([4, 5, 6, 1], [1], 4, 1 / 4, 1.0, 1 / math.log2(5)),
    ([9, 8], [8, 9], 2, 1.0, 1.0, 1.0),
    ([9, 8], [8, 9, 7, 6], 2, 1.0, 0.5, 1.0),
    ([7, 1], [1, 2, 3], 2, 1 / 2, 1 / 3, (1 / LOG3) / (1 + 1 / LOG3)),
]


@pytest.mark.parametrize(("row", "held", "k", "precision", "recall", "ndcg"), CASES)
def test_single_user_by_hand(
    row: list[int], held: list[int], k: int, precision: float, recall: float, ndcg: float
) -> None:
    result = evaluate(np.array([row]), np.zeros(len(held), dtype=int), np.array(held), k=k)
    assert isinstance(result, RankingMetrics)
    assert (result.precision, result.recall, result.ndcg) == pytest.approx(
        (precision, recall, ndcg)
    )
    assert (result.users, result.k) == (1, k)


def test_mean_over_users_with_holdout_only() -> None:
    recommended = np.array([[1, 2, 3], [5, 6, 7], [1, 2, 3]])
    # User 2 has nothing held out: not averaged. User 0's duplicate pair counts once.
    users = np.array([0, 0, 1, 1, 1])
    items = np.array([2, 2, 5, 7, 9])
    result = evaluate(recommended, users, items, k=3)
    assert result.users == 2
    assert result.precision == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert result.recall == pytest.approx((1 + 2 / 3) / 2)
    assert result.ndcg == pytest.approx((1 / LOG3 + 1.5 / (1 + 1 / LOG3 + 0.5)) / 2)


@pytest.mark.parametrize(
    ("recommended", "users", "items", "k", "message"),
    [
        ([[1, 2]], [0], [1], 3, "fewer than k"),
        ([1, 2], [0], [1], 1, "2-D"),
        ([[1.0, 2.0]], [0], [1], 1, "integer"),
        ([[1, 1]], [0], [1], 2, "repeats"),
        ([[1, -2]], [0], [1], 2, "-1 for an empty"),
        ([[1, 2]], [0, 0], [1], 2, "differ in length"),
        ([[1, 2]], [], [], 2, "no held-out"),
        ([[1, 2]], [1], [1], 2, "no row"),
        ([[1, 2]], [-1], [1], 2, "non-negative"),
        ([[1, 2]], [0], [1], 0, "positive integer"),
    ],
)
def test_bad_input(
    recommended: list[list[float]], users: list[int], items: list[int], k: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(np.array(recommended), np.array(users, dtype=int), np.array(items, dtype=int), k)


rankings = st.integers(1, 6).flatmap(
    lambda k: st.tuples(
        st.just(k),
        st.lists(st.permutations(list(range(12))).map(lambda p: p[:k]), min_size=1, max_size=6),
        st.lists(st.tuples(st.integers(0, 5), st.integers(0, 11)), min_size=1, max_size=30),
    )
)


@settings(max_examples=200, deadline=None)
@given(rankings)
def test_metrics_are_shares(case: tuple[int, list[list[int]], list[tuple[int, int]]]) -> None:
    k, rows, pairs = case
    recommended = np.array(rows)
    users = np.array([u % len(rows) for u, _ in pairs])
    items = np.array([i for _, i in pairs])
    result = evaluate(recommended, users, items, k=k)
    for value in (result.precision, result.recall, result.ndcg):
        assert 0.0 <= value <= 1.0
    assert result.users == np.unique(users).size


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 8), st.integers(1, 12), st.permutations(list(range(20))))
def test_perfect_ranking_scores_one(k: int, relevant: int, items: list[int]) -> None:
    held = items[:relevant]
    # The held-out items first, then the rest: the best possible list.
    row = np.array([held + items[relevant:]])
    result = evaluate(row, np.zeros(relevant, dtype=int), np.array(held), k=k)
    assert result.ndcg == pytest.approx(1.0)
    assert result.precision == pytest.approx(min(k, relevant) / k)
    assert result.recall == pytest.approx(min(k, relevant) / relevant)
