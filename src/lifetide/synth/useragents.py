"""Browser user agents of the devices that visit the shop."""

from __future__ import annotations

import numpy as np

from lifetide.synth.arraytypes import IntArray

AGENTS = (
    # Phones.
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S921U) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
    # Computers.
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    # Tablets.
    "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
)
# Agents per device kind (mobile, desktop, tablet) with their shares.
BY_KIND: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...] = (
    ((0, 1, 2, 3), (0.38, 0.17, 0.25, 0.20)),
    ((4, 5, 6, 7, 8), (0.40, 0.22, 0.20, 0.10, 0.08)),
    ((9,), (1.0,)),
)


def draw_agents(kind: IntArray, rng: np.random.Generator) -> IntArray:
    """A user agent (index into AGENTS) for each device of the given kind."""
    out = np.empty(len(kind), dtype=np.int64)
    for k, (choices, shares) in enumerate(BY_KIND):
        rows = np.flatnonzero(kind == k)
        out[rows] = np.array(choices)[rng.choice(len(choices), size=len(rows), p=np.array(shares))]
    return out
