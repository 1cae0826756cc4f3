"""Every segment node type on the tiny retailer (tests/segments/shop.py): rule in, members out.

Each expected set was worked out by reading the rows in shop.py, not by running the compiler.
The compiler test runs them on DuckDB; the golden-answers test runs them on every backend.
"""

from __future__ import annotations

from typing import Any

from tests.segments.shop import ALL


def trait(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"type": "trait", "field": field, "op": op, "value": value}


def pred(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"type": "prediction", "field": field, "op": op, "value": value}


def bought(op: str = "gte", value: Any = 1, measure: str = "count", **extra: Any) -> dict[str, Any]:
    window = extra.pop("window", {"kind": "ever"})
    return {
        "type": "purchase",
        "measure": measure,
        "op": op,
        "value": value,
        "filters": extra,
        "window": window,
    }


def did(event: str, count_op: str = "at_least", count: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": "event", "event": event, "count_op": count_op, "count": count, **extra}


def email(action: str, **extra: Any) -> dict[str, Any]:
    return {"type": "engagement", "action": action, **extra}


def group(op: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"type": "group", "op": op, "children": list(children)}


def last(days: int) -> dict[str, Any]:
    return {"kind": "last_days", "days": days}


def everyone_but(*ids: int) -> set[int]:
    return set(ALL) - set(ids)


SQL_LOOKING = "x'; DROP TABLE orders; --"

CASES: list[tuple[str, dict[str, Any], set[int]]] = [
    # Profile traits: text ignores case; unknown values never match.
    ("trait eq ignores case", trait("country", "eq", "us"), {1, 2, 4}),
    ("trait ne needs a known value", trait("country", "ne", "US"), {3, 6, 8}),
    ("trait in", trait("country", "in", ["GB", "CA"]), {3, 6}),
    ("trait not_in", trait("country", "not_in", ["US"]), {3, 6, 8}),
    ("trait is_not_set", trait("country", "is_not_set"), {5, 7}),
    ("trait is_set", trait("region", "is_set"), {1, 2, 4, 6}),
    ("e-mail domain", trait("email_domain", "eq", "gmail.com"), {1, 3, 5}),
    ("trait contains", trait("email", "contains", "@GMAIL"), {1, 3, 5}),
    ("trait starts_with a quote", trait("email", "starts_with", "x'"), {8}),
    ("a value that looks like SQL is a value", trait("city", "eq", SQL_LOOKING), set()),
    ("created within the last 30 days", trait("created_at", "within_last", 30), {2, 6}),
    ("created not within 365 days", trait("created_at", "not_within_last", 365), {1, 3, 7}),
    ("created before a date", trait("created_at", "before", "2025-01-01"), {3, 7}),
    ("created after a date excludes it", trait("created_at", "after", "2026-02-01"), {2, 5, 6}),
    (
        "created between dates, both included",
        trait("created_at", "between", ["2026-01-01", "2026-02-01"]),
        {4, 8},
    ),
    ("birth date before", trait("birth_date", "before", "1988-01-01"), {3}),
    ("consent yes", trait("email_consent", "is_true"), {1, 4, 5}),
    ("consent no", trait("email_consent", "is_false"), {2, 8}),
    ("consent unknown", trait("email_consent", "is_not_set"), {3, 6, 7}),
    # Predictions.
    ("stage in", pred("lifecycle_stage", "in", ["loyal", "active"]), {1, 3}),
    ("clv above", pred("clv_12m", "gt", 100), {1, 5}),
    ("clv unknown includes the unscored", pred("clv_12m", "is_not_set"), {4, 6, 7, 8}),
    ("future top 20", pred("future_top20", "is_true"), {1, 5}),
    ("top categories contain", pred("top_categories", "contains", ["skincare"]), {1, 3, 5}),
    ("top categories lack", pred("top_categories", "not_contains", ["skincare"]), {2, 4}),
    ("p_alive between", pred("p_alive", "between", [0.5, 0.9]), {1, 3, 4}),
    # Purchases: cancelled orders and orders after now never count; CRM ids map too.
    ("bought ever", bought(), {1, 2, 3, 5}),
    ("bought twice", bought("gte", 2), {1}),
    ("never bought: zero counts", bought("eq", 0), {4, 6, 7, 8}),
    ("fewer than one purchase", bought("lt", 1), {4, 6, 7, 8}),
    ("orders between 1 and 2", bought("between", [1, 2]), {2, 3, 5}),
    ("bought in the last 30 days", bought(window=last(30)), {1, 5}),
    (
        "bought between dates",
        bought(window={"kind": "between", "start": "2026-10-01", "end": "2026-10-20"}),
        {1},
    ),
    ("spend above 100", bought("gt", 100, "sum"), {1, 5}),
    ("spend at most 40 includes non-buyers", bought("lte", 40, "sum"), {2, 3, 4, 6, 7, 8}),
    ("bought a category", bought(categories=["skincare"]), {1, 3, 5}),
    ("bought a brand", bought(brands=["Hue"]), {1, 2}),
    ("bought a product", bought(products=["p3"]), {1}),
    ("promo code ignores case", bought(promo_codes=["SPRING"]), {1, 5}),
    ("with any promo", bought(with_promo=True), {1, 3, 5}),
    ("without a promo", bought(with_promo=False), {1, 2}),
    ("in store", bought(channel="store"), {1, 2}),
    ("online twice", bought("gte", 2, channel="online"), {1}),
    ("discounted or clearance lines", bought(discounted=True), {1, 3}),
    ("returned a line", bought(returned=True), {3}),
    ("category spend", bought("gte", 100, "sum", categories=["skincare"]), {5}),
    ("last purchase within 7 days", bought("within_last", 7, "last"), {5}),
    ("first purchase before", bought("before", "2026-01-01", "first"), {2}),
    ("no last purchase", bought("is_not_set", None, "last"), {4, 6, 7, 8}),
    # Behaviour: users by user id, devices by anonymous id, unknown devices nowhere.
    ("added to cart", did("Product Added"), {1, 2, 6}),
    ("viewed three times", did("Product Viewed", "at_least", 3), {3}),
    ("viewed twice in 14 days", did("Product Viewed", "at_least", 2, window=last(14)), {3}),
    ("viewed thrice in 14 days", did("Product Viewed", "at_least", 3, window=last(14)), set()),
    ("viewed exactly once", did("Product Viewed", "exactly", 1), {4}),
    ("viewed at most once", did("Product Viewed", "at_most", 1), everyone_but(3)),
    ("never added", did("Product Added", "never"), {3, 4, 5, 7, 8}),
    ("exactly zero adds", did("Product Added", "exactly", 0), {3, 4, 5, 7, 8}),
    (
        "viewed a category",
        did("Product Viewed", where=[{"property": "category", "op": "eq", "value": "makeup"}]),
        {4},
    ),
    (
        "a JSON property, twice",
        did(
            "Product Viewed",
            "at_least",
            2,
            where=[{"property": "properties.color", "op": "eq", "value": "red"}],
        ),
        {3},
    ),
    (
        "a JSON property contains",
        did(
            "Products Searched",
            where=[{"property": "properties.query", "op": "contains", "value": "ser"}],
        ),
        {4},
    ),
    (
        "a typed number property",
        did("Product Added", where=[{"property": "price", "op": "gt", "value": 30}]),
        {1, 6},
    ),
    (
        "added to cart and no order since",
        {
            "type": "sequence",
            "did": {"event": "Product Added"},
            "not_after": {"event": "Order Completed"},
        },
        {2, 6},
    ),
    (
        "added in the last 2 days and no order since",
        {
            "type": "sequence",
            "did": {"event": "Product Added"},
            "not_after": {"event": "Order Completed"},
            "window": last(2),
        },
        {6},
    ),
    # E-mail engagement.
    ("opened", email("opened"), {1}),
    ("opened in 30 days", email("opened", window=last(30)), {1}),
    ("opened twice", email("opened", count_op="at_least", count=2), {1}),
    (
        "opened twice in 30 days",
        email("opened", count_op="at_least", count=2, window=last(30)),
        set(),
    ),
    ("received a campaign", email("received", campaign_id="c1"), {1, 2}),
    ("bounced", email("bounced"), {3}),
    ("unsubscribed", email("unsubscribed"), {5}),
    ("never opened", email("opened", count_op="never"), everyone_but(1)),
    # Other segments and buckets.
    ("in a segment", {"type": "segment", "segment_id": 7}, {1, 2}),
    ("not in a segment", {"type": "segment", "segment_id": 7, "op": "not_in"}, everyone_but(1, 2)),
    ("the whole bucket range", {"type": "bucket", "start": 0, "end": 100}, set(ALL)),
    # Groups.
    ("and", group("and", trait("country", "eq", "US"), bought()), {1, 2}),
    ("or", group("or", trait("country", "eq", "US"), bought()), {1, 2, 3, 4, 5}),
    ("not", {"type": "not", "child": trait("country", "eq", "US")}, {3, 5, 6, 7, 8}),
    ("an empty group is everyone", group("and"), set(ALL)),
    (
        "nested groups",
        group(
            "and",
            group("or", pred("lifecycle_stage", "eq", "loyal"), email("bounced")),
            {"type": "not", "child": {"type": "segment", "segment_id": 7}},
        ),
        {3},
    ),
]
