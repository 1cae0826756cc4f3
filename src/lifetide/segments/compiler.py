"""A segment definition to one Ibis expression: the profiles it matches.

The whole tree becomes one filter over `profiles`: traits are predicates on its columns, every
other condition a semi-join (`profile_id IN (...)`) against a subquery that filters first and
maps to profiles second, so the engine prunes the big tables before joining. NOT, AND and OR
are the boolean operators on these predicates; each predicate is made two-valued (unknown is
false) so NOT is the complement, as a marketer reads it. Values are Ibis literals, never text
spliced into SQL. Pure: it builds expressions and runs nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir

from lifetide.clock import naive_utc
from lifetide.segments.fields import PROFILE_FIELDS, FieldType, field_type
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
from lifetide.segments.tables import Tables
from lifetide.segments.values import holds, property_ref, typed
from lifetide.warehouse.schema import DEVICE_KIND, RECORD_KINDS

# Prediction columns joined onto profiles are prefixed so they cannot collide with traits.
PREDICTION_PREFIX = "prediction__"

ENGAGEMENT_EVENTS = {
    "received": "Email Delivered",
    "opened": "Email Opened",
    "clicked": "Email Link Clicked",
    "bounced": "Email Bounced",
    "unsubscribed": "Unsubscribed",
}
PROFILE_TYPES: dict[str, FieldType] = {f.key: f.type for f in PROFILE_FIELDS}

# Knuth's multiplicative hash spreads consecutive ids evenly; the xor-shift and second multiply
# (below 2^31, so products fit in int64) make splits with different salts independent.
_KNUTH = 2_654_435_761
_MIX = 739_982_445
_TWO_32 = 2**32
_TWO_31 = 2**31
BUCKETS = 10_000


class CompileError(ValueError):
    """A definition the compiler cannot turn into a query (validation should catch these)."""


def members(rule: Rule, tables: Tables, now: dt.datetime) -> ir.Table:
    """The profiles `rule` matches at `now`: one column, `profile_id`, each profile once."""
    base = tables.profiles
    if tables.predictions is not None and uses_predictions(rule):
        # Predictions are one row per profile: one left join makes every prediction condition
        # a plain column test, three times faster than a semi-join per condition.
        scored = tables.predictions.rename(f"{PREDICTION_PREFIX}{{name}}")
        joined = base.left_join(scored, base.profile_id == scored[f"{PREDICTION_PREFIX}profile_id"])
        base = joined.select(*base.columns, *scored.columns)
    compiler = Compiler(tables, now, base)
    return base.filter(compiler.predicate(rule)).select("profile_id")


def uses_predictions(rule: Rule) -> bool:
    """Whether any node of `rule` tests a prediction."""
    if isinstance(rule, PredictionCondition):
        return True
    if isinstance(rule, Group):
        return any(uses_predictions(child) for child in rule.children)
    if isinstance(rule, Not):
        return uses_predictions(rule.child)
    return False


def bucket_of(profile_id: int, salt: str) -> float:
    """The percentage bucket (0 to under 100) of a profile, as the compiled query computes it."""
    h = ((profile_id + salt_number(salt)) % _TWO_31 * _KNUTH) % _TWO_32
    h ^= h >> 15
    h = (h * _MIX) % _TWO_32
    h ^= h >> 12
    return h * BUCKETS // _TWO_32 / 100


def salt_number(salt: str) -> int:
    """A stable number from a bucket's salt (the same on every machine and backend)."""
    return int.from_bytes(hashlib.sha256(salt.encode()).digest()[:4], "big") % (2**20)


