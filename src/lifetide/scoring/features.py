"""The per-customer feature table, as of a date, built in the warehouse with Ibis.

"As of D" means everything recorded before D + 1 day 00:00 UTC and nothing after: orders,
returns (by `returned_at`), events and records that came later are invisible, so a model
trained on features as of an earlier date and labels from the days after it is evaluated
honestly. One row per profile that existed by then (a record or an event before the end).
Durations are in days; the BG/NBD inputs (x, t_x, T) are in weeks, as the models are fit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from lifetide.warehouse.connection import Warehouse
from lifetide.warehouse.schema import DEVICE_KIND, PRICE_TIERS, RECORD_KINDS

ACTIVITY_WINDOWS = (7, 30, 90)
# (feature stem, event name) counted over each activity window.
ACTIVITY_EVENTS = (
    ("product_views", "Product Viewed"),
    ("cart_adds", "Product Added"),
    ("checkouts", "Checkout Started"),
    ("searches", "Products Searched"),
)
EMAIL_EVENTS = (
    ("emails_delivered", "Email Delivered"),
    ("emails_opened", "Email Opened"),
    ("emails_clicked", "Email Link Clicked"),
)
EMAIL_WINDOW_DAYS = 90
MAX_CATEGORIES = 24


@dataclass(frozen=True)
class AsOf:
    """The cut-off of a feature table: the day, and the exclusive instant after it."""

    day: dt.date

    @property
    def end(self) -> dt.datetime:
        """The first instant not seen: the day after `day` at 00:00 UTC."""
        return dt.datetime.combine(self.day + dt.timedelta(days=1), dt.time())

    def days_before(self, days: int) -> dt.datetime:
        """The instant `days` days before the end."""
        return self.end - dt.timedelta(days=days)


@dataclass(frozen=True)
class Bases:
    """The joined inputs every cut-off reads: purchases, their lines, mapped events, first seen.

    Each holds everything up to the latest date of a run; a cut-off filters its part. Built
    once per run (`materialize`), they spare each feature table the joins of profiles to
    orders, lines and tens of millions of events.
    """

    purchases: ir.Table
    lines: ir.Table
    events: ir.Table
    first_seen: ir.Table


def bases(warehouse: Warehouse, until: dt.date, earliest: dt.date | None = None) -> Bases:
    """The inputs of feature tables as of `earliest` to `until` (as expressions)."""
    end = AsOf(until).end
    longest = max((*ACTIVITY_WINDOWS, EMAIL_WINDOW_DAYS))
    bought = purchases(warehouse, None, end)
    items = warehouse.table("order_items")
    products = warehouse.table("products").select("product_id", "price_tier")
    lines = bought.select("order_id", "profile_id", "promo_code", "ordered_at", "day").inner_join(
        items, "order_id"
    )
    lines = lines.left_join(products, "product_id").drop("product_id_right")
    start = AsOf(earliest or until).days_before(longest)
    return Bases(bought, lines, _profile_events(warehouse, start, end), _first_seen(warehouse, end))


def materialize(warehouse: Warehouse, inputs: Bases) -> Bases:
    """The same inputs computed once into temporary warehouse tables."""
    backend = warehouse.backend
    tables = {}
    for name in ("purchases", "lines", "events", "first_seen"):
        tables[name] = backend.create_table(
            f"_lifetide_{name}", getattr(inputs, name), temp=True, overwrite=True
        )
    return Bases(**tables)


def slug(name: str) -> str:
    """A column-name-safe form of a category: lower case, runs of other characters to `_`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "blank"


def categories(warehouse: Warehouse, limit: int = MAX_CATEGORIES) -> list[str]:
    """The catalog's categories by units sold (then name), at most `limit` of them."""
    items = warehouse.table("order_items")
    sold = items.group_by("category").agg(units=items.quantity.sum())
    products = warehouse.table("products").select("category").distinct()
    ranked = (
        products.left_join(sold, "category")
        .select(category=products.category, units=sold.units.fill_null(0))
        .order_by([ibis.desc("units"), "category"])
        .limit(limit)
    )
    return [str(c) for c in ranked.to_pyarrow().column("category").to_pylist()]


