"""The Ibis expressions behind the dashboards: orders by profile, touches, funnels (pure).

Nothing here runs a query: each function builds an expression on the tables it is given
(`events`, `orders`, `profile_keys` and the copies in measure.tables), which the dashboards
service executes on the warehouse. Periods are half-open, [start, end), UTC without a zone, as
the warehouse keeps time. A dashboard shows a period beside the one before it; the funnel and
opt-out expressions read both in one scan and group by `current` (true for the later one).

What counts as what:
- a message is *sent* when the provider took it or refused it (status `sent` or `bounced`),
  at its send time; *delivered* when it was sent and no bounce came back for it;
- *opened*, *clicked*, *bounced* come from the touches of the send (any time after it), so a
  funnel is a cohort: of the messages sent in the period, how many were opened;
- *unsubscribes* and *complaints* are counted when they happened, whatever the message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis.expr.types as ir

from lifetide.measure.attribution import CLICK, OPEN
from lifetide.measure.touches import BOUNCE
from lifetide.messaging.events import UNSUBSCRIBED
from lifetide.warehouse.schema import RECORD_KINDS

SENT_STATUSES = ("sent", "bounced")
FUNNEL_KEYS = ("journey_id", "step", "channel")


@dataclass(frozen=True)
class Period:
    """A half-open span of time, [start, end), in naive UTC."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"a period must end after it starts: {self.start} to {self.end}")

    @property
    def span(self) -> dt.timedelta:
        """How long the period is."""
        return self.end - self.start

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - self.span, self.start)

    def with_previous(self) -> Period:
        """The span of this period and the one before it."""
        return Period(self.start - self.span, self.end)


def profile_orders(
    orders: ir.Table, profile_keys: ir.Table, period: Period | None = None
) -> ir.Table:
    """Orders by known customers (in the period, if given), in the columns attribution reads.

    Columns order_id, profile_id, ordered_at, revenue. Cancelled orders are left out; revenue
    is the order's total as paid. The warehouse keeps this over all time as `placed_orders`
    (measure.placed), which is what the dashboards read.
    """
    kept = orders.filter(orders.status != "cancelled", orders.customer_id.notnull())
    if period is not None:
        kept = placed_in(kept, period)
    keys = profile_keys.filter(profile_keys.kind.isin(RECORD_KINDS))
    # A record id is a user id or a CRM id (profile_keys is unique per kind and value), as the
    # feature table and segment insights read it.
    records = keys.select(customer_id=keys.value, profile_id=keys.profile_id)
    joined = kept.inner_join(records, "customer_id")
    return joined.select(
        "order_id",
        "profile_id",
        "ordered_at",
        revenue=joined.total.cast("float64"),
    )


def placed_in(orders: ir.Table, period: Period) -> ir.Table:
    """The orders placed in the period."""
    return orders.filter(orders.ordered_at >= period.start, orders.ordered_at < period.end)


def touches(
    touches: ir.Table, since: dt.datetime, until: dt.datetime, journey_id: int | None = None
) -> ir.Table:
    """Opens and clicks in [since, until), in the columns attribution reads."""
    t = touches.filter(
        touches.kind.isin([OPEN, CLICK]),
        touches.touched_at >= since,
        touches.touched_at < until,
    )
    if journey_id is not None:
        t = t.filter(t.journey_id == journey_id)
    return t.select(
        "send_key", "profile_id", "kind", "journey_id", "step", "channel", at=t.touched_at
    )


def _sent_at(sends: ir.Table) -> ir.Value:
    # A send that never went out belongs to the cohort of when it was made.
    return sends.sent_at.fill_null(sends.created_at)


def sent(sends: ir.Table, period: Period, journey_id: int | None = None) -> ir.Table:
    """Messages sent in the period and the one before, and how many were refused at once.

    One row per `current`, journey_id, step, channel: `sent`, `refused`.
    """
    both = period.with_previous()
    at = _sent_at(sends)
    cohort = sends.filter(sends.status.isin(SENT_STATUSES), at >= both.start, at < both.end)
    if journey_id is not None:
        cohort = cohort.filter(cohort.journey_id == journey_id)
    cohort = cohort.mutate(current=at >= period.start)
    return cohort.group_by(["current", *FUNNEL_KEYS]).aggregate(
        sent=cohort.count(), refused=(cohort.status == "bounced").sum()
    )


def engaged(
    touches: ir.Table, sends: ir.Table, period: Period, journey_id: int | None = None
) -> ir.Table:
    """Of the messages sent in the period and the one before: opened, clicked, bounced later.

    One row per `current`, journey_id, step, channel and `kind` (open, click, bounce) with the
    `sends` touched so. Every click comes with an open (a click is an open the pixel missed),
    so `open` counts the opened messages. Sends refused at once are counted by `sent`, and
    left out here even when their refusal was journaled as a bounce.
    """
    both = period.with_previous()
    t = touches.filter(touches.first, touches.sent_at >= both.start, touches.sent_at < both.end)
    if journey_id is not None:
        t = t.filter(t.journey_id == journey_id)
    at = _sent_at(sends)
    refused = sends.filter(sends.status == "bounced", at >= both.start, at < both.end)
    columns = ["sent_at", *FUNNEL_KEYS, "kind"]
    others = t.filter(t.kind != BOUNCE).select(columns)
    late = t.filter(t.kind == BOUNCE).anti_join(refused, "send_key").select(columns)
    # The anti-join loosens the columns' nullability, which a union must match.
    kept = others.union(late.cast(others.schema()))
    current = (kept.sent_at >= period.start).name("current")
    return kept.group_by([current, *FUNNEL_KEYS, "kind"]).aggregate(sends=kept.count())


def opt_outs(events: ir.Table, period: Period, journey_id: int | None = None) -> ir.Table:
    """Unsubscribes and complaints in the period and the one before, one row per `current`."""
    both = period.with_previous()
    e = events.filter(
        events.event == UNSUBSCRIBED,
        events.timestamp >= both.start,
        events.timestamp < both.end,
    )
    if journey_id is not None:
        e = e.filter(e.properties["journey_id"].int == journey_id)
    complaint = (e.properties["reason"].str == "complaint").fill_null(False)
    return e.group_by(current=e.timestamp >= period.start).aggregate(
        unsubscribes=(~complaint).sum().fill_null(0),
        complaints=complaint.sum().fill_null(0),
    )