class Compiler:
    """Builds the predicate of each node over `tables.profiles`."""

    def __init__(self, tables: Tables, now: dt.datetime, base: ir.Table | None = None) -> None:
        self.tables = tables
        # Profiles, with the predictions joined on (prefixed) when a condition needs them.
        self.base = tables.profiles if base is None else base
        # The warehouse stores naive UTC.
        self.now = naive_utc(now)
        self._pid = self.base.profile_id

    def predicate(self, node: Rule) -> ir.BooleanValue:
        """The boolean column that is true exactly for the profiles `node` matches."""
        handler: Callable[[Any], ir.BooleanValue] = getattr(self, f"_{node.type}")
        return handler(node)

    # Groups.
    def _group(self, node: Group) -> ir.BooleanValue:
        parts = [self.predicate(child) for child in node.children]
        if not parts:
            return ibis.literal(True)
        result = parts[0]
        for part in parts[1:]:
            result = (result & part) if node.op == "and" else (result | part)
        return result

    def _not(self, node: Not) -> ir.BooleanValue:
        return ~self.predicate(node.child)

    # Profile traits and predictions.
    def _trait(self, node: TraitCondition) -> ir.BooleanValue:
        kind = PROFILE_TYPES.get(node.field)
        if kind is None:
            raise CompileError(f"unknown profile field {node.field!r}")
        column = self.base[node.field]
        return _compare(column, kind, node.op, typed(kind, node.op, node.value), self.now)

    def _prediction(self, node: PredictionCondition) -> ir.BooleanValue:
        predictions = self.tables.predictions
        column_name = f"{PREDICTION_PREFIX}{node.field}"
        if predictions is None or column_name not in self.base.columns:
            raise CompileError(f"no prediction {node.field!r}: run `lifetide score` first")
        kind = field_type(str(predictions.schema()[node.field]))
        value = typed(kind, node.op, node.value)
        # Profiles without a predictions row (not scored yet) read as unknown.
        return _compare(self.base[column_name], kind, node.op, value, self.now)

    # Purchases.
    def _purchase(self, node: PurchaseCondition) -> ir.BooleanValue:
        bought = self._purchases(node.filters, node.window)
        grouped = bought.group_by("profile_id")
        if node.measure in ("first", "last"):
            moment = bought.ordered_at.min() if node.measure == "first" else bought.ordered_at.max()
            per = grouped.agg(at=moment)
            if node.op == "is_set":
                return self._pid.isin(per.profile_id)
            if node.op == "is_not_set":
                return ~self._pid.isin(per.profile_id)
            value = typed("timestamp", node.op, node.value)
            return self._pid.isin(
                per.filter(_compare(per.at, "timestamp", node.op, value, self.now)).profile_id
            )
        if node.measure == "count":
            amount = bought.order_id.nunique() if node.filters.on_lines else bought.count()
        else:
            amount = bought.net.sum()
        per = grouped.agg(amount=amount.cast("float64"))
        value = typed("number", node.op, node.value)
        return self._counted_by(per, node.op, value)

    def _counted_by(self, per: ir.Table, op: str, value: Any) -> ir.BooleanValue:
        """Profiles whose `amount` passes; those with no row have an amount of zero."""
        if op in ("is_set", "is_not_set"):
            has = self._pid.isin(per.profile_id)
            return has if op == "is_set" else ~has
        passes = _compare(per.amount, "number", op, value, self.now)
        if holds(op, value, 0.0):
            # Zero passes, so everyone without a row is in: exclude only those who fail.
            return ~self._pid.isin(per.filter(~passes).profile_id)
        return self._pid.isin(per.filter(passes).profile_id)

    def _purchases(self, filters: PurchaseFilters, window: Window) -> ir.Table:
        orders = self.tables.orders
        kept = orders.filter(orders.status != "cancelled")
        kept = kept.filter(*_window(kept.ordered_at, window, self.now))
        if filters.channel is not None:
            kept = kept.filter(kept.channel == filters.channel)
        if filters.with_promo is not None:
            has_promo = kept.promo_code.notnull() & (kept.promo_code != "")
            kept = kept.filter(has_promo if filters.with_promo else ~has_promo)
        if filters.promo_codes:
            codes = [c.upper() for c in filters.promo_codes]
            kept = kept.filter(kept.promo_code.upper().isin(codes))
        records = self._records()
        owned = kept.inner_join(records, kept.customer_id == records.record_id)
        if not filters.on_lines:
            return owned.select(
                "order_id",
                "ordered_at",
                profile_id=records.record_profile,
                # A discount above the subtotal (bad data) is a free order, not negative spend.
                net=ibis.greatest((kept.subtotal - kept.discount).cast("float64"), 0.0),
            )
        items = self.tables.order_items
        lines = items.filter(*_line_filters(items, filters))
        lines = lines.select(
            "order_id",
            value=(lines.unit_price * lines.quantity - lines.discount).cast("float64"),
        )
        ordered = owned.select("order_id", "ordered_at", profile_id=records.record_profile)
        joined = ordered.inner_join(lines, "order_id")
        return joined.select("order_id", "ordered_at", "profile_id", net=joined.value)

    # Behaviour and engagement.
    def _event(self, node: EventCondition) -> ir.BooleanValue:
        hits = self._hits(EventSpec(event=node.event, where=node.where), node.window)
        return self._counted(hits, node.count_op, node.count)

    def _engagement(self, node: EngagementCondition) -> ir.BooleanValue:
        events = self.tables.events
        kept = events.filter(events.event == ENGAGEMENT_EVENTS[node.action])
        if node.campaign_id:
            kept = kept.filter(kept.campaign_id == node.campaign_id)
        kept = kept.filter(*_window(kept.timestamp, node.window, self.now))
        return self._counted(self._event_profiles(kept), node.count_op, node.count)

    def _sequence(self, node: SequenceCondition) -> ir.BooleanValue:
        # "No B later than the latest A": two aggregates and a comparison, not an anti-join
        # on a range (15x slower on DuckDB, see DESIGN.md).
        did = self._hits(node.did, node.window)
        last_did = did.group_by("profile_id").agg(last_did=did.timestamp.max())
        start = _window_start(node.window, self.now)
        after = self._hits(node.not_after, Window(), start=start)
        last_after = after.group_by("profile_id").agg(last_after=after.timestamp.max())
        joined = last_did.left_join(last_after, "profile_id")
        pending = joined.filter(
            joined.last_after.isnull() | (joined.last_after < joined.last_did)
        ).select(profile_id=joined.profile_id)
        return self._pid.isin(pending.profile_id)

    def _hits(self, spec: EventSpec, window: Window, start: dt.datetime | None = None) -> ir.Table:
        events = self.tables.events
        kept = events.filter(events.event == spec.event)
        kept = kept.filter(*_window(kept.timestamp, window, self.now))
        if start is not None:
            kept = kept.filter(kept.timestamp >= start)
        for condition in spec.where:
            kept = kept.filter(_property(kept, condition, self.now))
        return self._event_profiles(kept)

    def _counted(self, hits: ir.Table, count_op: str, n: int) -> ir.BooleanValue:
        if count_op == "never" or (count_op == "exactly" and n == 0):
            return ~self._pid.isin(hits.profile_id)
        if count_op == "at_least" and n <= 1:
            return self._pid.isin(hits.profile_id) if n == 1 else ibis.literal(True)
        per = hits.group_by("profile_id").agg(times=hits.count())
        if count_op == "at_least":
            return self._pid.isin(per.filter(per.times >= n).profile_id)
        if count_op == "at_most":
            return ~self._pid.isin(per.filter(per.times > n).profile_id)
        return self._pid.isin(per.filter(per.times == n).profile_id)

    # Segments and buckets.
    def _segment(self, node: SegmentCondition) -> ir.BooleanValue:
        rows = self.tables.members
        inside = self._pid.isin(rows.filter(rows.segment_id == node.segment_id).profile_id)
        return inside if node.op == "in" else ~inside

    def _bucket(self, node: BucketCondition) -> ir.BooleanValue:
        # The same steps as bucket_of, in integer arithmetic every backend does alike; each
        # product stays below 2^63.
        h = (((self._pid + salt_number(node.salt)) % _TWO_31) * _KNUTH) % _TWO_32
        h = h ^ (h >> 15)
        h = (h * _MIX) % _TWO_32
        h = h ^ (h >> 12)
        bucket = h * BUCKETS // _TWO_32
        low, high = round(node.start * 100), round(node.end * 100)
        return (bucket >= low) & (bucket < high)

    # Mapping records and devices to profiles.
    def _records(self) -> ir.Table:
        keys = self.tables.profile_keys
        return keys.filter(keys.kind.isin(RECORD_KINDS)).select(
            record_id=keys.value, record_profile=keys.profile_id
        )

    def _event_profiles(self, events: ir.Table) -> ir.Table:
        """Events with their profile: the signed-in user's, else the device's."""
        keys = self.tables.profile_keys
        records = self._records()
        devices = keys.filter(keys.kind == DEVICE_KIND).select(
            device_id=keys.value, device_profile=keys.profile_id
        )
        kept = events.select("timestamp", "user_id", "anonymous_id")
        joined = kept.left_join(records, kept.user_id == records.record_id).left_join(
            devices, kept.anonymous_id == devices.device_id
        )
        mapped = joined.select(
            "timestamp",
            profile_id=ibis.coalesce(joined.record_profile, joined.device_profile),
        )
        return mapped.filter(mapped.profile_id.notnull())


