"""Top-k selection over blocks of dense scores, with per-row exclusions and slot filling."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

INELIGIBLE = np.float32(-np.inf)


def top_columns(scores: NDArray[np.float32], n: int) -> NDArray[np.intp]:
    """Each row's n highest-scoring columns in column order, ties going to the lower column."""
    n_rows, n_cols = scores.shape
    if n >= n_cols:
        return np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    # Partitioning is linear in the row length; the n-th largest value is the cut.
    cut = np.partition(scores, n_cols - n, axis=1)[:, n_cols - n, None]
    keep = scores > cut
    tied = scores == cut
    short = n - keep.sum(axis=1)
    crowded = np.flatnonzero(tied.sum(axis=1) > short)
    if crowded.size:
        ties = tied[crowded]
        ties &= np.cumsum(ties, axis=1) <= short[crowded, None]
        tied[crowded] = ties
    keep |= tied
    return np.nonzero(keep)[1].reshape(n_rows, n)


def top_k(scores: NDArray[np.float32], k: int) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Each row's k best columns, best first; -inf scores are ineligible and come back as -1."""
    n_rows, n_cols = scores.shape
    width = min(k, n_cols)
    part = top_columns(scores, width)
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    items = np.take_along_axis(part, order, axis=1).astype(np.int32)
    values = np.take_along_axis(part_scores, order, axis=1)
    empty = values == INELIGIBLE
    items[empty] = -1
    values = np.where(empty, np.float32(0), values).astype(np.float32)
    if width < k:
        pad = k - width
        items = np.hstack([items, np.full((n_rows, pad), -1, dtype=np.int32)])
        values = np.hstack([values, np.zeros((n_rows, pad), dtype=np.float32)])
    return items, values


def exclude(scores: NDArray[np.float32], excluded: sp.csr_matrix) -> None:
    """Mark the (row, column) entries stored in a CSR matrix of the same shape ineligible."""
    rows = np.repeat(np.arange(excluded.shape[0]), np.diff(excluded.indptr))
    scores[rows, excluded.indices] = INELIGIBLE


def exclude_chosen(scores: NDArray[np.float32], chosen: NDArray[np.int32]) -> None:
    """Mark the items already in each row's list ineligible (-1 slots are skipped)."""
    rows, slots = np.nonzero(chosen >= 0)
    scores[rows, chosen[rows, slots]] = INELIGIBLE


def fill(
    items: NDArray[np.int32],
    scores: NDArray[np.float32],
    source: NDArray[np.uint8],
    new_items: NDArray[np.int32],
    new_scores: NDArray[np.float32],
    new_source: int,
) -> None:
    """Append each row's new candidates, best first, into its empty (-1) trailing slots."""
    k = items.shape[1]
    taken = (items >= 0).sum(axis=1)
    rows, position = np.nonzero(new_items >= 0)
    # Candidates are sorted best first and left-aligned, so position j goes to slot taken + j.
    slot = taken[rows] + position
    fits = slot < k
    rows, slot, position = rows[fits], slot[fits], position[fits]
    items[rows, slot] = new_items[rows, position]
    scores[rows, slot] = new_scores[rows, position]
    source[rows, slot] = new_source