def _record_profiles(warehouse: Warehouse) -> ir.Table:
    keys = warehouse.table("profile_keys")
    return keys.filter(keys.kind.isin(RECORD_KINDS)).select(
        customer_id=keys.value, profile_id=keys.profile_id
    )


def _device_profiles(warehouse: Warehouse) -> ir.Table:
    keys = warehouse.table("profile_keys")
    return keys.filter(keys.kind == DEVICE_KIND).select(
        anonymous_id=keys.value, device_profile_id=keys.profile_id
    )


def purchases(warehouse: Warehouse, start: dt.datetime | None, end: dt.datetime) -> ir.Table:
    """Purchase orders (not cancelled) placed in [start, end) with the profile that placed them."""
    orders = warehouse.table("orders")
    kept = orders.filter(orders.status != "cancelled", orders.ordered_at < end)
    if start is not None:
        kept = kept.filter(kept.ordered_at >= start)
    records = _record_profiles(warehouse)
    return kept.inner_join(records, "customer_id").select(
        "order_id",
        "profile_id",
        "ordered_at",
        "channel",
        "promo_code",
        "status",
        day=kept.ordered_at.date(),
        # What the customer paid for goods: the basis of spend models (shipping and tax are
        # not the retailer's revenue).
        # A discount above the subtotal (bad data) is a free order, not negative spend.
        net=ibis.greatest((kept.subtotal - kept.discount).cast("float64"), 0.0),
    )


def _order_features(bought: ir.Table, as_of: AsOf) -> ir.Table:
    end_day = ibis.date(as_of.day + dt.timedelta(days=1))
    per_day = bought.group_by(["profile_id", "day"]).agg(day_net=bought.net.sum())
    # First-day spend is left out of the average: Gamma-Gamma models repeat transactions.
    first = per_day.group_by("profile_id").agg(
        first_day=per_day.day.min(),
        last_day=per_day.day.max(),
        purchase_days=per_day.count(),
        days_net=per_day.day_net.sum(),
    )
    first_value = per_day.inner_join(first, "profile_id").filter(lambda t: t.day == t.first_day)
    first_value = first_value.select("profile_id", first_net=first_value.day_net)
    days = first.inner_join(first_value, "profile_id")
    repeat = days.purchase_days - 1
    days = days.select(
        "profile_id",
        x=repeat.cast("float64"),
        t_x=days.first_day.delta(days.last_day, unit="day").abs().cast("float64") / 7.0,
        T=days.first_day.delta(end_day, unit="day").abs().cast("float64") / 7.0,
        monetary=ibis.ifelse(
            repeat > 0, (days.days_net - days.first_net) / repeat.cast("float64"), 0.0
        ),
    )
    by_order = bought.group_by("profile_id").agg(
        orders=bought.count(),
        first_order_at=bought.ordered_at.min(),
        last_order_at=bought.ordered_at.max(),
        net_spend=bought.net.sum(),
        orders_online=(bought.channel == "online").sum(),
        orders_store=(bought.channel == "store").sum(),
        spend_online=ibis.ifelse(bought.channel == "online", bought.net, 0.0).sum(),
        spend_store=ibis.ifelse(bought.channel == "store", bought.net, 0.0).sum(),
        orders_with_promo=bought.promo_code.notnull().sum(),
        promo_codes_used=bought.promo_code.nunique(),
        spend_365d=ibis.ifelse(bought.ordered_at >= as_of.days_before(365), bought.net, 0.0).sum(),
        orders_365d=(bought.ordered_at >= as_of.days_before(365)).sum(),
    )
    return by_order.inner_join(days, "profile_id")


