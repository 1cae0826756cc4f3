from __future__ import annotations

import inspect

import numpy as np
import pytest
import scipy.sparse as sp

from lifetide.models.recommend import ImplicitALS, Interactions, ItemCooccurrence, Popularity
from lifetide.models.recommend.als import top_singular_value


def baskets() -> Interactions:
    # Customer 0 buys 0 and 1 on day 1; customer 1 buys 0 and 1 on day 2 and 2 on day 9;
    # customer 2 buys 2.
    return Interactions.from_arrays(
        user=[0, 0, 1, 1, 1, 2], item=[0, 1, 0, 1, 2, 2], day=[1, 1, 2, 2, 9, 3]
    )


def test_cooccurrence_cosine_with_shrinkage_by_hand() -> None:
    model = ItemCooccurrence(shrinkage=1.0, scope="customer").fit(baskets())
    # Each product is in two customers' histories; 0 and 1 share two, 2 shares one with each.
    expected = np.array([[0, 2 / 2 * 2 / 3, 1 / 2 * 1 / 2], [2 / 3, 0, 1 / 4], [1 / 4, 1 / 4, 0]])
    np.testing.assert_allclose(model.similarity_.toarray(), expected, rtol=1e-6)
    assert model.counts_.tolist() == [2, 2, 2]


def test_basket_scope_uses_customer_days() -> None:
    model = ItemCooccurrence(shrinkage=0.0, scope="basket").fit(baskets())
    # 2 is never in a basket with 0 or 1: customer 1 bought it on another day.
    items, scores = model.bought_together(k=2)
    assert items.tolist() == [[1, -1], [0, -1], [-1, -1]]
    np.testing.assert_allclose(scores, [[1, 0], [1, 0], [0, 0]])
    assert items.dtype == np.int32 and scores.dtype == np.float32


def test_neighbours_keeps_the_most_similar() -> None:
    model = ItemCooccurrence(neighbours=1, shrinkage=1.0).fit(baskets())
    assert model.similarity_.getnnz(axis=1).tolist() == [1, 1, 1]
    assert model.similarity_.indices.tolist() == [1, 0, 0]  # ties go to the lower code


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"neighbours": 0}, "neighbours"),
        ({"neighbours": 2.5}, "neighbours"),
        ({"shrinkage": -1.0}, "shrinkage"),
        ({"scope": "order"}, "scope"),
    ],
)
def test_cooccurrence_bad_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ItemCooccurrence(**kwargs).fit(baskets())  # type: ignore[arg-type]


def test_top_singular_value_matches_svd() -> None:
    rng = np.random.default_rng(3)
    matrix = sp.random(60, 25, density=0.2, random_state=rng, format="csr") * 5
    expected = np.linalg.svd(matrix.toarray(), compute_uv=False)[0]
    assert top_singular_value(matrix, tolerance=1e-10, steps=10_000) == pytest.approx(expected)
    assert top_singular_value(sp.csr_matrix((3, 2))) == 0.0


def test_als_follows_scikit_learn_conventions() -> None:
    params = {"factors": 3, "iterations": 4, "regularization": 0.1, "alpha": 2.0}
    model = ImplicitALS(**params)  # type: ignore[arg-type]
    for name, value in params.items():
        assert getattr(model, name) == value
    assert not [name for name in vars(model) if name.endswith("_")]
    assert set(inspect.signature(ImplicitALS).parameters) == set(vars(model))
    inter = baskets()
    assert model.fit(inter) is model
    assert model.user_factors_.shape == (3, 3) and model.user_factors_.dtype == np.float32
    assert model.item_factors_.shape == (3, 3)
    assert model.regularization_ > 0
    again = ImplicitALS(**params).fit(inter)  # type: ignore[arg-type]
    np.testing.assert_array_equal(model.item_factors_, again.item_factors_)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"factors": 0}, "factors"),
        ({"iterations": 1.5}, "iterations"),
        ({"regularization": -1}, "regularization"),
        ({"alpha": float("nan")}, "alpha"),
        ({"weighting": "euros"}, "weighting"),
    ],
)
def test_als_bad_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ImplicitALS(**kwargs).fit(baskets())  # type: ignore[arg-type]


def test_popularity_counts_distinct_buyers() -> None:
    inter = Interactions.from_arrays(
        user=[0, 0, 0, 1, 2, 2], item=[3, 3, 3, 1, 1, 3], day=[1, 2, 3, 1, 1, 1], n_items=5
    )
    model = Popularity().fit(inter)
    assert model.buyers_.tolist() == [0, 2, 0, 2, 0]
    # Ties by code: 1 before 3, then the unsold 0, 2, 4.
    assert model.rank_.tolist() == [2, 0, 3, 1, 4]
    np.testing.assert_allclose(model.share_, [0, 2 / 3, 0, 2 / 3, 0])
