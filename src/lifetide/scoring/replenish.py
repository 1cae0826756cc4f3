"""Replenishment stage: repurchase gaps from the warehouse, intervals and due dates per pair.

Gaps are the days between consecutive purchase days of the same replenishable product by
the same profile, with the units bought at the earlier one (two units last twice as long).
The warehouse computes them with a window function; the model (models.replenishment) turns
them into per-product intervals and per-customer due dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifetide.models.replenishment import (
    NO_DUE_DATE,
    customer_intervals,
    due_dates,
    product_intervals,
)
from lifetide.scoring.features import Bases, bases
from lifetide.scoring.tables import EPOCH, as_date, epoch_day
from lifetide.warehouse.connection import Warehouse

# A due date further in the past than this is a lapsed habit, not a reminder to send.
STALE_AFTER_DAYS = 30
EPOCH_DAY = ibis.date(EPOCH)


@dataclass(frozen=True)
class Replenishment:
    """The replenishment and product_intervals tables, and each profile's next due date."""

    table: pa.Table
    intervals: pa.Table
    next_due: pa.Array  # date per feature row, null where nothing is due
    next_product: pa.Array  # product id per feature row


def _pair_days(warehouse: Warehouse, inputs: Bases) -> pa.Table:
    """(profile, product, day, units, previous day, previous units) for replenishable products."""
    products = warehouse.table("products")
    staples = products.filter(products.replenishable).select("product_id")
    lines = inputs.lines.inner_join(staples, "product_id")
    per_day = lines.group_by(["profile_id", "product_id", "day"]).agg(
        units=lines.quantity.sum().cast("float64")
    )
    window = ibis.window(group_by=["profile_id", "product_id"], order_by="day")
    per_day = per_day.mutate(
        previous_day=per_day.day.lag().over(window),
        previous_units=per_day.units.lag().over(window),
    )
    return per_day.select(
        "profile_id",
        "product_id",
        "units",
        "previous_units",
        day=per_day.day.delta(EPOCH_DAY, unit="day"),
        previous_day=per_day.previous_day.delta(EPOCH_DAY, unit="day"),
    ).to_pyarrow()


def replenishment(
    warehouse: Warehouse, features: pa.Table, as_of: dt.date, inputs: Bases | None = None
) -> Replenishment:
    """Intervals per product and the next due date per profile and replenishable product.

    `inputs` (from `features.bases`, up to `as_of`) are the run's shared joined lines.
    """
    catalog = (
        warehouse.table("products")
        .select("product_id", "replenishable", "replenish_days")
        .order_by("product_id")
        .to_pyarrow()
    )
    product_ids = catalog.column("product_id")
    n_products = catalog.num_rows
    rows = _pair_days(warehouse, inputs or bases(warehouse, as_of))
    product = pc.index_in(rows.column("product_id"), value_set=product_ids).to_numpy()
    profile = rows.column("profile_id").to_numpy()
    day = rows.column("day").to_numpy()
    units = rows.column("units").to_numpy()
    previous = rows.column("previous_day").to_numpy(zero_copy_only=False)
    has_gap = ~np.isnan(previous.astype(np.float64))
    gap = (day[has_gap] - previous[has_gap].astype(np.int64)).astype(np.float64)
    gap_units = rows.column("previous_units").to_numpy(zero_copy_only=False)[has_gap]
    intervals = product_intervals(
        product[has_gap],
        gap,
        gap_units.astype(np.float64),
        n_products,
        catalog.column("replenish_days").cast(pa.float64()).to_numpy(zero_copy_only=False),
        catalog.column("replenishable").fill_null(False).to_numpy(zero_copy_only=False),
    )
    # One row per (profile, product): its last purchase day and what the customer's own gaps say.
    pair_key = profile.astype(np.int64) * n_products + product
    pairs, pair_of_row = np.unique(pair_key, return_inverse=True)
    own = customer_intervals(pair_of_row[has_gap], gap, gap_units.astype(np.float64), len(pairs))
    last_row = np.full(len(pairs), -1)
    order = np.lexsort((day, pair_of_row))
    last_row[pair_of_row[order]] = order  # later days overwrite earlier ones
    due = due_dates(
        day[last_row],
        units[last_row],
        product[last_row],
        intervals,
        customer_gaps=own,
    )
    pair_profile = pairs // n_products
    pair_product = pairs % n_products
    table = pa.table(
        {
            "profile_id": pa.array(pair_profile, type=pa.int64()),
            "product_id": product_ids.take(pa.array(pair_product)),
            "last_purchased_on": as_date(day[last_row]),
            "last_units": pa.array(units[last_row]),
            "due_on": as_date(np.where(due == NO_DUE_DATE, -1, due)),
            "interval_source": pa.array(intervals.source[pair_product].astype(str)),
        }
    )
    interval_table = pa.table(
        {
            "product_id": product_ids,
            "replenishable": pa.array(intervals.replenishable),
            "days_per_unit": pa.array(
                intervals.days_per_unit, mask=np.isnan(intervals.days_per_unit)
            ),
            "support": pa.array(intervals.support.astype(np.int64)),
            "source": pa.array(intervals.source.astype(str)),
        }
    )
    next_due, next_product = _next_due(
        features, pair_profile, due, product_ids, pair_product, as_of
    )
    return Replenishment(table, interval_table, next_due, next_product)


def _next_due(
    features: pa.Table,
    pair_profile: np.ndarray,
    due: np.ndarray,
    product_ids: pa.Array,
    pair_product: np.ndarray,
    as_of: dt.date,
) -> tuple[pa.Array, pa.Array]:
    """Per feature row, the earliest due date not yet stale, and its product."""
    profiles = features.column("profile_id").to_numpy()
    n = len(profiles)
    fresh = (due != NO_DUE_DATE) & (due >= epoch_day(as_of) - STALE_AFTER_DAYS)
    rows = np.searchsorted(profiles, pair_profile)
    inside = rows < n
    inside[inside] &= profiles[rows[inside]] == pair_profile[inside]
    keep = fresh & inside
    best = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(best, rows[keep], due[keep])
    has = best != np.iinfo(np.int64).max
    # The product of the earliest due date: the pair whose due date equals the row's best.
    chosen = keep & (due == np.where(inside, best[np.minimum(rows, max(n - 1, 0))], -2))
    product = np.full(n, None, dtype=object)
    if chosen.any():
        names = product_ids.take(pa.array(pair_product[chosen])).to_numpy(zero_copy_only=False)
        product[rows[chosen]] = names
    return (
        as_date(np.where(has, best, -1)),
        pa.array(product, type=pa.string()),
    )
