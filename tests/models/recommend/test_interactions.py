from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lifetide.models.recommend import Interactions, new_purchases, time_split


def lines() -> Interactions:
    return Interactions.from_arrays(
        user=np.array([0, 0, 0, 1, 1, 2]),
        item=np.array([1, 1, 1, 0, 2, 1]),
        quantity=np.array([2.0, 1.0, 3.0, 1.0, 6.0, 1.0]),
        day=np.array([10, 10, 12, 11, 20, 30]),
        n_users=4,
        n_items=3,
    )


def test_pairs_summarise_each_customer_and_product() -> None:
    pairs = lines().pairs()
    assert pairs.user.tolist() == [0, 1, 1, 2]
    assert pairs.item.tolist() == [1, 0, 2, 1]
    assert pairs.lines.tolist() == [3, 1, 1, 1]
    assert pairs.days.tolist() == [2, 1, 1, 1]
    assert pairs.quantity.tolist() == [6.0, 1.0, 6.0, 1.0]
    assert pairs.first_day.tolist() == [10, 11, 20, 30]
    assert pairs.last_day.tolist() == [12, 11, 20, 30]


@pytest.mark.parametrize(
    ("weighting", "expected"),
    [
        ("days", [[0, 2, 0], [1, 0, 1], [0, 1, 0], [0, 0, 0]]),
        ("quantity", [[0, 6, 0], [1, 0, 6], [0, 1, 0], [0, 0, 0]]),
        ("lines", [[0, 3, 0], [1, 0, 1], [0, 1, 0], [0, 0, 0]]),
        ("binary", [[0, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 0]]),
    ],
)
def test_matrix_weightings(weighting: Any, expected: list[list[float]]) -> None:
    matrix = lines().matrix(weighting)
    assert matrix.shape == (4, 3)
    assert matrix.dtype == np.float32
    assert matrix.toarray().tolist() == expected


def test_counts_default_to_largest_code() -> None:
    inter = Interactions.from_arrays(user=[0, 5], item=[3, 1], day=[1, 2])
    assert (inter.n_users, inter.n_items, len(inter)) == (6, 4, 2)
    assert inter.quantity.tolist() == [1.0, 1.0]
    assert inter.buyers().tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user": [0, 1], "item": [0], "day": [1, 2]}, "one length"),
        ({"user": [0], "item": [0], "day": [1], "quantity": [1, 2]}, "one length"),
        ({"user": [], "item": [], "day": []}, "empty"),
        ({"user": [-1], "item": [0], "day": [1]}, "user codes must be non-negative"),
        ({"user": [0], "item": [-3], "day": [1]}, "item codes must be non-negative"),
        ({"user": [0.5], "item": [0], "day": [1]}, "user must hold integer codes"),
        ({"user": [0], "item": [0], "day": [1.5]}, "day must hold integer codes"),
        ({"user": [[0]], "item": [[0]], "day": [[1]]}, "one-dimensional"),
        ({"user": [0], "item": [0], "day": [1], "quantity": [0.0]}, "positive"),
        ({"user": [0], "item": [0], "day": [1], "quantity": [np.nan]}, "finite"),
        ({"user": [0], "item": [0], "day": [1], "quantity": ["a"]}, "numeric"),
        ({"user": [3], "item": [0], "day": [1], "n_users": 3}, "codes must be < n_users"),
        ({"user": [0], "item": [4], "day": [1], "n_items": 2}, "codes must be < n_items"),
        ({"user": [0], "item": [0], "day": [1], "n_items": 0}, "n_items must be a positive"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], message: str) -> None:
    arrays = {
        name: np.asarray(value) if isinstance(value, list) else value
        for name, value in kwargs.items()
    }
    with pytest.raises(ValueError, match=message):
        Interactions.from_arrays(**arrays)


def test_time_split_and_new_purchases() -> None:
    inter = Interactions.from_arrays(
        user=[0, 0, 0, 1, 1, 2, 3, 3],
        item=[1, 2, 1, 0, 2, 1, 0, 0],
        day=[10, 10, 30, 11, 31, 32, 33, 34],
        n_users=5,
    )
    train, test = time_split(inter, 30)
    assert len(train) + len(test) == len(inter)
    assert train.day.max() < 30 <= test.day.min()
    assert (train.n_users, train.n_items) == (test.n_users, test.n_items) == (5, 3)
    users, items = new_purchases(train, test)
    # User 0 re-buys 1 (known), user 1's 2 is new; users 2 and 3 have no training lines.
    assert list(zip(users.tolist(), items.tolist(), strict=True)) == [(1, 2)]


def test_time_split_needs_both_sides() -> None:
    inter = lines()
    with pytest.raises(ValueError, match="nothing to train"):
        time_split(inter, 0)
    with pytest.raises(ValueError, match="nothing to test"):
        time_split(inter, 100)
    with pytest.raises(ValueError, match="integer day"):
        time_split(inter, 1.5)  # type: ignore[arg-type]
