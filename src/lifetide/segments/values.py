"""Condition values: checking them against a field's type and turning them into typed values.

Shared by the validator (which reports what is wrong, and where) and the compiler (which only
ever sees validated definitions), so both read a value the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from lifetide.segments.fields import LIST_VALUE, NO_VALUE, OPERATORS, PAIR_VALUE, FieldType

DAYS_OPS = frozenset({"within_last", "not_within_last"})

# Event columns a property filter may name directly, with their type; any other property is
# read from the JSON `properties` as `properties.<name>`.
EVENT_COLUMNS: dict[str, FieldType] = {
    "product_id": "string",
    "category": "string",
    "brand": "string",
    "price": "number",
    "quantity": "number",
    "cart_id": "string",
    "order_id": "string",
    "revenue": "number",
    "campaign_id": "string",
}
_PROPERTY = re.compile(r"^properties\.([A-Za-z_][A-Za-z0-9_]{0,63})$")


class BadValue(ValueError):
    """A value that does not fit its field and operator."""


@dataclass(frozen=True)
class PropertyRef:
    """Where an event property lives: a typed column, or a key of the JSON properties."""

    column: str | None
    json_key: str | None
    type: FieldType


def property_ref(name: str, value: Any = None) -> PropertyRef:
    """The column or JSON key an event property filter names; BadValue if neither."""
    if name in EVENT_COLUMNS:
        return PropertyRef(name, None, EVENT_COLUMNS[name])
    found = _PROPERTY.match(name)
    if found is None:
        known = ", ".join(EVENT_COLUMNS)
        raise BadValue(f"unknown event property {name!r}: use one of {known}, or properties.<name>")
    sample = value[0] if isinstance(value, list) and value else value
    numeric = isinstance(sample, int | float) and not isinstance(sample, bool)
    return PropertyRef(None, found.group(1), "number" if numeric else "string")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise BadValue(f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise BadValue(f"expected a number, got {value!r}") from None
    raise BadValue(f"expected a number, got {value!r}")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise BadValue(f"expected a date like 2026-01-31, got {value!r}") from None
    raise BadValue(f"expected a date like 2026-01-31, got {value!r}")


def _days(value: Any) -> int:
    days = _number(value)
    if days != int(days) or not 1 <= days <= 3650:
        raise BadValue(f"expected a whole number of days from 1 to 3650, got {value!r}")
    return int(days)


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadValue(f"expected text, got {value!r}")
    text = str(value)
    if not text.strip():
        raise BadValue("expected some text, got nothing")
    if len(text) > 500:
        raise BadValue("a value is at most 500 characters")
    return text


def typed(kind: FieldType, op: str, value: Any) -> Any:
    """The value of a condition as the compiler uses it; BadValue says what is wrong."""
    if op not in OPERATORS[kind]:
        allowed = ", ".join(OPERATORS[kind])
        raise BadValue(f"operator {op!r} does not fit a {kind} field; use one of {allowed}")
    if op in NO_VALUE:
        return None
    if value is None or value == "" or value == []:
        raise BadValue(f"operator {op!r} needs a value")
    if op in DAYS_OPS:
        return _days(value)
    one = _scalar_reader(kind)
    if op in LIST_VALUE or (kind == "list" and isinstance(value, list)):
        items = value if isinstance(value, list) else [value]
        if not items or len(items) > 1000:
            raise BadValue("expected a list of 1 to 1000 values")
        return [one(v) for v in items]
    if op in PAIR_VALUE:
        if not isinstance(value, list) or len(value) != 2:
            raise BadValue("'between' needs two values: [low, high]")
        low, high = one(value[0]), one(value[1])
        if high < low:
            raise BadValue(f"'between' needs low <= high, got {low} and {high}")
        return [low, high]
    if isinstance(value, list):
        raise BadValue(f"operator {op!r} takes one value, not a list")
    return one(value)


def _scalar_reader(kind: FieldType) -> Any:
    if kind == "number":
        return _number
    if kind in ("date", "timestamp"):
        return _date
    if kind == "boolean":
        raise BadValue("a yes/no field takes no value: use is_true or is_false")
    return _text


def holds(op: str, value: Any, x: float) -> bool:
    """Whether the number `x` passes a validated numeric comparison (for a count of zero)."""
    if op == "eq":
        return bool(x == value)
    if op == "ne":
        return bool(x != value)
    if op == "gt":
        return bool(x > value)
    if op == "gte":
        return bool(x >= value)
    if op == "lt":
        return bool(x < value)
    if op == "lte":
        return bool(x <= value)
    if op == "between":
        return bool(value[0] <= x <= value[1])
    # is_set on a count: always known; is_not_set: never.
    return op == "is_set"
