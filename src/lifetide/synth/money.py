"""Money as integer cents, turned into Arrow DECIMAL(18, 2) without floating point."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray

DECIMAL = pa.decimal128(18, 2)


def decimals(cents: IntArray, valid: BoolArray | None = None) -> pa.Array:
    """A DECIMAL(18, 2) array holding `cents` / 100 exactly (null where not `valid`)."""
    # decimal128 is a 16-byte little-endian two's complement integer of the unscaled value.
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    mask = None
    if valid is not None:
        mask = pa.py_buffer(np.packbits(valid, bitorder="little"))
        null_count = int(len(valid) - valid.sum())
    else:
        null_count = 0
    return pa.Array.from_buffers(
        DECIMAL, len(cents), [mask, pa.py_buffer(words)], null_count=null_count
    )


def share_of(cents: IntArray, rate: FloatArray) -> IntArray:
    """round(cents * rate) to the cent, halves up, computed on integer basis points."""
    basis_points = np.round(rate * 10_000).astype(np.int64)
    return (cents * basis_points + 5_000) // 10_000


def to_cents(dollars: FloatArray) -> IntArray:
    """Dollars as whole cents (rounded)."""
    return np.round(dollars * 100).astype(np.int64)
