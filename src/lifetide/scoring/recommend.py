"""Recommendations stage: purchase lines from the warehouse, a time-split test, then everyone.

The test holds out the last `TEST_DAYS` days: each method is fit on the purchases before,
recommends as of the split day, and is scored on the products each customer bought in the
window that they had not bought before (`new_purchases`). The deployed recommender is then
fit on everything and recommends as of the scoring date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifetide.models.recommend import (
    Interactions,
    Recommender,
    Source,
    evaluate,
    new_purchases,
    time_split,
)
from lifetide.models.recommend.recommender import Strategy
from lifetide.scoring.features import Bases, bases
from lifetide.scoring.tables import EPOCH, epoch_day
from lifetide.warehouse.connection import Warehouse

TEST_DAYS = 90
EVALUATION_USERS = 100_000
METHODS: tuple[Strategy, ...] = ("blend", "als", "cooccurrence", "popularity")


@dataclass
class Recommendations:
    """The recommendations and bought_together tables, and the held-out figures."""

    table: pa.Table
    together: pa.Table
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _lines(inputs: Bases, features: pa.Table, product_ids: pa.Array) -> Interactions | None:
    lines = inputs.lines
    table = lines.select(
        "profile_id",
        "product_id",
        quantity=lines.quantity.cast("float64"),
        day=lines.day.delta(EPOCH, unit="day"),
    ).to_pyarrow()
    if table.num_rows == 0:
        return None
    user = pc.index_in(table.column("profile_id"), value_set=features.column("profile_id"))
    item = pc.index_in(table.column("product_id"), value_set=product_ids)
    known = pc.and_(pc.is_valid(user), pc.is_valid(item))
    quantity = np.maximum(table.column("quantity").filter(known).to_numpy(), 1.0)
    return Interactions.from_arrays(
        user=user.filter(known).to_numpy(),
        item=item.filter(known).to_numpy(),
        day=table.column("day").filter(known).to_numpy(),
        quantity=quantity,
        n_users=features.num_rows,
        n_items=len(product_ids),
    )


def _evaluate(
    lines: Interactions, replenishable: np.ndarray, split_day: int, k: int
) -> dict[str, dict[str, float]]:
    """Each method's held-out figures on a sample of whole customers (all their purchases)."""
    users = np.unique(lines.user)
    if len(users) > EVALUATION_USERS:
        # Sampling customers, not purchases, keeps each sampled history whole; the figures
        # are those of a shop of that many customers, which is what the test needs.
        users = np.sort(np.random.default_rng(0).choice(users, EVALUATION_USERS, replace=False))
    row_of = np.full(lines.n_users, -1)
    row_of[users] = np.arange(len(users))
    keep = row_of[lines.user] >= 0
    sample = Interactions.from_arrays(
        user=row_of[lines.user[keep]],
        item=lines.item[keep],
        day=lines.day[keep],
        quantity=lines.quantity[keep],
        n_users=len(users),
        n_items=lines.n_items,
    )
    if not ((sample.day < split_day).any() and (sample.day >= split_day).any()):
        return {}
    train, test = time_split(sample, split_day)
    held_user, held_item = new_purchases(train, test)
    if len(held_user) == 0:
        return {}
    tested = np.unique(held_user)
    position = np.full(sample.n_users, -1)
    position[tested] = np.arange(len(tested))
    results: dict[str, dict[str, float]] = {}
    for method in METHODS:
        model = Recommender(k=k, strategy=method).fit(train, replenishable=replenishable)
        recommended, _, _ = model.recommend(tested, as_of_day=split_day - 1)
        found = evaluate(recommended, position[held_user], held_item, k=k)
        results[method] = {
            "precision": found.precision,
            "recall": found.recall,
            "ndcg": found.ndcg,
            "users": float(found.users),
        }
    return results


def recommendations(
    warehouse: Warehouse,
    features: pa.Table,
    as_of: dt.date,
    k: int,
    evaluate_first: bool,
    inputs: Bases | None = None,
) -> Recommendations:
    """Top-k products per profile, products bought together, and the held-out figures.

    `inputs` (from `features.bases`, up to `as_of`) are the run's shared joined lines.
    """
    catalog = warehouse.table("products").select("product_id", "replenishable")
    catalog = catalog.order_by("product_id").to_pyarrow()
    product_ids = catalog.column("product_id").combine_chunks()
    replenishable = catalog.column("replenishable").fill_null(False).to_numpy(zero_copy_only=False)
    empty = Recommendations(_recommendation_table([], [], [], [], []), _together_table([], [], []))
    lines = _lines(inputs or bases(warehouse, as_of), features, product_ids)
    if lines is None:
        empty.notes.append("no purchases: no recommendations")
        return empty
    result = Recommendations(empty.table, empty.together)
    split_day = epoch_day(as_of) + 1 - TEST_DAYS
    if evaluate_first:
        if (lines.day < split_day).any() and (lines.day >= split_day).any():
            result.metrics = _evaluate(lines, replenishable, split_day, k)
        else:
            result.notes.append(f"recommendations: under {TEST_DAYS} days of history, no test")
    model = Recommender(k=k).fit(lines, replenishable=replenishable)
    users = np.arange(features.num_rows)
    # The as-of day itself is the last day counted as bought "just now".
    items, scores, source = model.recommend(users, as_of_day=epoch_day(as_of))
    filled = items >= 0
    row, rank = np.nonzero(filled)
    profile_ids = features.column("profile_id").to_numpy()
    names = np.array([s.name.lower() for s in Source], dtype=object)
    codes = np.array([int(s) for s in Source])
    source_name = names[np.searchsorted(codes, source[filled])]
    result.table = _recommendation_table(
        profile_ids[row],
        rank + 1,
        product_ids.take(pa.array(items[filled])),
        scores[filled],
        source_name,
    )
    together, together_scores = model.bought_together(k)
    t_row, t_rank = np.nonzero(together >= 0)
    result.together = _together_table(
        product_ids.take(pa.array(t_row)),
        product_ids.take(pa.array(together[t_row, t_rank])),
        together_scores[t_row, t_rank],
        ranks=t_rank + 1,
    )
    return result


def _recommendation_table(
    profile: Any, rank: Any, product: Any, score: Any, source: Any
) -> pa.Table:
    return pa.table(
        {
            "profile_id": pa.array(profile, type=pa.int64()),
            "rank": pa.array(rank, type=pa.int32()),
            "product_id": pa.array(product, type=pa.string()),
            "score": pa.array(score, type=pa.float64()),
            "source": pa.array(source, type=pa.string()),
        }
    )


def _together_table(product: Any, other: Any, score: Any, ranks: Any = ()) -> pa.Table:
    return pa.table(
        {
            "product_id": pa.array(product, type=pa.string()),
            "rank": pa.array(ranks, type=pa.int32()),
            "other_product_id": pa.array(other, type=pa.string()),
            "score": pa.array(score, type=pa.float64()),
        }
    )
