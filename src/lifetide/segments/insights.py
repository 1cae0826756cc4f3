"""What a segment's members are like: size, spend, predictions, mix and overlap.

Everything comes from one warehouse query: a union of small grouped parts (orders by member
flag, channel and promo code; member order lines by category and brand; lifecycle stages;
counts), which Python then ranks and divides. The purchases are read once, so the Studio's
insight panel answers in about a second on a million profiles and millions of orders.

Purchases are orders not cancelled, attributed to profiles through their record ids
(`profile_keys` of kind `user_id` or `crm_id`), as the feature table does; spend is spend on
goods (subtotal minus discount, never below zero; lines: unit price times quantity minus the
line discount), not shipping or tax.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from lifetide.clock import naive_utc
from lifetide.segments.tables import Tables
from lifetide.warehouse.schema import RECORD_KINDS

WINDOW_DAYS = 365
TOP = 8
# Members without a predictions row (not scored yet, or created since the last run).
UNSCORED = "unscored"


@dataclass(frozen=True)
class Share:
    """One key of a breakdown: how many, and what share of the whole that is."""

    key: str
    count: int
    share: float


@dataclass(frozen=True)
class Ranked:
    """A category or brand the members bought: their spend on it, its share, the units."""

    key: str
    spend: float
    share: float
    units: int


@dataclass(frozen=True)
class PromoUsage:
    """How much members' orders rely on promo codes; the codes they use most, by orders."""

    orders_with_promo: int
    share: float
    top_codes: tuple[Share, ...]


@dataclass(frozen=True)
class Overlap:
    """How this segment's members and another segment's overlap."""

    both: int
    only_this: int
    only_other: int
    jaccard: float


@dataclass(frozen=True)
class Insights:
    """A segment's insight panel: every figure the Studio shows about its members."""

    size: int
    profiles: int
    share_of_profiles: float
    window_start: dt.datetime
    window_end: dt.datetime
    orders_12m: int
    revenue_12m: float
    revenue_all_12m: float
    revenue_share: float
    average_clv: float | None
    total_clv: float | None
    lifecycle: tuple[Share, ...]
    top_categories: tuple[Ranked, ...]
    top_brands: tuple[Ranked, ...]
    channels: tuple[Share, ...]
    promo: PromoUsage
    overlap: Overlap | None

    def to_json(self) -> dict[str, Any]:
        """The insights as plain JSON types (times as ISO 8601 text, UTC)."""
        data = asdict(self)
        data["window_start"] = self.window_start.isoformat()
        data["window_end"] = self.window_end.isoformat()
        return data


def insights(
    tables: Tables, members: ir.Table, now: dt.datetime, compare: ir.Table | None = None
) -> Insights:
    """The insights of the profiles in `members` (a `profile_id` column) as of `now`.

    The 12-month figures cover orders placed in the 365 days before `now`; the revenue share
    divides the members' spend by the spend of every profile in that window. The average and
    total predicted CLV are over members with a `clv_12m` (both None without predictions);
    `compare`, another set of profile ids, adds the overlap of the two.
    """
    end = naive_utc(now)
    start = end - dt.timedelta(days=WINDOW_DAYS)
    rows = _parts(tables, members, compare, start, end).to_pyarrow().to_pylist()
    return _assemble(rows, start, end, has_clv=_clv(tables) is not None)


def _clv(tables: Tables) -> ir.Table | None:
    predictions = tables.predictions
    if predictions is None or "clv_12m" not in predictions.columns:
        return None
    return predictions


def _shaped(
    table: ir.Table,
    name: str,
    *,
    member: str | None = None,
    a: str | None = None,
    b: str | None = None,
    amount: str | None = None,
) -> ir.Table:
    """An aggregate (with a `count` column) in the one schema every part of the union has."""

    def text(column: str | None) -> ir.Value:
        return ibis.literal(None, "string") if column is None else table[column].cast("string")

    return table.select(
        part=ibis.literal(name),
        member=ibis.literal(True) if member is None else table[member],
        a=text(a),
        b=text(b),
        count=table["count"].cast("int64"),
        amount=(ibis.literal(None, "float64") if amount is None else table[amount]).cast("float64"),
    )


