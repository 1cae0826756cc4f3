"""Revenue attribution: each order credited to the message touch that preceded it (pure).

Last touch, the default of the e-mail platforms retailers know: of the customer's message
touches before an order, a click no more than `Windows.click` before it (5 days) or an open no
more than `Windows.open` before it (1 day), the latest one gets the whole order; at the same
instant a click outranks an open, then the smaller send key wins, so the answer never depends
on row order. An order with no such touch is not attributed. A touch may be credited with
several orders (she clicked, then bought twice).

The functions build Ibis expressions and run nothing: the caller executes them on whichever
backend holds the tables (DuckDB here, Spark or another backend at scale). Inputs:

- orders: `order_id`, `profile_id`, `ordered_at` (timestamp), `revenue`;
- touches: `send_key`, `profile_id`, `kind` ("open" or "click"), `at` (timestamp),
  `journey_id`, `step`, `channel`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

OPEN = "open"
CLICK = "click"
CREDIT = ("send_key", "journey_id", "step", "channel", "touch", "touched_at")


@dataclass(frozen=True)
class Windows:
    """How long before an order a touch may be credited with it."""

    click: dt.timedelta = dt.timedelta(days=5)
    open: dt.timedelta = dt.timedelta(days=1)

    def __post_init__(self) -> None:
        for name, span in (("click", self.click), ("open", self.open)):
            if span < dt.timedelta(0):
                raise ValueError(f"the {name} window cannot be negative: {span}")


def credits(orders: ir.Table, touches: ir.Table, windows: Windows | None = None) -> ir.Table:
    """The orders credited to a touch, each with its touch's `CREDIT` columns."""
    spans = windows or Windows()
    o = orders.select("order_id", "profile_id", "ordered_at", "revenue")
    t = touches.select(
        t_profile=touches.profile_id,
        send_key=touches.send_key,
        journey_id=touches.journey_id,
        step=touches.step,
        channel=touches.channel,
        touch=touches.kind,
        touched_at=touches.at,
    )
    lag = o.ordered_at.epoch_seconds() - t.touched_at.epoch_seconds()
    limit = ibis.cases(
        (t.touch == CLICK, spans.click.total_seconds()),
        (t.touch == OPEN, spans.open.total_seconds()),
        else_=-1.0,
    )
    candidates = o.join(
        t, [o.profile_id == t.t_profile, t.touched_at <= o.ordered_at, lag <= limit]
    )
    rank = ibis.row_number().over(
        group_by=candidates.order_id,
        order_by=[
            candidates.touched_at.desc(),
            (candidates.touch == CLICK).desc(),
            candidates.send_key,
        ],
    )
    best = candidates.mutate(_rank=rank).filter(lambda r: r._rank == 0)
    return best.select("order_id", "profile_id", "ordered_at", "revenue", *CREDIT)


def attribute(orders: ir.Table, touches: ir.Table, windows: Windows | None = None) -> ir.Table:
    """Every order with the touch credited for it (its `CREDIT` columns null when none)."""
    o = orders.select("order_id", "profile_id", "ordered_at", "revenue")
    best = credits(o, touches, windows).select("order_id", *CREDIT)
    best = best.rename(credited_order="order_id")
    joined = o.left_join(best, o.order_id == best.credited_order)
    return joined.select("order_id", "profile_id", "ordered_at", "revenue", *CREDIT)


def revenue_by(attributed: ir.Table, *keys: str) -> ir.Table:
    """Attributed orders and revenue grouped by `keys` (e.g. journey_id, channel, step)."""
    credited = attributed.filter(attributed.send_key.notnull())
    return credited.group_by(list(keys)).aggregate(
        orders=credited.order_id.count(), revenue=credited.revenue.sum()
    )