def _window_start(window: Window, now: dt.datetime) -> dt.datetime | None:
    if window.kind == "last_days" and window.days is not None:
        return now - dt.timedelta(days=window.days)
    if window.kind == "between" and window.start is not None:
        return dt.datetime.combine(window.start, dt.time())
    return None


def _window(column: ir.TimestampValue, window: Window, now: dt.datetime) -> list[ir.BooleanValue]:
    """Filters keeping moments inside `window` (never after `now`)."""
    if window.kind == "ever":
        return [column <= now]
    if window.kind == "last_days" and window.days is not None:
        return [column >= now - dt.timedelta(days=window.days), column <= now]
    assert window.start is not None and window.end is not None
    start = dt.datetime.combine(window.start, dt.time())
    end = dt.datetime.combine(window.end + dt.timedelta(days=1), dt.time())
    return [column >= start, column < end, column <= now]


def _line_filters(items: ir.Table, filters: PurchaseFilters) -> list[ir.BooleanValue]:
    out: list[ir.BooleanValue] = []
    if filters.categories:
        out.append(items.category.isin(filters.categories))
    if filters.brands:
        out.append(items.brand.isin(filters.brands))
    if filters.products:
        out.append(items.product_id.isin(filters.products))
    if filters.discounted is not None:
        discounted = (items.discount > 0) | items.clearance
        out.append(discounted if filters.discounted else ~discounted)
    if filters.returned is not None:
        out.append(items.returned == filters.returned)
    return out


