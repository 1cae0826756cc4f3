"""Vectorized work on variable-length segments: an order's lines, a session's events."""

from __future__ import annotations

import numpy as np

from lifetide.synth.arraytypes import FloatArray, IntArray


def starts(counts: IntArray) -> IntArray:
    """Offset of each segment's first element when segments of `counts` are laid end to end."""
    out = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=out[1:])
    return out


def owners(counts: IntArray) -> IntArray:
    """For each element of the concatenated segments, the index of its segment."""
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def positions(counts: IntArray) -> IntArray:
    """For each element of the concatenated segments, its position within its segment."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(starts(counts), counts)


def ranks(keys: IntArray) -> IntArray:
    """Position of each element among the earlier elements with the same key (keys sorted)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    first = np.maximum.accumulate(np.where(new, np.arange(len(keys)), 0))
    return np.arange(len(keys), dtype=np.int64) - first


def cumsum_within(values: FloatArray | IntArray, counts: IntArray) -> FloatArray:
    """Running sum of `values` restarting at each segment (segments laid end to end)."""
    total = np.cumsum(values, dtype=np.float64)
    if len(total) == 0:
        return total
    before = np.concatenate([[0.0], total])[starts(counts)]
    return np.asarray(total - np.repeat(before, counts), dtype=np.float64)