def _parts(
    tables: Tables,
    members: ir.Table,
    compare: ir.Table | None,
    start: dt.datetime,
    end: dt.datetime,
) -> ir.Table:
    """One query: every grouped figure the insights are assembled from."""
    ids = members.select("profile_id").distinct()
    orders = tables.orders
    kept = orders.filter(
        orders.status != "cancelled", orders.ordered_at >= start, orders.ordered_at < end
    )
    keys = tables.profile_keys
    records = keys.filter(keys.kind.isin(RECORD_KINDS)).select(
        customer_id=keys.value, profile_id=keys.profile_id
    )
    bought = kept.inner_join(records, "customer_id")
    joined = bought.left_join(ids.mutate(member=ibis.literal(True)), "profile_id")
    net = joined.subtotal - joined.discount
    flagged = joined.select(
        "order_id",
        "channel",
        "promo_code",
        member=joined.member.fill_null(False),
        # A discount above the subtotal (bad data) is a free order, not negative spend.
        net=ibis.ifelse(net > 0, net, 0),
    )
    by_order = flagged.group_by(["member", "channel", "promo_code"]).aggregate(
        count=flagged.count(), amount=flagged.net.sum()
    )
    mine = flagged.filter(flagged.member).select("order_id")
    lines = mine.inner_join(tables.order_items, "order_id")
    value = lines.unit_price * lines.quantity - lines.discount
    by_line = lines.group_by(["category", "brand"]).aggregate(
        count=lines.quantity.sum(), amount=value.sum()
    )
    profiles = tables.profiles
    parts = [
        _shaped(by_order, "orders", member="member", a="channel", b="promo_code", amount="amount"),
        _shaped(by_line, "lines", a="category", b="brand", amount="amount"),
        _shaped(ids.aggregate(count=ids.count()), "size"),
        _shaped(profiles.aggregate(count=profiles.count()), "profiles"),
    ]
    predictions = tables.predictions
    if predictions is not None and "lifecycle_stage" in predictions.columns:
        staged = ids.left_join(predictions.select("profile_id", "lifecycle_stage"), "profile_id")
        stages = staged.select(stage=staged.lifecycle_stage.fill_null(UNSCORED))
        by_stage = stages.group_by("stage").aggregate(count=stages.count())
        parts.append(_shaped(by_stage, "lifecycle", a="stage"))
    clv = _clv(tables)
    if clv is not None:
        scored = clv.filter(clv.profile_id.isin(ids.profile_id))
        total = scored.aggregate(count=scored.clv_12m.count(), amount=scored.clv_12m.sum())
        parts.append(_shaped(total, "clv", amount="amount"))
    if compare is not None:
        other = compare.select("profile_id").distinct()
        shared = ids.filter(ids.profile_id.isin(other.profile_id))
        parts.append(_shaped(other.aggregate(count=other.count()), "other"))
        parts.append(_shaped(shared.aggregate(count=shared.count()), "both"))
    return ibis.union(*parts)


def _money(value: float | None) -> float:
    return round(value, 2) if value is not None else 0.0


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _top(totals: dict[str, tuple[int, float]], whole: float) -> tuple[Ranked, ...]:
    """The largest keys by spend (ties by name), at most TOP of them."""
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1][1], kv[0]))[:TOP]
    return tuple(
        Ranked(key, _money(spend), _ratio(spend, whole), units) for key, (units, spend) in ordered
    )


def _shares(counts: Counter[str], whole: int, limit: int | None = None) -> tuple[Share, ...]:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return tuple(Share(key, n, _ratio(n, whole)) for key, n in ordered)


def _assemble(
    rows: list[dict[str, Any]], start: dt.datetime, end: dt.datetime, *, has_clv: bool
) -> Insights:
    single: dict[str, dict[str, Any]] = {}
    revenue_all = revenue = 0.0
    orders = promo_orders = 0
    channels: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    categories: dict[str, tuple[int, float]] = {}
    brands: dict[str, tuple[int, float]] = {}
    lifecycle: Counter[str] = Counter()
    for row in rows:
        part, count, amount = row["part"], int(row["count"] or 0), row["amount"] or 0.0
        if part == "orders":
            revenue_all += amount
            if not row["member"]:
                continue
            revenue += amount
            orders += count
            channels[row["a"]] += count
            # As the compiler reads `with_promo`: a null or empty code is no promo code.
            if row["b"] not in (None, ""):
                promo_orders += count
                codes[row["b"]] += count
        elif part == "lines":
            for totals, key in ((categories, row["a"]), (brands, row["b"])):
                units, spend = totals.get(key, (0, 0.0))
                totals[key] = (units + count, spend + amount)
        elif part == "lifecycle":
            lifecycle[row["a"]] += count
        else:
            single[part] = row
    size = int(single["size"]["count"])
    profiles = int(single["profiles"]["count"])
    # Shares of all the members' spend on order lines, not only of the keys shown.
    lines_spend = sum(spend for _, spend in categories.values())
    overlap = None
    if "both" in single:
        both, other = int(single["both"]["count"]), int(single["other"]["count"])
        overlap = Overlap(both, size - both, other - both, _ratio(both, size + other - both))
    average_clv = total_clv = None
    if has_clv:
        scored = int(single["clv"]["count"])
        total_clv = _money(single["clv"]["amount"])
        average_clv = round(single["clv"]["amount"] / scored, 2) if scored else None
    return Insights(
        size=size,
        profiles=profiles,
        share_of_profiles=_ratio(size, profiles),
        window_start=start,
        window_end=end,
        orders_12m=orders,
        revenue_12m=_money(revenue),
        revenue_all_12m=_money(revenue_all),
        revenue_share=_ratio(revenue, revenue_all),
        average_clv=average_clv,
        total_clv=total_clv,
        lifecycle=_shares(lifecycle, size),
        top_categories=_top(categories, lines_spend),
        top_brands=_top(brands, lines_spend),
        channels=_shares(channels, orders),
        promo=PromoUsage(promo_orders, _ratio(promo_orders, orders), _shares(codes, orders, TOP)),
        overlap=overlap,
    )
