"""Top-k ranking metrics against held-out purchases: precision, recall and NDCG."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class RankingMetrics:
    """Mean precision@k, recall@k and NDCG@k over the users with held-out products."""

    precision: float
    recall: float
    ndcg: float
    users: int
    k: int


def _codes(name: str, values: ArrayLike) -> NDArray[np.int64]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer codes, got dtype {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} codes must be non-negative")
    return array.astype(np.int64, copy=False)


def evaluate(
    recommended_items: ArrayLike, holdout_user: ArrayLike, holdout_item: ArrayLike, k: int = 10
) -> RankingMetrics:
    """Precision@k, recall@k and NDCG@k (Järvelin & Kekäläinen 2002), averaged over users.

    Row u of ``recommended_items`` is user u's ranked list (best first; -1 marks an empty
    slot); (holdout_user[j], holdout_item[j]) are the purchases to find, duplicates counted
    once. Only users with at least one held-out product are averaged. Per user, with H the
    hits in the first k slots and R the held-out products: precision = |H| / k (an empty slot
    is a miss), recall = |H| / |R|, and NDCG = DCG / IDCG with binary gains,
    DCG = sum over hits at 0-based rank i of 1 / log2(i + 2) and IDCG the DCG of min(k, |R|)
    hits in the first slots.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    recommended = np.asarray(recommended_items)
    if recommended.ndim != 2:
        raise ValueError(f"recommended_items must be 2-D (users x slots), got {recommended.shape}")
    if recommended.size and not np.issubdtype(recommended.dtype, np.integer):
        raise ValueError(f"recommended_items must hold integer codes, got {recommended.dtype}")
    if recommended.shape[1] < k:
        raise ValueError(f"recommended_items has {recommended.shape[1]} slots, fewer than k={k}")
    top = recommended[:, :k].astype(np.int64)
    if top.size and top.min() < -1:
        raise ValueError("recommended_items must hold product codes or -1 for an empty slot")
    ordered = np.sort(top, axis=1)
    if np.any((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)):
        raise ValueError("recommended_items repeats a product within a row")
    users = _codes("holdout_user", holdout_user)
    items = _codes("holdout_item", holdout_item)
    if users.size != items.size:
        raise ValueError(
            f"holdout_user and holdout_item differ in length: {users.size} != {items.size}"
        )
    if users.size == 0:
        raise ValueError("no held-out purchases to evaluate against")
    if users.max() >= top.shape[0]:
        raise ValueError(
            f"holdout user {users.max()} has no row in recommended_items ({top.shape[0]} rows)"
        )
    width = max(int(items.max()), int(top.max())) + 1
    truth = np.unique(users * width + items)
    truth_users, relevant = np.unique(truth // width, return_counts=True)

    rows = top[truth_users]
    keys = truth_users[:, None] * width + rows
    found = np.searchsorted(truth, keys).clip(max=truth.size - 1)
    hit = (rows >= 0) & (truth[found] == keys)
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    hits = hit.sum(axis=1)
    dcg = (hit * discount).sum(axis=1)
    ideal = np.cumsum(discount)[np.minimum(relevant, k) - 1]
    return RankingMetrics(
        precision=float(np.mean(hits / k)),
        recall=float(np.mean(hits / relevant)),
        ndcg=float(np.mean(dcg / ideal)),
        users=int(truth_users.size),
        k=int(k),
    )
