"""Next products per customer: ALS first, then co-occurrence, then popularity, k for everyone."""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from lifetide.models.recommend.als import ImplicitALS
from lifetide.models.recommend.cooccurrence import ItemCooccurrence, Scope
from lifetide.models.recommend.interactions import (
    Interactions,
    PairSummary,
    Weighting,
    pair_matrix,
)
from lifetide.models.recommend.popularity import Popularity
from lifetide.models.recommend.ranking import INELIGIBLE, exclude, exclude_chosen, fill, top_k

Strategy = Literal["blend", "als", "cooccurrence", "popularity"]
STRATEGIES: tuple[Strategy, ...] = ("blend", "als", "cooccurrence", "popularity")
# Score cells per block of customers: bounds recommend's memory whatever the catalog size.
_BLOCK_CELLS = 1 << 24


class Source(IntEnum):
    """Which model filled a recommendation slot (the ``source`` codes of ``recommend``)."""

    ALS = 0
    COOCCURRENCE = 1
    POPULARITY = 2
    EMPTY = 255


class Recommender:
    """Next products per customer from implicit-feedback ALS, co-occurrence and popularity.

    Each customer's k slots are filled in turn by (1) ALS (``ImplicitALS``; Hu, Koren &
    Volinsky 2008) for customers with training purchases, over products with at least
    ``min_item_buyers`` buyers; (2) item-to-item co-occurrence (``ItemCooccurrence``; Linden,
    Smith & York 2003) with the customer's purchases as seeds, each weighted
    0.5 ** (days ago / ``seed_half_life_days``), which also reaches rare products and customers
    whose purchases came after the fit; (3) popularity (distinct buyers). ``strategy`` other
    than "blend" keeps only that model (and popularity for what it cannot fill), for
    comparisons under the same exclusions. A product the customer bought fewer than
    ``exclude_recent_days`` days before ``as_of_day`` (or later) is never recommended unless
    it is replenishable.

    Defaults (regularization, alpha, shrinkage, seed half-life) were chosen on a validation
    split of the synthetic retailer (train to a year before its end, validate on the next
    half year) with 5,000, 20,000 and 100,000 customers; ``regularization`` is relative (see
    ``ImplicitALS``), which is what lets one value serve every size. Complete Journey, whose
    households buy ~170 distinct products a year against the retailer's ~3, wants less
    (0.1 with alpha 1, from its own validation split).

    Learned: ``als_``, ``cooccurrence_`` (customer scope, for fills) and ``together_`` (basket
    scope, for ``bought_together``), each None when the strategy does not use it;
    ``popularity_``, ``replenishable_``, ``pairs_`` (the fit's purchases per customer and
    product), ``known_users_`` (customers with a purchase in the fit), ``n_users_``,
    ``n_items_``.
    """

    def __init__(
        self,
        factors: int = 64,
        iterations: int = 15,
        regularization: float = 0.4,
        alpha: float = 4.0,
        weighting: Weighting = "days",
        k: int = 10,
        exclude_recent_days: int = 90,
        min_item_buyers: int = 1,
        neighbours: int = 100,
        shrinkage: float = 10.0,
        cooccurrence_scope: Scope = "customer",
        seed_half_life_days: float = 365.0,
        strategy: Strategy = "blend",
        random_state: int | None = 0,
        num_threads: int = 0,
    ) -> None:
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.alpha = alpha
        self.weighting = weighting
        self.k = k
        self.exclude_recent_days = exclude_recent_days
        self.min_item_buyers = min_item_buyers
        self.neighbours = neighbours
        self.shrinkage = shrinkage
        self.cooccurrence_scope = cooccurrence_scope
        self.seed_half_life_days = seed_half_life_days
        self.strategy = strategy
        self.random_state = random_state
        self.num_threads = num_threads

    def _check(self) -> None:
        for name in ("k", "min_item_buyers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        days = self.exclude_recent_days
        if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 0:
            raise ValueError(f"exclude_recent_days must be a non-negative integer, got {days!r}")
        if not self.seed_half_life_days > 0:
            raise ValueError(
                f"seed_half_life_days must be positive, got {self.seed_half_life_days}"
            )
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")

    def fit(
        self, interactions: Interactions, replenishable: ArrayLike | None = None
    ) -> Recommender:
        """Fit the models the strategy uses; replenishable (bool per product) defaults to none."""
        self._check()
        if not isinstance(interactions, Interactions):
            raise ValueError("interactions must be an Interactions (Interactions.from_arrays)")
        if not len(interactions):
            raise ValueError("cannot fit a recommender on no interactions")
        if replenishable is None:
            restock = np.zeros(interactions.n_items, dtype=bool)
        else:
            restock = np.asarray(replenishable)
            if restock.dtype != np.bool_ or restock.shape != (interactions.n_items,):
                raise ValueError(
                    f"replenishable must be a boolean array of length n_items="
                    f"{interactions.n_items}, got dtype {restock.dtype} shape {restock.shape}"
                )
        self.n_users_: int = interactions.n_users
        self.n_items_: int = interactions.n_items
        self.replenishable_: NDArray[np.bool_] = restock.copy()
        self.popularity_: Popularity = Popularity().fit(interactions)
        self.als_: ImplicitALS | None = None
        if self.strategy in ("blend", "als"):
            self.als_ = ImplicitALS(
                factors=self.factors,
                iterations=self.iterations,
                regularization=self.regularization,
                alpha=self.alpha,
                weighting=self.weighting,
                random_state=self.random_state,
                num_threads=self.num_threads,
            ).fit(interactions)
        self.cooccurrence_: ItemCooccurrence | None = None
        if self.strategy in ("blend", "cooccurrence"):
            self.cooccurrence_ = ItemCooccurrence(
                neighbours=self.neighbours, shrinkage=self.shrinkage, scope=self.cooccurrence_scope
            ).fit(interactions)
        self.together_: ItemCooccurrence | None = None
        if self.strategy == "blend":
            self.together_ = ItemCooccurrence(
                neighbours=self.neighbours, shrinkage=self.shrinkage, scope="basket"
            ).fit(interactions)
        self.pairs_: PairSummary = interactions.pairs()
        self.known_users_: NDArray[np.bool_] = np.zeros(self.n_users_, dtype=bool)
        self.known_users_[self.pairs_.user] = True
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "popularity_"):
            raise ValueError("this Recommender is not fitted yet: call fit first")

    def bought_together(self, k: int = 10) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """Per product, the k products most often in the same basket (customer-day), -1 padded."""
        self._fitted()
        if self.together_ is None:
            raise ValueError(f"bought_together needs strategy='blend', not {self.strategy!r}")
        return self.together_.bought_together(k)

    def _history(
        self, history: Interactions | None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], int]:
        """Purchase pairs (user, item, last day) of the fit plus history, and the user range."""
        user, item, last = self.pairs_.user, self.pairs_.item, self.pairs_.last_day
        if history is None:
            return user, item, last, self.n_users_
        if not isinstance(history, Interactions):
            raise ValueError("history must be an Interactions (Interactions.from_arrays)")
        if history.n_items != self.n_items_:
            raise ValueError(
                f"history has n_items={history.n_items} but the recommender was fitted on "
                f"{self.n_items_}: product codes must be the same"
            )
        extra = history.pairs()
        user = np.concatenate([user, extra.user])
        item = np.concatenate([item, extra.item])
        last = np.concatenate([last, extra.last_day])
        key = user * self.n_items_ + item
        order = np.lexsort((last, key))
        key, last = key[order], last[order]
        final = np.r_[key[1:] != key[:-1], True]
        key, last = key[final], last[final]
        n_users = max(self.n_users_, history.n_users)
        return key // self.n_items_, key % self.n_items_, last, n_users

    def recommend(
        self, user_codes: ArrayLike, as_of_day: int, history: Interactions | None = None
    ) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.uint8]]:
        """Each customer's k products, best first: (items, scores, ``Source`` codes).

        Row i is for user_codes[i]. A product bought fewer than ``exclude_recent_days`` days
        before as_of_day (or later), and not replenishable, is left out. ``history`` adds
        purchases since the fit (same product codes) to the exclusions and the co-occurrence
        seeds. Every row has k products when at least k are eligible; otherwise the last slots
        hold item -1, score 0 and ``Source.EMPTY``. Scores are comparable within one source
        only; a popularity slot's score is the product's share of training customers.
        """
        self._fitted()
        users = np.asarray(user_codes)
        if users.ndim != 1 or (users.size and not np.issubdtype(users.dtype, np.integer)):
            raise ValueError("user_codes must be a one-dimensional array of integer codes")
        users = users.astype(np.int64, copy=False)
        if users.size and users.min() < 0:
            raise ValueError("user_codes must be non-negative")
        if isinstance(as_of_day, bool) or not isinstance(as_of_day, int | np.integer):
            raise ValueError(f"as_of_day must be an integer day, got {as_of_day!r}")
        user, item, last, n_users = self._history(history)
        n_rows = max(n_users, int(users.max()) + 1 if users.size else 0)
        n_items, k = self.n_items_, int(self.k)
        recent = last > int(as_of_day) - int(self.exclude_recent_days)
        banned = recent & ~self.replenishable_[item]
        excluded = pair_matrix(
            user[banned], item[banned], np.ones(int(banned.sum())), n_rows, n_items
        )
        seeds = None
        if self.cooccurrence_ is not None:
            age = np.maximum(int(as_of_day) - last, 0)
            weight = np.exp2(-age / float(self.seed_half_life_days))
            seeds = pair_matrix(user, item, weight, n_rows, n_items)
        known = np.zeros(n_rows, dtype=bool)
        known[: self.n_users_] = self.known_users_

        items = np.full((users.size, k), -1, dtype=np.int32)
        scores = np.zeros((users.size, k), dtype=np.float32)
        source = np.full((users.size, k), Source.EMPTY, dtype=np.uint8)
        block = max(1, _BLOCK_CELLS // n_items)
        for start in range(0, users.size, block):
            chunk = slice(start, start + block)
            self._recommend_block(
                users[chunk], excluded, seeds, known, items[chunk], scores[chunk], source[chunk]
            )
        return items, scores, source

    def _recommend_block(
        self,
        users: NDArray[np.int64],
        excluded: sp.csr_matrix,
        seeds: sp.csr_matrix | None,
        known: NDArray[np.bool_],
        items: NDArray[np.int32],
        scores: NDArray[np.float32],
        source: NDArray[np.uint8],
    ) -> None:
        """Fill one block's rows of the output views in place, model by model."""
        k = items.shape[1]
        banned = excluded[users]
        if self.als_ is not None:
            dense = np.full((users.size, self.n_items_), INELIGIBLE, dtype=np.float32)
            rows = np.flatnonzero(known[users])
            dense[rows] = self.als_.user_factors_[users[rows]] @ self.als_.item_factors_.T
            cold = self.popularity_.buyers_ < self.min_item_buyers
            if cold.any():
                dense[:, cold] = INELIGIBLE
            exclude(dense, banned)
            found, values = top_k(dense, k)
            fill(items, scores, source, found, values, Source.ALS)
        for stage in (Source.COOCCURRENCE, Source.POPULARITY):
            rows = np.flatnonzero((items < 0).any(axis=1))
            if not rows.size:
                return
            if stage == Source.POPULARITY:
                ranking = self.popularity_.ranking_scores()
                dense = np.repeat(ranking[None, :], rows.size, axis=0)
            elif self.cooccurrence_ is not None and seeds is not None:
                dense = self.cooccurrence_.scores(seeds[users[rows]]).toarray()
                dense[dense <= 0] = INELIGIBLE
            else:
                continue
            exclude(dense, banned[rows])
            part_items, part_scores, part_source = items[rows], scores[rows], source[rows]
            exclude_chosen(dense, part_items)
            found, values = top_k(dense, k)
            if stage == Source.POPULARITY:
                values = np.where(found >= 0, self.popularity_.share_[found], 0).astype(np.float32)
            fill(part_items, part_scores, part_source, found, values, stage)
            items[rows], scores[rows], source[rows] = part_items, part_scores, part_source
