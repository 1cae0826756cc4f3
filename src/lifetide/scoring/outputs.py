"""The predictions table: the feature columns people segment on, plus every model's output."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from lifetide.scoring.features import slug

# Feature columns carried into predictions: what a marketer filters on next to the scores.
CARRIED_FEATURES = (
    "profile_id", "first_seen_at", "first_order_at", "last_order_at", "last_seen_at", "orders",
    "net_spend", "average_order_value", "recency_days", "tenure_days", "orders_online",
    "orders_store", "spend_365d", "orders_365d", "units", "return_rate", "discounted_share",
    "clearance_share", "promo_codes_used", "product_views_30d", "cart_adds_30d",
    "email_open_rate_90d", "email_click_rate_90d", "days_since_seen",
)  # fmt: skip
TOP_CATEGORIES = 3


def top_categories(features: pa.Table, cats: list[str]) -> tuple[pa.Array, pa.Array]:
    """Each customer's categories by spend share (up to 3, largest first), and the first."""
    n = features.num_rows
    if not cats or n == 0:
        empty: list[list[str]] = [[] for _ in range(n)]
        return pa.array(empty, type=pa.list_(pa.string())), pa.nulls(n, pa.string())
    shares = np.column_stack(
        [
            np.asarray(features.column(f"share_{slug(c)}").to_numpy(zero_copy_only=False))
            for c in cats
        ]
    )
    order = np.argsort(-shares, axis=1, kind="stable")[:, :TOP_CATEGORIES]
    names = np.asarray(cats, dtype=object)
    picked = np.take_along_axis(shares, order, axis=1) > 0
    counts = picked.sum(axis=1)
    flat = names[order][picked]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.string()))
    first_names = names[order[:, 0]]
    first_names[counts == 0] = None
    first = pa.array(first_names, type=pa.string())
    return lists, first


def predictions_table(
    features: pa.Table,
    columns: Mapping[str, pa.Array | np.ndarray],
    as_of: dt.date,
    scored_at: dt.datetime,
) -> pa.Table:
    """Carried features, then the model columns in the given order, then as_of and scored_at."""
    n = features.num_rows
    out: dict[str, pa.Array | pa.ChunkedArray] = {
        name: features.column(name) for name in CARRIED_FEATURES
    }
    for name, values in columns.items():
        array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
        if len(array) != n:
            raise ValueError(f"predictions column {name} has {len(array)} rows, expected {n}")
        out[name] = array
    out["as_of"] = pa.array([as_of] * n, type=pa.date32())
    out["scored_at"] = pa.array([scored_at.replace(tzinfo=None)] * n, type=pa.timestamp("us"))
    return pa.table(out)