def _property(events: ir.Table, condition: PropertyFilter, now: dt.datetime) -> ir.BooleanValue:
    ref = property_ref(condition.property, condition.value)
    value = typed(ref.type, condition.op, condition.value)
    if ref.column is not None:
        column = events[ref.column]
    else:
        raw = events.properties[ref.json_key]
        column = raw.float if ref.type == "number" else raw.str
    return _compare(column, ref.type, condition.op, value, now)


def _compare(
    column: Any, kind: FieldType, op: str, value: Any, now: dt.datetime
) -> ir.BooleanValue:
    """`column op value` as a two-valued predicate: unknown values do not match."""
    if op == "is_set":
        known = column.notnull()
        return known & (column.length() > 0) if kind == "list" else known
    if op == "is_not_set":
        unknown = column.isnull()
        return unknown | (column.length() == 0) if kind == "list" else unknown
    if kind == "string":
        result = _string(column, op, value)
    elif kind == "number":
        result = _number(column.cast("float64"), op, value)
    elif kind == "boolean":
        result = column == (op == "is_true")
    elif kind in ("date", "timestamp"):
        result = _moment(column, kind, op, value, now)
    else:
        hit = ibis.or_(*(column.contains(v) for v in value))
        if op == "contains":
            return hit.fill_null(False)
        # "Does not contain" needs a known list, as "is not" needs a known value.
        return column.notnull() & ~hit.fill_null(False)
    return result.fill_null(False)


def _string(column: Any, op: str, value: Any) -> ir.BooleanValue:
    # Text matches ignore case: "us" finds "US", as a marketer expects.
    text = column.lower()
    if op in ("in", "not_in"):
        hit = text.isin([str(v).lower() for v in value])
        return hit if op == "in" else ~hit
    wanted = str(value).lower()
    if op == "eq":
        return text == wanted
    if op == "ne":
        return text != wanted
    if op == "contains":
        return text.contains(wanted)
    if op == "starts_with":
        return text.startswith(wanted)
    raise CompileError(f"operator {op!r} does not apply to text")


def _number(column: Any, op: str, value: Any) -> ir.BooleanValue:
    if op == "between":
        return column.between(value[0], value[1])
    comparisons: dict[str, Callable[[Any, Any], ir.BooleanValue]] = {
        "eq": lambda c, v: c == v,
        "ne": lambda c, v: c != v,
        "gt": lambda c, v: c > v,
        "gte": lambda c, v: c >= v,
        "lt": lambda c, v: c < v,
        "lte": lambda c, v: c <= v,
    }
    if op not in comparisons:
        raise CompileError(f"operator {op!r} does not apply to numbers")
    return comparisons[op](column, value)


def _moment(column: Any, kind: FieldType, op: str, value: Any, now: dt.datetime) -> ir.BooleanValue:
    def at(day: dt.date) -> Any:
        if kind == "date":
            return ibis.date(day)
        return ibis.timestamp(dt.datetime.combine(day, dt.time()))

    if op in ("within_last", "not_within_last"):
        start = now - dt.timedelta(days=int(value))
        bound = ibis.date(start.date()) if kind == "date" else ibis.timestamp(start)
        inside = (column >= bound) & (column <= (ibis.date(now.date()) if kind == "date" else now))
        return inside if op == "within_last" else column < bound
    if op == "before":
        return column < at(value)
    if op == "after":
        return column >= at(value + dt.timedelta(days=1))
    if op == "between":
        return (column >= at(value[0])) & (column < at(value[1] + dt.timedelta(days=1)))
    raise CompileError(f"operator {op!r} does not apply to dates")
