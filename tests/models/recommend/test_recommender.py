from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifetide.models.recommend import Interactions, Recommender, Source

SMALL = {"factors": 4, "iterations": 3}


def shop() -> Interactions:
    """Six customers, six products: 0-2 a 'skin' cluster, 3-5 a 'hair' cluster."""
    return Interactions.from_arrays(
        user=[0, 0, 0, 1, 1, 2, 2, 3, 3, 3, 4, 4],
        item=[0, 1, 2, 0, 1, 1, 2, 3, 4, 5, 3, 4],
        day=[100, 100, 150, 120, 180, 90, 195, 100, 110, 190, 185, 199],
        n_users=6,
        n_items=6,
    )


def banned(
    inter: Interactions, replenishable: np.ndarray, as_of: int, days: int
) -> set[tuple[int, int]]:
    """(user, item) pairs the exclusion rule forbids, computed line by line."""
    return {
        (int(u), int(i))
        for u, i, d in zip(inter.user, inter.item, inter.day, strict=True)
        if as_of - d < days and not replenishable[i]
    }


def test_init_stores_parameters_and_fit_returns_self() -> None:
    params: dict[str, Any] = {"factors": 8, "k": 3, "exclude_recent_days": 30, "alpha": 1.5}
    rec = Recommender(**params)
    for name, value in params.items():
        assert getattr(rec, name) == value
    assert set(inspect.signature(Recommender).parameters) == set(vars(rec))
    assert rec.fit(shop()) is rec
    assert rec.n_users_ == 6 and rec.n_items_ == 6


def test_recent_purchases_are_excluded_unless_replenishable() -> None:
    inter = shop()
    replenishable = np.array([False, True, False, False, False, False])
    rec = Recommender(k=5, exclude_recent_days=60, **SMALL).fit(inter, replenishable=replenishable)
    items, scores, source = rec.recommend(np.arange(6), as_of_day=200)
    forbidden = banned(inter, replenishable, 200, 60)
    assert (0, 2) in forbidden and (3, 5) in forbidden
    for user, row in enumerate(items):
        assert not {(user, int(i)) for i in row} & forbidden
    # User 1 bought the replenishable 1 twenty days ago: it may come back; 0 (80 days) too.
    assert set(items[1]) <= set(range(6))
    assert items.dtype == np.int32 and scores.dtype == np.float32 and source.dtype == np.uint8
    assert np.isfinite(scores).all()


def test_unseen_and_new_customers_get_fills() -> None:
    rec = Recommender(k=4, exclude_recent_days=30, **SMALL).fit(shop())
    # 5 has a code but no purchase; 9 is beyond the fit's codes.
    items, scores, source = rec.recommend(np.array([5, 9]), as_of_day=200)
    assert (source == Source.POPULARITY).all()
    assert items[0].tolist() == items[1].tolist() == [1, 0, 2, 3]  # buyers 3, 2, 2, 2
    np.testing.assert_allclose(scores[0], [3 / 5, 2 / 5, 2 / 5, 2 / 5])
    # A first purchase after the fit: co-occurrence from it, minus the product itself.
    later = Interactions.from_arrays(user=[9], item=[3], day=[199], n_items=6)
    items, _, source = rec.recommend(np.array([9]), as_of_day=200, history=later)
    assert 3 not in items[0]
    assert source[0, 0] == Source.COOCCURRENCE
    assert set(items[0][source[0] == Source.COOCCURRENCE]) <= {4, 5}


def test_fewer_eligible_products_than_k_leaves_empty_slots() -> None:
    inter = Interactions.from_arrays(user=[0, 0, 1], item=[0, 1, 2], day=[10, 10, 10])
    rec = Recommender(k=3, exclude_recent_days=5, **SMALL).fit(inter)
    items, scores, source = rec.recommend(np.array([0, 1]), as_of_day=12)
    assert items[0].tolist() == [2, -1, -1]
    assert source[0].tolist() == [Source.ALS, Source.EMPTY, Source.EMPTY]
    assert scores[0, 1:].tolist() == [0.0, 0.0]
    assert sorted(items[1][:2].tolist()) == [0, 1] and items[1, 2] == -1


