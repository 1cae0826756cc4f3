"""ALS against popularity on the synthetic retailer, whose taste is known to be learnable.

Customers' baskets follow category preferences, favourite brands, a price tier and staples
re-bought on a schedule (lifetide.synth). Split: train on orders more than 182 days before
the history's end, test on the last 182 days, over customers with a training order, counting
only products new to the customer (as for Complete Journey: both models exclude every
training purchase). The Recommender's defaults were tuned on a validation split inside the
training window (train to 364 days before the end, validate on the next 182), on 5,000,
20,000 and 100,000 customers of seed 1.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from lifetide.models.recommend import (
    Interactions,
    RankingMetrics,
    Recommender,
    Source,
    evaluate,
    new_purchases,
    time_split,
)
from lifetide.synth import SynthConfig, generate

CONFIG = SynthConfig(customers=20_000, seed=1)
TEST_DAYS = 182


@pytest.fixture(scope="module")
def retailer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Interactions, np.ndarray]:
    """Purchase lines of non-cancelled orders, and whether each product is replenishable."""
    folder = tmp_path_factory.mktemp("retailer")
    generate(CONFIG, folder)
    con = duckdb.connect()
    for table in ("orders", "order_items", "products"):
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{folder / table}.parquet')"
        )
    products = con.sql("SELECT replenishable FROM products ORDER BY product_id").fetchnumpy()[
        "replenishable"
    ]
    rows = con.sql(
        """
        WITH product AS (
            SELECT product_id, row_number() OVER (ORDER BY product_id) - 1 AS code
            FROM products
        ), bought AS (
            SELECT o.customer_id, i.product_id, i.quantity, o.ordered_at
            FROM order_items i JOIN orders o USING (order_id)
            WHERE o.status <> 'cancelled'
        )
        SELECT dense_rank() OVER (ORDER BY customer_id) - 1 AS customer, product.code AS product,
               quantity::DOUBLE AS quantity,
               date_diff('day', DATE '1970-01-01', ordered_at::DATE) AS day
        FROM bought JOIN product USING (product_id)
        """
    ).fetchnumpy()
    con.close()
    inter = Interactions.from_arrays(
        user=rows["customer"],
        item=rows["product"],
        quantity=rows["quantity"],
        day=rows["day"],
        n_items=len(products),
    )
    return inter, np.asarray(products, dtype=bool)


def _split_day(inter: Interactions) -> int:
    return int(inter.day.max()) + 1 - TEST_DAYS


@pytest.fixture(scope="module")
def scores(retailer: tuple[Interactions, np.ndarray]) -> dict[str, RankingMetrics]:
    """precision/recall/NDCG@10 of the default recommender and of popularity."""
    inter, _ = retailer
    split = _split_day(inter)
    train, test = time_split(inter, split)
    users, items = new_purchases(train, test)
    results = {}
    for strategy in ("blend", "popularity"):
        model = Recommender(exclude_recent_days=10_000, strategy=strategy).fit(train)
        recommended, _, _ = model.recommend(np.arange(train.n_users), as_of_day=split)
        results[strategy] = evaluate(recommended, users, items, k=10)
    return results


@pytest.mark.parametrize("metric", ["precision", "recall", "ndcg"])
def test_als_beats_popularity(scores: dict[str, RankingMetrics], metric: str) -> None:
    als = getattr(scores["blend"], metric)
    popular = getattr(scores["popularity"], metric)
    assert scores["blend"].users == scores["popularity"].users > 2_000
    assert als > 1.2 * popular, f"{metric}@10: ALS {als:.4f} vs popularity {popular:.4f}"


def test_production_settings_respect_the_exclusion_rule(
    retailer: tuple[Interactions, np.ndarray],
) -> None:
    inter, replenishable = retailer
    as_of = int(inter.day.max()) + 1
    model = Recommender(k=10, exclude_recent_days=90).fit(inter, replenishable=replenishable)
    users = np.arange(inter.n_users + 100)  # the last 100 have never bought
    items, scores, source = model.recommend(users, as_of_day=as_of)
    assert (items >= 0).all() and np.isfinite(scores).all()
    assert (source[: inter.n_users] == Source.ALS).all()
    assert (source[inter.n_users :] == Source.POPULARITY).all()
    recent = (inter.day > as_of - 90) & ~replenishable[inter.item]
    forbidden = inter.user[recent] * inter.n_items + inter.item[recent]
    shown = np.repeat(users, 10) * inter.n_items + items.ravel()
    assert not np.isin(shown, forbidden).any()
    ordered = np.sort(items, axis=1)
    assert not (ordered[:, 1:] == ordered[:, :-1]).any()
    together, _ = model.bought_together(k=10)
    assert together.shape == (inter.n_items, 10)
