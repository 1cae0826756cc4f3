"""The popularity baseline: products ranked by how many customers bought them."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from lifetide.models.recommend.interactions import Interactions


class Popularity:
    """Products ranked by distinct buyers in the training window, ties by lower product code.

    Learned: ``buyers_`` (distinct buyers per product), ``share_`` (buyers over customers
    with any purchase, the score shown for a popularity slot) and ``rank_`` (0 = most bought).
    """

    def fit(self, interactions: Interactions) -> Popularity:
        """Count each product's distinct buyers."""
        if not len(interactions):
            raise ValueError("cannot fit popularity on no interactions")
        buyers = interactions.buyers()
        active = np.unique(interactions.user).size
        # Stable sort of the negated counts: equal counts keep code order, so ranks are unique.
        order = np.argsort(-buyers, kind="stable")
        rank = np.empty(buyers.size, dtype=np.int64)
        rank[order] = np.arange(buyers.size)
        self.buyers_: NDArray[np.int64] = buyers
        self.share_: NDArray[np.float32] = (buyers / active).astype(np.float32)
        self.rank_: NDArray[np.int64] = rank
        return self

    def ranking_scores(self) -> NDArray[np.float32]:
        """A score per product that orders products like ``rank_``, all distinct and positive."""
        return (self.rank_.size - self.rank_).astype(np.float32)
