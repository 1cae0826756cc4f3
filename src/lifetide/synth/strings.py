"""Vectorized building of string columns: digits, hex, joins and look-ups, with no per-row Python.

Fixed-width pieces are assembled as uint8 matrices and handed to Arrow as buffers; variable
pieces are joined with Arrow's compute kernels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifetide.synth.arraytypes import BoolArray, ByteArray, IntArray, UIntArray

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_PAIRS = np.stack([_HEX[np.arange(256) >> 4], _HEX[np.arange(256) & 15]], axis=1)

Piece: TypeAlias = "str | pa.Array | pa.ChunkedArray"


def fixed(rows: ByteArray) -> pa.Array:
    """A string array from an (n, width) matrix of ASCII bytes, one row per value."""
    n, width = rows.shape
    data = np.ascontiguousarray(rows).reshape(-1)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    if len(data) < 2**31:
        return pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
        )
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    ).cast(pa.string())


def padded(rows: ByteArray, lengths: IntArray) -> pa.Array:
    """A string array from left-aligned bytes in an (n, width) matrix and each row's length."""
    width = rows.shape[1]
    keep = np.arange(width)[None, :] < lengths[:, None]
    data = np.ascontiguousarray(rows)[keep]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.string(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def digits(values: IntArray, width: int) -> ByteArray:
    """Zero-padded decimal digits of non-negative integers as an (n, width) ASCII matrix."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers[None, :]) % 10 + 48).astype(np.uint8)


def hex_digits(values: UIntArray) -> ByteArray:
    """The 16 lowercase hex digits of each uint64 as an (n, 16) ASCII matrix."""
    octets = values.astype(">u8").view(np.uint8).reshape(-1, 8)
    return _HEX_PAIRS[octets].reshape(-1, 16)


def literal(text: str, n: int) -> ByteArray:
    """`text` repeated on n rows as an (n, len(text)) ASCII matrix, for fixed-width joins."""
    return np.broadcast_to(np.frombuffer(text.encode(), dtype=np.uint8), (n, len(text)))


def concat_fixed(parts: Sequence[ByteArray]) -> pa.Array:
    """A string array joining fixed-width ASCII matrices column-wise."""
    return fixed(np.concatenate(parts, axis=1))


def join(parts: Sequence[Piece]) -> pa.Array:
    """Concatenate strings and string arrays element-wise (no separator; nulls give null)."""
    return pc.binary_join_element_wise(*parts, "")


def pick(
    values: Sequence[str] | pa.Array, index: IntArray, valid: BoolArray | None = None
) -> pa.Array:
    """values[index[i]] for each i (null where not `valid`), as an Arrow string array."""
    table = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string())
    if valid is None:
        return table.take(pa.array(index))
    return table.take(pa.array(np.where(valid, index, 0), mask=~valid))


def text(values: IntArray) -> pa.Array:
    """Decimal text of integers."""
    return pc.cast(pa.array(values), pa.string())


def where(mask: BoolArray, value: pa.Array) -> pa.Array:
    """`value` where `mask` holds, null elsewhere."""
    return pc.if_else(pa.array(mask), value, pa.nulls(len(mask), pa.string()))
