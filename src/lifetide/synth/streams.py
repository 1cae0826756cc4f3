"""Independent, reproducible random streams: one per purpose and chunk.

Each part of the generator draws from its own stream, keyed on (seed, purpose, chunk), so the
output depends only on the configuration, never on global random state or the clock, and a
change to how e-mail is simulated does not move a single purchase.
"""

from __future__ import annotations

import numpy as np

_PURPOSES: dict[str, int] = {
    "catalog": 1,
    "contacts": 2,
    "campaigns": 3,
    "persons": 10,
    "purchases": 11,
    "baskets": 12,
    "records": 13,
    "email": 14,
    "sessions": 15,
    "events": 16,
    "visitors": 17,
    "addresses": 18,
}


def stream(seed: int, purpose: str, chunk: int = 0) -> np.random.Generator:
    """The random generator for `purpose` in `chunk`, derived from `seed` alone."""
    sequence = np.random.SeedSequence(seed, spawn_key=(_PURPOSES[purpose], chunk))
    return np.random.default_rng(sequence)
