"""Identifiers that are unique by construction yet look random.

A counter that is unique within the whole data set (e.g. chunk * 2**32 + row) is passed
through a bijection, so no two rows collide, while the value reveals neither the chunk nor
the person it came from.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lifetide.synth import strings
from lifetide.synth.arraytypes import IntArray, UIntArray

# Room for each chunk's own counters in one 64-bit space.
CHUNK_STRIDE = 1 << 32


def mix64(counters: IntArray | UIntArray, salt: int) -> UIntArray:
    """SplitMix64's finalizer of counter + salt: a bijection on 64-bit integers."""
    with np.errstate(over="ignore"):
        z = counters.astype(np.uint64) + np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def scramble(counters: IntArray, modulus_digits: int, salt: int) -> IntArray:
    """A bijection of [0, 10**d) onto itself (affine map mod 10**d): unique numbers of d digits."""
    modulus = 10**modulus_digits
    # Coprime with 10**d because it is odd and not a multiple of 5.
    multiplier = 7_919_113 % modulus
    return np.asarray((counters * multiplier + salt) % modulus, dtype=np.int64)


def numbered(prefix: str, numbers: IntArray, width: int) -> pa.Array:
    """`prefix` followed by each number zero-padded to `width` digits."""
    n = len(numbers)
    return strings.concat_fixed([strings.literal(prefix, n), strings.digits(numbers, width)])


def hex_id(prefix: str, counters: IntArray, salt: int) -> pa.Array:
    """`prefix` followed by 16 hex digits, unique for unique counters."""
    n = len(counters)
    return strings.concat_fixed(
        [strings.literal(prefix, n), strings.hex_digits(mix64(counters, salt))]
    )


def uuid_like(counters: IntArray, noise: UIntArray, salt: int) -> pa.Array:
    """UUID-shaped ids (8-4-4-4-12 hex): 64 bits from the counter's bijection, 64 random."""
    n = len(counters)
    high = strings.hex_digits(mix64(counters, salt))
    low = strings.hex_digits(noise)
    dash = strings.literal("-", n)
    return strings.concat_fixed(
        [high[:, :8], dash, high[:, 8:12], dash, high[:, 12:], dash, low[:, :4], dash, low[:, 4:]]
    )