@pytest.mark.parametrize("strategy", ["als", "cooccurrence", "popularity"])
def test_strategies_keep_to_their_model(strategy: Any) -> None:
    rec = Recommender(k=2, strategy=strategy, exclude_recent_days=0, **SMALL).fit(shop())
    _, _, source = rec.recommend(np.arange(5), as_of_day=300)
    allowed = {"als": Source.ALS, "cooccurrence": Source.COOCCURRENCE}.get(strategy)
    assert set(source.ravel().tolist()) <= {allowed, Source.POPULARITY}
    with pytest.raises(ValueError, match="strategy='blend'"):
        rec.bought_together()


def test_bought_together_is_per_product_and_padded() -> None:
    rec = Recommender(**SMALL).fit(shop())
    items, scores = rec.bought_together(k=4)
    assert items.shape == scores.shape == (6, 4)
    # Same-day baskets: (0: 0, 1), (1: 0), (3: 3), ... so 0 and 1 go together.
    assert items[0, 0] == 1 and items[1, 0] == 0
    assert ((items == -1) == (scores == 0)).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.recommend(np.array([0.5]), as_of_day=1), "integer codes"),
        (lambda r: r.recommend(np.array([-1]), as_of_day=1), "non-negative"),
        (lambda r: r.recommend(np.array([0]), as_of_day=1.5), "as_of_day"),
        (
            lambda r: r.recommend(
                np.array([0]),
                as_of_day=1,
                history=Interactions.from_arrays(user=[0], item=[7], day=[1]),
            ),
            "n_items",
        ),
        (lambda r: r.bought_together(k=0), "positive integer"),
    ],
)
def test_bad_calls(call: Any, message: str) -> None:
    rec = Recommender(**SMALL).fit(shop())
    with pytest.raises(ValueError, match=message):
        call(rec)


@pytest.mark.parametrize(
    ("kwargs", "replenishable", "message"),
    [
        ({"k": 0}, None, "k must be"),
        ({"exclude_recent_days": -1}, None, "exclude_recent_days"),
        ({"strategy": "random"}, None, "strategy"),
        ({"seed_half_life_days": 0}, None, "seed_half_life_days"),
        ({}, np.ones(5, dtype=bool), "length n_items=6"),
        ({}, np.ones(6), "boolean"),
    ],
)
def test_bad_fit(kwargs: dict[str, Any], replenishable: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Recommender(**kwargs).fit(shop(), replenishable=replenishable)


def test_not_fitted() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        Recommender().recommend(np.array([0]), as_of_day=1)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(1, 12))
    size = draw(st.integers(1, 40))
    ints = st.lists(st.integers(0, 10**6), min_size=size, max_size=size)
    return {
        "inter": Interactions.from_arrays(
            user=np.array(draw(ints)) % n_users,
            item=np.array(draw(ints)) % n_items,
            day=np.array(draw(ints)) % 60,
            n_users=n_users,
            n_items=n_items,
        ),
        "replenishable": np.array(
            draw(st.lists(st.booleans(), min_size=n_items, max_size=n_items)), dtype=bool
        ),
        "k": draw(st.integers(1, 6)),
        "days": draw(st.integers(0, 70)),
        "as_of": draw(st.integers(0, 80)),
        "strategy": draw(st.sampled_from(["blend", "als", "cooccurrence", "popularity"])),
    }


@settings(max_examples=60, deadline=None)
@given(cases())
def test_recommend_invariants(case: dict[str, Any]) -> None:
    inter: Interactions = case["inter"]
    k = case["k"]
    rec = Recommender(
        k=k, exclude_recent_days=case["days"], strategy=case["strategy"], **SMALL
    ).fit(inter, replenishable=case["replenishable"])
    users = np.arange(inter.n_users + 2)
    items, scores, source = rec.recommend(users, as_of_day=case["as_of"])
    assert items.shape == scores.shape == source.shape == (users.size, k)
    assert np.isfinite(scores).all()
    forbidden = banned(inter, case["replenishable"], case["as_of"], case["days"])
    for user, row in zip(users, items, strict=True):
        chosen = row[row >= 0].tolist()
        assert len(chosen) == len(set(chosen)), "a product twice in one row"
        assert not {(int(user), i) for i in chosen} & forbidden
        eligible = inter.n_items - sum(1 for u, _ in forbidden if u == user)
        assert len(chosen) == min(k, eligible), "an eligible product was left out"
        assert (row[len(chosen) :] == -1).all()
    assert ((items == -1) == (source == Source.EMPTY)).all()
