"""A segment definition in plain English, as the Studio shows it under the count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lifetide.segments.fields import OPERATOR_LABELS, Catalog
from lifetide.segments.rules import (
    BucketCondition,
    EngagementCondition,
    EventCondition,
    EventSpec,
    Group,
    Not,
    PredictionCondition,
    PropertyFilter,
    PurchaseCondition,
    PurchaseFilters,
    Rule,
    SegmentCondition,
    SequenceCondition,
    TraitCondition,
    Window,
)

_ENGAGEMENT = {
    "received": "received",
    "opened": "opened",
    "clicked": "clicked a link in",
    "bounced": "had a bounce of",
    "unsubscribed": "unsubscribed from",
}
_MEASURE = {
    "count": "number of purchases",
    "sum": "total spend",
    "first": "first purchase",
    "last": "last purchase",
}


def describe(rule: Rule, catalog: Catalog, segment_names: Mapping[int, str]) -> str:
    """The sentence for a whole definition: "Customers who ..."."""
    if isinstance(rule, Group) and not rule.children:
        return "All customers."
    return f"Customers {_node(rule, catalog, segment_names, top=True)}."


def _node(rule: Rule, catalog: Catalog, names: Mapping[int, str], top: bool = False) -> str:
    if isinstance(rule, Group):
        if not rule.children:
            return "who are anyone"
        parts = [_node(child, catalog, names) for child in rule.children]
        text = f" {rule.op} ".join(parts)
        return text if top or len(parts) == 1 else f"({text})"
    if isinstance(rule, Not):
        return f"excluding those {_node(rule.child, catalog, names)}"
    if isinstance(rule, TraitCondition):
        spec = catalog.trait(rule.field)
        label = (spec.label if spec else rule.field).lower()
        return f"whose {label} {_compare(rule.op, rule.value)}"
    if isinstance(rule, PredictionCondition):
        spec = catalog.prediction(rule.field)
        label = spec.label if spec else rule.field
        return f"whose {_lower_first(label)} {_compare(rule.op, rule.value)}"
    if isinstance(rule, PurchaseCondition):
        return _purchase(rule)
    if isinstance(rule, EventCondition):
        return _event(
            EventSpec(event=rule.event, where=rule.where), rule.count_op, rule.count, rule.window
        )
    if isinstance(rule, SequenceCondition):
        did = _spec(rule.did)
        after = _spec(rule.not_after)
        return f"who did {did}{_window(rule.window)} and did not do {after} after it"
    if isinstance(rule, EngagementCondition):
        what = f"campaign {rule.campaign_id}" if rule.campaign_id else "an e-mail"
        base = f"{_ENGAGEMENT[rule.action]} {what}"
        return "who " + _times(base, rule.count_op, rule.count) + _window(rule.window)
    if isinstance(rule, SegmentCondition):
        name = names.get(rule.segment_id, f"segment {rule.segment_id}")
        return f"who are {'in' if rule.op == 'in' else 'not in'} segment \u201c{name}\u201d"
    if isinstance(rule, BucketCondition):
        salt = f" (split \u201c{rule.salt}\u201d)" if rule.salt else ""
        return f"who fall in the random {_num(rule.start)}%\u2013{_num(rule.end)}% bucket{salt}"
    raise TypeError(f"cannot describe {type(rule).__name__}")


def _lower_first(text: str) -> str:
    # Keep acronyms such as CLV or P(alive) as they are.
    return text if text[:2].isupper() or text.startswith("P(") else text[:1].lower() + text[1:]


def _purchase(rule: PurchaseCondition) -> str:
    what = _filters(rule.filters)
    window = _window(rule.window)
    if rule.measure == "count" and rule.op == "gte" and rule.value in (1, 1.0, "1"):
        return f"who bought {what}{window}"
    if rule.measure == "count" and rule.op in ("eq", "lte", "lt") and rule.value in (0, 0.0, "0"):
        return f"who never bought {what}{window}"
    measure = _MEASURE[rule.measure]
    money = "$" if rule.measure == "sum" else ""
    return f"whose {measure} on {what}{window} {_compare(rule.op, rule.value, money)}"


def _filters(filters: PurchaseFilters) -> str:
    parts: list[str] = []
    if filters.categories:
        parts.append(_any_of(filters.categories) + " products")
    if filters.brands:
        parts.append("from " + _any_of(filters.brands))
    if filters.products:
        parts.append("product " + _any_of(filters.products))
    text = " ".join(parts) if parts else "anything"
    if filters.channel:
        text += " online" if filters.channel == "online" else " in store"
    if filters.promo_codes:
        text += " with promo code " + _any_of(filters.promo_codes)
    elif filters.with_promo is not None:
        text += " with a promo code" if filters.with_promo else " without a promo code"
    if filters.discounted is not None:
        text += " at a discount" if filters.discounted else " at full price"
    if filters.returned is not None:
        text += " and returned it" if filters.returned else " and kept it"
    return text


def _event(spec: EventSpec, count_op: str, count: int, window: Window) -> str:
    return "who " + _times(f"did {_spec(spec)}", count_op, count) + _window(window)


def _spec(spec: EventSpec) -> str:
    text = f"\u201c{spec.event}\u201d"
    if spec.where:
        text += " where " + " and ".join(_property(p) for p in spec.where)
    return text


def _property(condition: PropertyFilter) -> str:
    name = condition.property.removeprefix("properties.")
    return f"{name} {_compare(condition.op, condition.value)}"


def _times(action: str, count_op: str, count: int) -> str:
    if count_op == "never" or (count_op == "exactly" and count == 0):
        return f"never {action}"
    if count_op == "at_least" and count <= 1:
        return action
    word = {"at_least": "at least", "at_most": "at most", "exactly": "exactly"}[count_op]
    return f"{action} {word} {count} time{'s' if count != 1 else ''}"


def _window(window: Window) -> str:
    if window.kind == "last_days":
        return f" in the last {window.days} day{'s' if window.days != 1 else ''}"
    if window.kind == "between":
        return f" between {window.start} and {window.end}"
    return ""


def _compare(op: str, value: Any, unit: str = "") -> str:
    label = OPERATOR_LABELS.get(op, op)
    if op in ("is_set", "is_not_set", "is_true", "is_false"):
        return label
    if op in ("within_last", "not_within_last"):
        return f"{label} {value} days"
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return f"{label} {unit}{_fmt(value[0])} and {unit}{_fmt(value[1])}"
    if isinstance(value, list):
        return f"{label} {_any_of([_fmt(v) for v in value])}"
    return f"{label} {unit}{_fmt(value)}"


def _any_of(values: list[Any]) -> str:
    shown = [str(v) for v in values]
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return _num(value)
    return str(value)


def _num(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{int(value)}"
