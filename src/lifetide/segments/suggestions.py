"""Value suggestions for the segment builder's pickers, drawn from the warehouse.

Each source names fixed tables and columns; the one free choice, the profile field of
"values", must be a field of the catalog, so no name from a request ever reaches a query
unchecked. Prefixes match case-insensitively; the most frequent values come first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from lifetide.segments.fields import Catalog, FieldSpec

SOURCES = ("categories", "brands", "products", "promo_codes", "event_names", "campaigns", "values")
MAX_LIMIT = 100
# The fixed columns each simple source draws from: (table, column).
_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "categories": (("order_items", "category"), ("products", "category")),
    "brands": (("order_items", "brand"), ("products", "brand")),
    "promo_codes": (("orders", "promo_code"),),
    "campaigns": (("events", "campaign_id"),),
}


class SuggestionError(ValueError):
    """A suggestion request naming an unknown source or an unusable field."""


@dataclass(frozen=True)
class Suggestion:
    """One value for a picker: what to store, what to show, and how often it occurs."""

    value: str
    label: str
    count: int


def suggest(
    backend: Any,
    catalog: Catalog,
    source: str,
    prefix: str = "",
    field: str | None = None,
    limit: int = 20,
) -> list[Suggestion]:
    """Up to `limit` values of `source` starting with `prefix`, most frequent first."""
    limit = max(1, min(limit, MAX_LIMIT))
    needle = prefix.strip().lower()
    if source in _COLUMNS:
        parts = [backend.table(t).select(value=backend.table(t)[c]) for t, c in _COLUMNS[source]]
        return _ranked(_union(parts), needle, limit)
    if source == "event_names":
        events = backend.table("events")
        named = events.filter(events.type == "track").select(value=events.event)
        return _ranked(named, needle, limit)
    if source == "products":
        return _products(backend, needle, limit)
    if source == "values":
        return _field_values(backend, catalog, field, needle, limit)
    raise SuggestionError(f"unknown suggestion source {source!r}; one of: {', '.join(SOURCES)}")


def _union(parts: list[ir.Table]) -> ir.Table:
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part, distinct=False)
    return out


def _ranked(values: ir.Table, needle: str, limit: int) -> list[Suggestion]:
    kept = values.filter(values.value.notnull() & (values.value.strip() != ""))
    if needle:
        kept = kept.filter(kept.value.lower().startswith(needle))
    counted = kept.group_by("value").aggregate(n=kept.count())
    rows = counted.order_by([ibis.desc("n"), "value"]).limit(limit).to_pyarrow().to_pylist()
    return [Suggestion(str(r["value"]), str(r["value"]), int(r["n"])) for r in rows]


def _products(backend: Any, needle: str, limit: int) -> list[Suggestion]:
    products = backend.table("products")
    items = backend.table("order_items")
    sold = items.group_by(sold_id=items.product_id).aggregate(n=items.count())
    joined = products.left_join(sold, products.product_id == sold.sold_id)
    rows = joined.select("product_id", "name", n=joined.n.fill_null(0))
    if needle:
        rows = rows.filter(
            rows.product_id.lower().startswith(needle) | rows.name.lower().startswith(needle)
        )
    found = rows.order_by([ibis.desc("n"), "product_id"]).limit(limit).to_pyarrow().to_pylist()
    return [Suggestion(str(r["product_id"]), str(r["name"]), int(r["n"])) for r in found]


def _field_values(
    backend: Any, catalog: Catalog, field: str | None, needle: str, limit: int
) -> list[Suggestion]:
    if not field:
        raise SuggestionError("suggestions of 'values' need a field")
    spec = catalog.trait(field)
    table_name = "profiles"
    if spec is None:
        spec, table_name = catalog.prediction(field), "predictions"
    if spec is None:
        raise SuggestionError(f"unknown field {field!r}: not a profile or prediction field")
    if spec.choices:
        return _choices(spec, needle, limit)
    if spec.type != "string":
        raise SuggestionError(f"field {field!r} is a {spec.type}: it has no value suggestions")
    table = backend.table(table_name)
    if spec.key not in table.columns:
        return []  # the field is known but this warehouse has not filled it yet
    return _ranked(table.select(value=table[spec.key]), needle, limit)


def _choices(spec: FieldSpec, needle: str, limit: int) -> list[Suggestion]:
    picked = [c for c in spec.choices if c.lower().startswith(needle)]
    return [Suggestion(c, c.replace("_", " "), 0) for c in picked[:limit]]