def _item_features(all_lines: ir.Table, as_of: AsOf, cats: list[str]) -> ir.Table:
    lines = all_lines.filter(all_lines.ordered_at < as_of.end)
    units = lines.quantity.cast("float64")
    # A return is known only once it happened: later returns are the future.
    returned = lines.returned & lines.returned_at.notnull() & (lines.returned_at < as_of.end)
    line_value = lines.unit_price.cast("float64") * units - lines.discount.cast("float64")
    metrics: dict[str, ir.Value] = {
        "units": units.sum(),
        "units_discounted": ibis.ifelse(
            (lines.discount > 0) | lines.promo_code.notnull() | lines.clearance, units, 0.0
        ).sum(),
        "units_clearance": ibis.ifelse(lines.clearance, units, 0.0).sum(),
        "units_returned": ibis.ifelse(returned, units, 0.0).sum(),
        "items_spend": line_value.sum(),
        "item_orders": lines.order_id.nunique(),
        "distinct_products": lines.product_id.nunique(),
        "distinct_brands": lines.brand.nunique(),
        "distinct_categories": lines.category.nunique(),
    }
    for tier in PRICE_TIERS:
        metrics[f"units_{tier}"] = ibis.ifelse(lines.price_tier == tier, units, 0.0).sum()
    for category in cats:
        metrics[f"spend_{slug(category)}"] = ibis.ifelse(
            lines.category == category, line_value, 0.0
        ).sum()
    per_profile = lines.group_by("profile_id").agg(**metrics)
    by_brand = lines.group_by(["profile_id", "brand"]).agg(brand_spend=line_value.sum())
    top_brand = by_brand.group_by("profile_id").agg(top_brand_spend=by_brand.brand_spend.max())
    return _left_join(per_profile, top_brand, "profile_id")


def _profile_events(warehouse: Warehouse, start: dt.datetime, end: dt.datetime) -> ir.Table:
    """Events in [start, end) with their profile: the user's, else the device's."""
    events = warehouse.table("events")
    kept = events.filter(events.timestamp >= start, events.timestamp < end)
    kept = kept.select("event", "timestamp", "user_id", "anonymous_id")
    records = _record_profiles(warehouse)
    with_user = kept.left_join(records, kept.user_id == records.customer_id)
    with_device = with_user.left_join(_device_profiles(warehouse), "anonymous_id")
    mapped = with_device.select(
        "event",
        "timestamp",
        profile_id=ibis.coalesce(with_device.profile_id, with_device.device_profile_id),
    )
    return mapped.filter(mapped.profile_id.notnull())


def _event_features(all_events: ir.Table, as_of: AsOf) -> ir.Table:
    longest = max((*ACTIVITY_WINDOWS, EMAIL_WINDOW_DAYS))
    events = all_events.filter(
        all_events.timestamp >= as_of.days_before(longest), all_events.timestamp < as_of.end
    )
    metrics: dict[str, ir.Value] = {"last_seen_at": events.timestamp.max()}
    for stem, name in ACTIVITY_EVENTS:
        for days in ACTIVITY_WINDOWS:
            hit = (events.event == name) & (events.timestamp >= as_of.days_before(days))
            metrics[f"{stem}_{days}d"] = hit.sum()
    for days in ACTIVITY_WINDOWS:
        metrics[f"events_{days}d"] = (events.timestamp >= as_of.days_before(days)).sum()
    for stem, name in EMAIL_EVENTS:
        hit = (events.event == name) & (events.timestamp >= as_of.days_before(EMAIL_WINDOW_DAYS))
        metrics[f"{stem}_{EMAIL_WINDOW_DAYS}d"] = hit.sum()
    return events.group_by("profile_id").agg(**metrics)


def _first_seen(warehouse: Warehouse, end: dt.datetime) -> ir.Table:
    """When each profile first appeared before `end`: its first record, order or event.

    The earliest instant is the same whatever the cut-off, so one table serves all: a
    profile existed by a cut-off exactly when this instant precedes it.
    """
    records = _record_profiles(warehouse)
    customers = warehouse.table("customers")
    created = customers.filter(customers.created_at < end).inner_join(records, "customer_id")
    created = created.group_by("profile_id").agg(seen=created.created_at.min())
    events = warehouse.table("events")
    early = events.filter(events.timestamp < end)
    devices = early.group_by("anonymous_id").agg(seen=early.timestamp.min())
    by_device = devices.inner_join(_device_profiles(warehouse), "anonymous_id")
    by_device = by_device.select(profile_id=by_device.device_profile_id, seen=by_device.seen)
    bought = purchases(warehouse, None, end)
    by_order = bought.group_by("profile_id").agg(seen=bought.ordered_at.min())
    union = ibis.union(created, by_device, by_order)
    return union.group_by("profile_id").agg(first_seen_at=union.seen.min())


