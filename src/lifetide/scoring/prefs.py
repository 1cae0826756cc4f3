"""Preferences stage: discount sensitivity and price tier per category, from the warehouse."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifetide.models.preferences import TIERS, discount_sensitivity, price_tiers
from lifetide.scoring.features import Bases, bases, slug
from lifetide.scoring.tables import floats
from lifetide.warehouse.connection import Warehouse


@dataclass(frozen=True)
class Preferences:
    """Per feature row: discount score and class, clearance score, overall and category tiers."""

    discount_sensitivity: np.ndarray
    discount_class: np.ndarray
    clearance_score: np.ndarray
    price_tier: np.ndarray
    category_tiers: dict[str, pa.Array]


def preferences(
    warehouse: Warehouse,
    features: pa.Table,
    as_of: dt.date,
    cats: list[str],
    inputs: Bases | None = None,
) -> Preferences:
    """Discount sensitivity from the feature table; price tiers from units by category.

    `inputs` (from `features.bases`, up to `as_of`) are the run's shared joined lines.
    """
    discount = discount_sensitivity(
        floats(features, "units"),
        floats(features, "units_discounted"),
        floats(features, "units_clearance"),
        orders=floats(features, "item_orders"),
    )
    lines = (inputs or bases(warehouse, as_of)).lines
    cells = (
        lines.group_by(["profile_id", "category", "price_tier"])
        .agg(units=lines.quantity.sum().cast("float64"))
        .to_pyarrow()
    )
    profiles = features.column("profile_id")
    customer = pc.index_in(cells.column("profile_id"), value_set=profiles).to_numpy(
        zero_copy_only=False
    )
    category = pc.index_in(
        cells.column("category"), value_set=pa.array(cats, type=pa.string())
    ).to_numpy(zero_copy_only=False)
    tier = pc.index_in(
        cells.column("price_tier"), value_set=pa.array(TIERS, type=pa.string())
    ).to_numpy(zero_copy_only=False)
    # Categories past the top ones, unknown tiers and profiles not scored are left out.
    known = ~(np.isnan(customer.astype(float)) | np.isnan(category.astype(float))
              | np.isnan(tier.astype(float)))  # fmt: skip
    tiers = price_tiers(
        customer[known].astype(np.int64),
        category[known].astype(np.int64),
        tier[known].astype(np.int64),
        cells.column("units").to_numpy(zero_copy_only=False)[known],
        features.num_rows,
        len(cats),
    )
    per = tiers.per_category
    by_category: dict[str, pa.Array] = {}
    for code, name in enumerate(cats):
        labels = np.full(features.num_rows, None, dtype=object)
        mine = per.category == code
        labels[per.customer[mine]] = np.asarray(TIERS, dtype=object)[per.tier[mine]]
        by_category[f"price_tier_{slug(name)}"] = pa.array(labels, type=pa.string())
    return Preferences(
        discount_sensitivity=discount.score,
        discount_class=discount.label.astype(object),
        clearance_score=discount.clearance_score,
        price_tier=tiers.overall.astype(object),
        category_tiers=by_category,
    )
