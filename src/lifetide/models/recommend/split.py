"""The time split behind every evaluation: train before a day, test from it on."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from lifetide.models.recommend.interactions import Interactions


def time_split(interactions: Interactions, split_day: int) -> tuple[Interactions, Interactions]:
    """Lines before split_day (training) and lines on or after it (test), same code ranges."""
    if isinstance(split_day, bool) or not isinstance(split_day, int | np.integer):
        raise ValueError(f"split_day must be an integer day, got {split_day!r}")
    before = interactions.day < split_day
    if not before.any():
        raise ValueError(f"no interactions before split_day {split_day}: nothing to train on")
    if before.all():
        raise ValueError(f"no interactions on or after split_day {split_day}: nothing to test")
    return interactions.take(before), interactions.take(~before)


def new_purchases(
    train: Interactions, test: Interactions
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The "next products" to find: distinct (user, item) test pairs new to that user.

    Kept: users with at least one training line, and products they did not buy in training
    (re-buying a staple is easy to predict and says nothing about discovery, and the
    recommender is evaluated with those purchases excluded). Sorted by user, then item.
    """
    if (train.n_users, train.n_items) != (test.n_users, test.n_items):
        raise ValueError("train and test must share code ranges (n_users, n_items)")
    seen = train.pairs()
    wanted = test.pairs()
    width = np.int64(train.n_items)
    known = np.isin(wanted.user * width + wanted.item, seen.user * width + seen.item)
    active = np.zeros(train.n_users, dtype=bool)
    active[seen.user] = True
    keep = active[wanted.user] & ~known
    return wanted.user[keep], wanted.item[keep]