def customer_features(
    warehouse: Warehouse, as_of: dt.date, cats: list[str], inputs: Bases | None = None
) -> ir.Table:
    """One row per profile that existed by the end of `as_of`, with every feature.

    `inputs` (from `bases`, covering `as_of`) may be shared between cut-offs.
    """
    cut = AsOf(as_of)
    source = inputs or bases(warehouse, as_of)
    end_day = ibis.date(cut.day + dt.timedelta(days=1))
    profiles = warehouse.table("profiles")
    seen = source.first_seen.filter(source.first_seen.first_seen_at < cut.end)
    base = profiles.inner_join(seen, "profile_id")
    bought = source.purchases.filter(source.purchases.ordered_at < cut.end)
    orders = _order_features(bought, cut)
    items = _item_features(source.lines, cut, cats)
    events = _event_features(source.events, cut)
    joined = _left_join(base, orders, "profile_id")
    joined = _left_join(joined, items, "profile_id")
    joined = _left_join(joined, events, "profile_id")
    counts = [c for c, t in joined.schema().items() if t.is_numeric() and c != "profile_id"]
    # Features with no activity are zero, not missing; who never bought is told by orders == 0.
    filled = joined.mutate(**{c: joined[c].fill_null(0) for c in counts})
    ratio = _ratio
    units = filled.units
    return filled.mutate(
        tenure_days=filled.first_seen_at.date().delta(end_day, unit="day").abs(),
        recency_days=ibis.ifelse(
            filled.orders > 0,
            filled.last_order_at.date().delta(end_day, unit="day").abs() - 1,
            ibis.null("int64"),
        ),
        days_since_seen=ibis.ifelse(
            filled.last_seen_at.notnull(),
            filled.last_seen_at.date().delta(end_day, unit="day").abs() - 1,
            ibis.null("int64"),
        ),
        average_order_value=ratio(filled.net_spend, filled.orders),
        online_share=ratio(filled.orders_online, filled.orders),
        promo_order_share=ratio(filled.orders_with_promo, filled.orders),
        discounted_share=ratio(filled.units_discounted, units),
        clearance_share=ratio(filled.units_clearance, units),
        return_rate=ratio(filled.units_returned, units),
        top_brand_share=ratio(filled.top_brand_spend, filled.items_spend),
        email_open_rate_90d=ratio(filled.emails_opened_90d, filled.emails_delivered_90d),
        email_click_rate_90d=ratio(filled.emails_clicked_90d, filled.emails_delivered_90d),
        **{f"share_{tier}": ratio(filled[f"units_{tier}"], units) for tier in PRICE_TIERS},
        **{f"share_{slug(c)}": ratio(filled[f"spend_{slug(c)}"], filled.items_spend) for c in cats},
    )


def _left_join(left: ir.Table, right: ir.Table, key: str) -> ir.Table:
    """Left join on one shared key column, keeping the key once."""
    return left.left_join(right, key).drop(f"{key}_right")


def _ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.NumericValue:
    """Numerator / denominator, 0 where the denominator is 0 (nothing to share out)."""
    return ibis.ifelse(
        denominator > 0, numerator.cast("float64") / denominator.cast("float64"), 0.0
    )


def labels(
    warehouse: Warehouse, as_of: dt.date, days: int, inputs: Bases | None = None
) -> ir.Table:
    """What each profile did in the `days` after `as_of`: the targets of a time split."""
    cut = AsOf(as_of)
    until = cut.end + dt.timedelta(days=days)
    source = inputs or bases(warehouse, as_of + dt.timedelta(days=days))
    bought = source.purchases
    later = bought.filter(bought.ordered_at >= cut.end, bought.ordered_at < until)
    lines = source.lines
    returned = lines.filter(lines.ordered_at >= cut.end, lines.ordered_at < until)
    returns = returned.group_by("profile_id").agg(
        returned_items=returned.returned.cast("int64").sum()
    )
    spend = later.group_by("profile_id").agg(
        future_orders=later.count(),
        future_purchase_days=later.day.nunique(),
        future_spend=later.net.sum(),
    )
    return _left_join(spend, returns, "profile_id")
