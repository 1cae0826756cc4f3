"""Per-customer (x, t_x, T, m_x) from raw transactions, by lifetimes' rules.

The repeat-purchase models (BG/NBD, Pareto/NBD) take, per customer, the number of repeat
purchase periods x, the time t_x from the first to the last purchase and the time T from the
first purchase to the end of observation; the Gamma-Gamma model takes the mean value m_x of
the repeat purchases. This module computes them exactly as lifetimes 0.11's
`summary_data_from_transaction_data` does, with numpy and pyarrow only:

- each transaction's date is floored to its period (a day, or a Monday-to-Sunday week, pandas'
  `W` period); the observation end is floored the same way, and transactions in a later
  period are dropped;
- transactions in the same period count as one purchase, their values summed, so x is the
  number of distinct periods minus one;
- t_x and T are differences of period starts, in days or weeks (days / 7);
- m_x is the mean of the per-period values after the first period, 0 without repeat purchases.

With daily periods, time in weeks and the end 1997-09-30 this rebuilds the CDNOW sample that
Fader, Hardie & Lee (2005) fit (lifetimes' `cdnow_customers_summary.csv`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

from lifetide.models.fitting import FloatArray, as_vector

Period = Literal["day", "week"]
DAYS_IN = {"day": 1, "week": 7}
_A_MONDAY = 4  # 1970-01-05, in days since the epoch (a Thursday)


@dataclass(frozen=True)
class CustomerSummary:
    """One row per customer with a purchase by the end, sorted by customer id.

    `frequency` is x, `recency` t_x, `T` the time observed (both in `unit`), and
    `monetary_value` m_x when transaction values were given.
    """

    customer_id: pa.Array
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray | None
    unit: Period

    def __len__(self) -> int:
        """The number of customers."""
        return len(self.frequency)

    def to_arrow(self) -> pa.Table:
        """The summary as a table: customer_id, frequency, recency, T[, monetary_value]."""
        columns: dict[str, Any] = {
            "customer_id": self.customer_id,
            "frequency": self.frequency,
            "recency": self.recency,
            "T": self.T,
        }
        if self.monetary_value is not None:
            columns["monetary_value"] = self.monetary_value
        return pa.table(columns)


def summarize_transactions(
    customer_id: ArrayLike | pa.Array,
    date: ArrayLike | pa.Array,
    observation_end: Any,
    *,
    monetary_value: ArrayLike | None = None,
    period: Period = "day",
    unit: Period | None = None,
) -> CustomerSummary:
    """Per-customer frequency, recency, T (and monetary value) from transactions.

    `customer_id` and `date` (and `monetary_value`) have one entry per transaction; dates
    may be dates, naive date-times (in the shop's time zone; time-zone-aware pyarrow
    timestamps count in UTC) or ISO 8601 text. `period` is what counts as one purchase
    occasion; `unit` is the unit of recency and T (default: the period).
    """
    if period not in DAYS_IN or (unit is not None and unit not in DAYS_IN):
        raise ValueError(f"period and unit must be 'day' or 'week', got {period!r}, {unit!r}")
    ids = _arrow(customer_id, "customer_id")
    days = _days(date, "date")
    if len(ids) != len(days):
        raise ValueError(f"customer_id has {len(ids)} rows, date {len(days)}")
    values = None
    if monetary_value is not None:
        values = as_vector(monetary_value, "monetary_value")
        if len(values) != len(days):
            raise ValueError(f"monetary_value has {len(values)} rows, date {len(days)}")
    end = _period_start(_days([observation_end], "observation_end"), period)[0]
    starts = _period_start(days, period)
    codes, sorted_ids = _codes(ids)

    kept = starts <= end
    codes, starts = codes[kept], starts[kept]
    order = np.lexsort((starts, codes))
    codes, starts = codes[order], starts[order]
    # One purchase per customer and period; then one row per customer.
    new_pair = np.ones(len(codes), dtype=bool)
    new_pair[1:] = (codes[1:] != codes[:-1]) | (starts[1:] != starts[:-1])
    pair_at = np.flatnonzero(new_pair)
    pair_codes, pair_starts = codes[pair_at], starts[pair_at]
    first_pair = np.ones(len(pair_codes), dtype=bool)
    first_pair[1:] = pair_codes[1:] != pair_codes[:-1]
    customer_at = np.flatnonzero(first_pair)
    periods = np.diff(np.append(customer_at, len(pair_codes)))

    step = DAYS_IN[unit or period]
    first_start = pair_starts[customer_at]
    last_start = pair_starts[customer_at + periods - 1]
    frequency = (periods - 1).astype(np.float64)
    monetary = None
    if values is not None:
        per_period = _sums(values[kept][order], pair_at)
        repeat_sums = _sums(np.where(first_pair, 0.0, per_period), customer_at)
        monetary = np.where(frequency > 0, repeat_sums / np.maximum(frequency, 1), 0.0)
    return CustomerSummary(
        customer_id=sorted_ids.take(pa.array(pair_codes[customer_at])),
        frequency=frequency,
        recency=(last_start - first_start) / step,
        T=(end - first_start) / step,
        monetary_value=monetary,
        unit=unit or period,
    )


def _arrow(values: Any, name: str) -> pa.Array:
    """A pyarrow array of the values, chunks combined and dictionaries decoded; no nulls."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if array.null_count:
        raise ValueError(f"{name} has {array.null_count} missing values")
    return array


def _days(values: Any, name: str) -> NDArray[np.int64]:
    """Whole days since 1970-01-01 (floored) of dates, date-times or ISO 8601 text."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        stamps = values  # numpy units pyarrow lacks (minutes, hours) too
        if stamps.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {stamps.shape}")
    else:
        array = _arrow(values, name)
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            array = array.cast(pa.timestamp("us"))
        if pa.types.is_timestamp(array.type):
            array = array.cast(pa.timestamp(array.type.unit))  # time-zone-aware: UTC wall time
        if not (pa.types.is_timestamp(array.type) or pa.types.is_date(array.type)):
            raise TypeError(f"{name} must hold dates or date-times, got {array.type}")
        stamps = array.to_numpy(zero_copy_only=False)
    if np.isnat(stamps).any():
        raise ValueError(f"{name} has missing values")
    return np.asarray(stamps.astype("datetime64[D]").astype(np.int64))


def _period_start(days: NDArray[np.int64], period: Period) -> NDArray[np.int64]:
    """The first day of each day's period: itself, or the Monday of its week."""
    if period == "day":
        return days
    return np.asarray(days - (days - _A_MONDAY) % 7)


def _codes(ids: pa.Array) -> tuple[NDArray[np.int64], pa.Array]:
    """Each row's rank among the distinct ids, and the distinct ids in sorted order."""
    encoded = ids.dictionary_encode()
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)
    return rank[indices], encoded.dictionary.take(pa.array(order))


def _sums(values: FloatArray, starts: NDArray[np.intp]) -> FloatArray:
    """Sums of consecutive runs of values beginning at `starts` (reduceat, empty-safe)."""
    if len(starts) == 0:
        return np.zeros(0)
    return np.asarray(np.add.reduceat(values, starts), dtype=np.float64)
