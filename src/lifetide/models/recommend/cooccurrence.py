"""Item-to-item co-occurrence: products bought by the same customers or in the same basket."""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from lifetide.models.recommend.interactions import Interactions
from lifetide.models.recommend.ranking import top_columns

Scope = Literal["customer", "basket"]
# Cells of one block of the product x product count matrix, which bounds fit's memory.
_BLOCK_CELLS = 1 << 24


def top_per_row(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """The n largest entries of each row of a CSR matrix, each row sorted by value descending."""
    matrix = matrix.tocsr()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    position = np.arange(order.size) - matrix.indptr[rows[order]]
    keep = order[position < n]
    kept_rows = rows[keep]
    indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(kept_rows, minlength=matrix.shape[0]), out=indptr[1:])
    return sp.csr_matrix(
        (matrix.data[keep].astype(np.float32), matrix.indices[keep], indptr), shape=matrix.shape
    )


def _top_dense(scores: NDArray[np.float32], n: int) -> sp.csr_matrix:
    """The n largest positive entries of each row of a dense block, as CSR."""
    n_rows, n_cols = scores.shape
    cols = top_columns(scores, n)
    values = np.take_along_axis(scores, cols, axis=1)
    keep = values > 0
    rows = np.broadcast_to(np.arange(n_rows)[:, None], cols.shape)
    result = sp.csr_matrix(
        (values[keep].astype(np.float32), (rows[keep], cols[keep])), shape=(n_rows, n_cols)
    )
    return top_per_row(result, n)


class ItemCooccurrence:
    """Item-to-item collaborative filtering on co-purchases.

    After Linden, Smith & York (2003), "Amazon.com recommendations: item-to-item collaborative
    filtering", IEEE Internet Computing 7(1). Two products are similar when the same baskets
    contain them: the cosine of their binary basket vectors, c_ij / sqrt(n_i n_j), damped by
    c_ij / (c_ij + shrinkage) so that one shared basket between two rare products does not
    look like a perfect match. A basket is a customer's whole history (``scope="customer"``,
    the paper's "customers who bought") or one customer-day (``scope="basket"``, "bought
    together"). Each product keeps its ``neighbours`` most similar products.

    Learned: ``similarity_`` (products x products CSR, float32, rows sorted by similarity,
    no diagonal) and ``counts_`` (baskets containing each product).
    """

    def __init__(
        self, neighbours: int = 100, shrinkage: float = 10.0, scope: Scope = "customer"
    ) -> None:
        self.neighbours = neighbours
        self.shrinkage = shrinkage
        self.scope = scope

    def _check(self) -> None:
        if isinstance(self.neighbours, bool) or not isinstance(self.neighbours, int):
            raise ValueError(f"neighbours must be an integer, got {self.neighbours!r}")
        if self.neighbours < 1:
            raise ValueError(f"neighbours must be at least 1, got {self.neighbours}")
        if not self.shrinkage >= 0:
            raise ValueError(f"shrinkage must be non-negative, got {self.shrinkage}")
        if self.scope not in ("customer", "basket"):
            raise ValueError(f"scope must be 'customer' or 'basket', got {self.scope!r}")

    def _baskets(self, interactions: Interactions) -> sp.csr_matrix:
        """Baskets x products, 1 where the basket holds the product."""
        if self.scope == "customer":
            key = interactions.user
        else:
            key = interactions.user * (
                np.int64(interactions.day.max()) + 1 - interactions.day.min()
            )
            key = key + interactions.day - interactions.day.min()
        _, basket = np.unique(key, return_inverse=True)
        matrix = sp.csr_matrix(
            (np.ones(basket.size, dtype=np.float32), (basket.ravel(), interactions.item)),
            shape=(int(basket.max()) + 1, interactions.n_items),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix

    def fit(self, interactions: Interactions) -> ItemCooccurrence:
        """Count co-occurrences block by block and keep each product's nearest neighbours."""
        self._check()
        if not len(interactions):
            raise ValueError("cannot fit co-occurrence on no interactions")
        baskets = self._baskets(interactions)
        by_item = baskets.T.tocsr()
        counts = np.diff(by_item.indptr).astype(np.float32)
        n_items = interactions.n_items
        neighbours = min(self.neighbours, max(n_items - 1, 1))
        block = max(1, _BLOCK_CELLS // n_items)
        parts = []
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            shared = (by_item[start:stop] @ baskets).toarray()
            norm = np.sqrt(counts[start:stop, None] * counts[None, :])
            with np.errstate(invalid="ignore", divide="ignore"):
                similarity = shared / norm * (shared / (shared + np.float32(self.shrinkage)))
            similarity[np.isnan(similarity)] = 0.0
            rows = np.arange(stop - start)
            similarity[rows, rows + start] = 0.0
            parts.append(_top_dense(similarity, neighbours))
        self.similarity_: sp.csr_matrix = sp.vstack(parts, format="csr")
        self.counts_: NDArray[np.int64] = counts.astype(np.int64)
        return self

    def scores(self, seeds: sp.csr_matrix) -> sp.csr_matrix:
        """Customers x products: each seed product's weight times its similarity, summed."""
        result: sp.csr_matrix = (seeds @ self.similarity_).tocsr()
        return result

    def bought_together(self, k: int) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """Each product's k most similar products and similarities, padded with -1 and 0."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        top = top_per_row(self.similarity_, k)
        n_items = top.shape[0]
        rows = np.repeat(np.arange(n_items), np.diff(top.indptr))
        slot = np.arange(top.nnz) - top.indptr[rows]
        items = np.full((n_items, k), -1, dtype=np.int32)
        scores = np.zeros((n_items, k), dtype=np.float32)
        items[rows, slot] = top.indices
        scores[rows, slot] = top.data
        return items, scores
