"""Picking products: by popularity within a group, or by price within a category."""

from __future__ import annotations

import numpy as np

from lifetide.synth.arraytypes import FloatArray, IntArray


class GroupSampler:
    """Draws a product from a group (e.g. category x tier) with probability ∝ popularity.

    One cumulative-weight array over all products sorted by group turns every draw into a
    single `searchsorted`, however many groups are asked for at once.
    """

    def __init__(self, groups: IntArray, weights: FloatArray, n_groups: int) -> None:
        """Index products by `groups` (-1 leaves a product out) with draw `weights`."""
        included = np.flatnonzero(groups >= 0)
        order = included[np.argsort(groups[included], kind="stable")]
        self._products = order
        self._cumulative = np.cumsum(weights[order])
        counts = np.bincount(groups[order], minlength=n_groups)
        self._end = np.cumsum(counts)
        self._begin = self._end - counts
        before = np.concatenate([[0.0], self._cumulative])
        self._low = before[self._begin]
        self._total = before[self._end] - self._low

    def sizes(self) -> IntArray:
        """Number of products in each group."""
        return np.asarray(self._end - self._begin, dtype=np.int64)

    def draw(self, groups: IntArray, uniforms: FloatArray) -> IntArray:
        """One product per requested group; -1 where the group is empty."""
        if len(groups) == 0:
            return np.zeros(0, dtype=np.int64)
        target = self._low[groups] + uniforms * self._total[groups]
        position = np.searchsorted(self._cumulative, target, side="right")
        position = np.clip(position, self._begin[groups], np.maximum(self._end[groups] - 1, 0))
        out = self._products[np.minimum(position, len(self._products) - 1)]
        return np.where(self._end[groups] > self._begin[groups], out, -1)


class PriceIndex:
    """Finds products of a category priced near a target, picking at random among near ties."""

    def __init__(self, categories: IntArray, price_cents: IntArray, n_categories: int) -> None:
        """Index products by (category, price)."""
        order = np.lexsort((price_cents, categories))
        self._products = order
        self._price = price_cents[order].astype(np.float64)
        counts = np.bincount(categories, minlength=n_categories)
        self._end = np.cumsum(counts)
        self._begin = self._end - counts
        # Key space where a category's prices sit in their own interval, for one searchsorted.
        self._span = float(price_cents.max()) * 4 + 1
        self._key = categories[order] * self._span + self._price

    def lowest(self, categories: IntArray) -> IntArray:
        """The lowest price (cents) in each category."""
        return np.asarray(self._price[self._begin[categories]], dtype=np.int64)

    def highest(self, categories: IntArray) -> IntArray:
        """The highest price (cents) in each category."""
        return np.asarray(self._price[self._end[categories] - 1], dtype=np.int64)

    def near(
        self, categories: IntArray, target_cents: FloatArray, tolerance: float, uniforms: FloatArray
    ) -> IntArray:
        """A product within `tolerance` (relative) of the target price, else the nearest one."""
        if len(categories) == 0:
            return np.zeros(0, dtype=np.int64)
        base = categories * self._span
        begin, end = self._begin[categories], self._end[categories]
        low = np.searchsorted(self._key, base + target_cents * (1 - tolerance), side="left")
        high = np.searchsorted(self._key, base + target_cents * (1 + tolerance), side="right")
        low = np.clip(low, begin, end)
        high = np.clip(high, begin, end)
        within = high > low
        pick = low + np.floor(uniforms * (high - low)).astype(np.int64)
        # Nearest: compare the neighbours around the insertion point.
        at = np.clip(np.searchsorted(self._key, base + target_cents), begin, end - 1)
        below = np.clip(at - 1, begin, end - 1)
        nearer_below = np.abs(self._price[below] - target_cents) < np.abs(
            self._price[at] - target_cents
        )
        nearest = np.where(nearer_below, below, at)
        return self._products[np.where(within, np.minimum(pick, high - 1), nearest)]
