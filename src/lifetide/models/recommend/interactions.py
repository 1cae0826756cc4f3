"""Purchase lines as dense customer and product codes, and their per-pair summary."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

Weighting = Literal["days", "quantity", "lines", "binary"]
WEIGHTINGS: tuple[Weighting, ...] = ("days", "quantity", "lines", "binary")


def _codes(name: str, values: ArrayLike) -> NDArray[np.int64]:
    """Integer codes as a 1-D int64 array, or a ValueError naming the argument."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer codes, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _count(name: str, value: int | None, codes: NDArray[np.int64]) -> int:
    """A code range: the given count, checked against the codes, or the largest code + 1."""
    if codes.size and codes.min() < 0:
        raise ValueError(f"{name[2:-1]} codes must be non-negative")
    needed = int(codes.max()) + 1 if codes.size else 0
    if value is None:
        return needed
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if needed > value:
        raise ValueError(f"{name}={value} but a code is {needed - 1}: codes must be < {name}")
    return int(value)


@dataclass(frozen=True, eq=False)
class PairSummary:
    """One row per (customer, product) pair, sorted by customer then product."""

    user: NDArray[np.int64]
    item: NDArray[np.int64]
    lines: NDArray[np.int64]
    days: NDArray[np.int64]
    quantity: NDArray[np.float64]
    first_day: NDArray[np.int64]
    last_day: NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Interactions:
    """Purchase lines: customer code, product code, units and day (days since 1970-01-01)."""

    user: NDArray[np.int64]
    item: NDArray[np.int64]
    quantity: NDArray[np.float64]
    day: NDArray[np.int64]
    n_users: int
    n_items: int

    @classmethod
    def from_arrays(
        cls,
        *,
        user: ArrayLike,
        item: ArrayLike,
        day: ArrayLike,
        quantity: ArrayLike | None = None,
        n_users: int | None = None,
        n_items: int | None = None,
    ) -> Interactions:
        """Validated purchase lines; quantity defaults to 1 and the counts to largest code + 1."""
        users = _codes("user", user)
        items = _codes("item", item)
        days = _codes("day", day)
        if quantity is None:
            units = np.ones(users.size, dtype=np.float64)
        else:
            raw = np.asarray(quantity)
            if raw.ndim != 1:
                raise ValueError(f"quantity must be one-dimensional, got shape {raw.shape}")
            if raw.size and not (
                np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)
            ):
                raise ValueError(f"quantity must be numeric, got dtype {raw.dtype}")
            units = raw.astype(np.float64, copy=False)
        lengths = {"user": users.size, "item": items.size, "day": days.size}
        lengths["quantity"] = units.size
        if len(set(lengths.values())) != 1:
            described = ", ".join(f"{name}={size}" for name, size in lengths.items())
            raise ValueError(f"user, item, day and quantity must have one length, got {described}")
        if users.size == 0:
            raise ValueError("no interactions: the arrays are empty")
        if not np.all(np.isfinite(units)) or units.min() <= 0:
            raise ValueError("quantity must be finite and positive (drop returns and zero lines)")
        return cls(
            user=users,
            item=items,
            quantity=units,
            day=days,
            n_users=_count("n_users", n_users, users),
            n_items=_count("n_items", n_items, items),
        )

    def __len__(self) -> int:
        """The number of purchase lines."""
        return int(self.user.size)

    def take(self, mask: NDArray[np.bool_]) -> Interactions:
        """The lines where mask is true, with the same code ranges (may be empty)."""
        if mask.shape != self.user.shape or mask.dtype != np.bool_:
            raise ValueError(f"mask must be a boolean array of length {len(self)}")
        return Interactions(
            user=self.user[mask],
            item=self.item[mask],
            quantity=self.quantity[mask],
            day=self.day[mask],
            n_users=self.n_users,
            n_items=self.n_items,
        )

    def pairs(self) -> PairSummary:
        """Per (customer, product): lines, distinct days, units, first and last day."""
        return self._pairs

    @cached_property
    def _pairs(self) -> PairSummary:
        # Computed once: the models of one fit all start from it, and it costs a sort.
        if not len(self):
            empty = np.zeros(0, dtype=np.int64)
            return PairSummary(empty, empty, empty, empty, np.zeros(0), empty, empty)
        pair = self.user * self.n_items + self.item
        order = np.lexsort((self.day, pair))
        pair, day, units = pair[order], self.day[order], self.quantity[order]
        new_pair = np.r_[True, pair[1:] != pair[:-1]]
        starts = np.flatnonzero(new_pair)
        ends = np.r_[starts[1:], pair.size]
        day_starts = np.flatnonzero(new_pair | np.r_[True, day[1:] != day[:-1]])
        # Distinct days of a pair: the (pair, day) runs that start inside its range.
        days = np.diff(np.searchsorted(day_starts, np.r_[starts, pair.size]))
        keys = pair[starts]
        summary = PairSummary(
            user=keys // self.n_items,
            item=keys % self.n_items,
            lines=(ends - starts).astype(np.int64),
            days=days.astype(np.int64),
            quantity=np.add.reduceat(units, starts),
            first_day=day[starts],
            last_day=day[ends - 1],
        )
        # Shared by every caller, so nobody may change it in place.
        for array in vars(summary).values():
            array.flags.writeable = False
        return summary

    def matrix(self, weighting: Weighting = "days") -> sp.csr_matrix:
        """Customers x products, float32: distinct days, units, lines, or 1 per bought pair."""
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
        summary = self.pairs()
        values: NDArray[np.generic]
        if weighting == "days":
            values = summary.days
        elif weighting == "quantity":
            values = summary.quantity
        elif weighting == "lines":
            values = summary.lines
        else:
            values = np.ones(summary.user.size)
        return pair_matrix(summary.user, summary.item, values, self.n_users, self.n_items)

    def buyers(self) -> NDArray[np.int64]:
        """Distinct customers who bought each product."""
        summary = self.pairs()
        return np.bincount(summary.item, minlength=self.n_items).astype(np.int64)


def pair_matrix(
    user: NDArray[np.int64],
    item: NDArray[np.int64],
    values: NDArray[np.generic],
    n_users: int,
    n_items: int,
) -> sp.csr_matrix:
    """A float32 CSR matrix from pairs already sorted by user then item, without duplicates."""
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(user, minlength=n_users), out=indptr[1:])
    return sp.csr_matrix(
        (np.asarray(values, dtype=np.float32), item.astype(np.int32), indptr),
        shape=(n_users, n_items),
    )
