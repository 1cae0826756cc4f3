"""Reading the past for `lifetide simulate`: the warehouse's events with their profiles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import ibis
import orjson

from lifetide.clock import naive_utc
from lifetide.journeys.simulate import PastEvent
from lifetide.segments.tables import segment_tables
from lifetide.warehouse.connection import Warehouse
from lifetide.warehouse.schema import DEVICE_KIND, RECORD_KINDS

# Typed columns the journeys' triggers and templates read, put back into the properties.
_COLUMNS = (
    "product_id",
    "category",
    "brand",
    "price",
    "quantity",
    "cart_id",
    "order_id",
    "revenue",
)


def newest_event(warehouse: Warehouse) -> dt.datetime | None:
    """When the warehouse's newest event happened (UTC), if there is any."""
    events = warehouse.thread_backend().table("events")
    newest = events.timestamp.max().to_pyarrow().as_py()
    return None if newest is None else newest.replace(tzinfo=dt.UTC)


def past_events(
    warehouse: Warehouse, since: dt.datetime, until: dt.datetime, names: Sequence[str]
) -> Iterator[PastEvent]:
    """The events named `names` between two times, oldest first, each with its profile."""
    tables = segment_tables(warehouse.thread_backend())
    keys = tables.profile_keys
    records = keys.filter(keys.kind.isin(RECORD_KINDS)).select(
        record_id=keys.value, record_profile=keys.profile_id
    )
    devices = keys.filter(keys.kind == DEVICE_KIND).select(
        device_id=keys.value, device_profile=keys.profile_id
    )
    events = tables.events
    picked = events.filter(
        events.event.isin(list(names)),
        events.timestamp >= naive_utc(since),
        events.timestamp < naive_utc(until),
    )
    joined = picked.left_join(records, picked.user_id == records.record_id).left_join(
        devices, picked.anonymous_id == devices.device_id
    )
    mapped = joined.select(
        "timestamp",
        "event",
        "properties",
        *_COLUMNS,
        profile_id=ibis.coalesce(joined.record_profile, joined.device_profile),
    )
    ordered = mapped.filter(mapped.profile_id.notnull()).order_by(["timestamp", "profile_id"])
    for batch in ordered.to_pyarrow_batches(chunk_size=50_000):
        for row in batch.to_pylist():
            properties = _properties(row.get("properties"))
            for column in _COLUMNS:
                if row.get(column) is not None and column not in properties:
                    value = row[column]
                    properties[column] = float(value) if column in ("price", "revenue") else value
            yield PastEvent(
                int(row["profile_id"]),
                str(row["event"]),
                properties,
                row["timestamp"].replace(tzinfo=dt.UTC),
            )


def _properties(raw: object) -> dict[str, object]:
    if isinstance(raw, dict):
        return dict(raw)
    if isinstance(raw, str | bytes) and raw:
        try:
            loaded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}
        return dict(loaded) if isinstance(loaded, dict) else {}
    return {}
