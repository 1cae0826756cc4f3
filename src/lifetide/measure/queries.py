"""The Ibis expressions behind the dashboards: orders by profile, touches, funnels (pure).

Nothing here runs a query: each function builds an expression on the tables it is given
(`events`, `orders`, `profile_keys` and the copies in measure.tables), which the dashboards
service executes on the warehouse. Periods are half-open, [start, end), UTC without a zone, as
the warehouse keeps time.

What counts as what:
- a message is *sent* when the provider took it or refused it (status `sent` or `bounced`),
  at its send time; *delivered* when it was sent and no bounce came back for it;
- *opened*, *clicked*, *bounced* come from the engagement events about the send (any time
  after it), so a funnel is a cohort: of the messages sent in the period, how many were opened;
- *unsubscribes* and *complaints* are counted when they happened, whatever the message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from lifetide.measure.attribution import CLICK, OPEN
from lifetide.messaging.events import BOUNCED, CLICKED, OPENED, UNSUBSCRIBED
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


def profile_orders(orders: ir.Table, profile_keys: ir.Table, period: Period) -> ir.Table:
    """Orders placed in the period by known customers: order_id, profile_id, ordered_at, revenue.

    Cancelled orders are left out; revenue is the order's total as paid.
    """
    kept = orders.filter(
        orders.status != "cancelled",
        orders.ordered_at >= period.start,
        orders.ordered_at < period.end,
        orders.customer_id.notnull(),
    )
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


def _send_key(events: ir.Table) -> ir.Value:
    return events.properties["send_key"].str


def touches(events: ir.Table, sends: ir.Table, since: dt.datetime, until: dt.datetime) -> ir.Table:
    """Opens and clicks in [since, until) with their send's customer, journey, step, channel."""
    e = events.filter(
        events.event.isin([OPENED, CLICKED]),
        events.timestamp >= since,
        events.timestamp < until,
    )
    e = e.select(
        send_key=_send_key(e),
        kind=ibis.ifelse(e.event == CLICKED, CLICK, OPEN),
        at=e.timestamp,
    )
    s = sends.select("send_key", "profile_id", "journey_id", "step", "channel")
    joined = e.inner_join(s, "send_key")
    return joined.select("send_key", "profile_id", "kind", "at", "journey_id", "step", "channel")


def funnel(
    sends: ir.Table, events: ir.Table, period: Period, journey_id: int | None = None
) -> ir.Table:
    """Messages sent in the period, delivered, opened, clicked, by journey, step and channel."""
    at = sends.sent_at.fill_null(sends.created_at)
    cohort = sends.filter(sends.status.isin(SENT_STATUSES), at >= period.start, at < period.end)
    if journey_id is not None:
        cohort = cohort.filter(cohort.journey_id == journey_id)
    e = events.filter(
        events.event.isin([OPENED, CLICKED, BOUNCED]), events.timestamp >= period.start
    )
    flags = e.group_by(send_key=_send_key(e)).aggregate(
        opened=(e.event == OPENED).any(),
        clicked=(e.event == CLICKED).any(),
        bounced=(e.event == BOUNCED).any(),
    )
    joined = cohort.left_join(flags, cohort.send_key == flags.send_key)
    bounced = (joined.status == "bounced") | joined.bounced.fill_null(False)
    # A click is an open the pixel missed (images off): it counts as one.
    opened = joined.opened.fill_null(False) | joined.clicked.fill_null(False)
    return joined.group_by(list(FUNNEL_KEYS)).aggregate(
        sent=joined.count(),
        delivered=(~bounced).sum(),
        bounced=bounced.sum(),
        opened=opened.sum(),
        clicked=joined.clicked.fill_null(False).sum(),
    )


def opt_outs(events: ir.Table, period: Period, journey_id: int | None = None) -> ir.Table:
    """Unsubscribes and complaints in the period (one row: unsubscribes, complaints)."""
    e = events.filter(
        events.event == UNSUBSCRIBED,
        events.timestamp >= period.start,
        events.timestamp < period.end,
    )
    if journey_id is not None:
        e = e.filter(e.properties["journey_id"].int == journey_id)
    complaint = e.properties["reason"].str == "complaint"
    return e.aggregate(
        unsubscribes=(~complaint.fill_null(False)).sum().fill_null(0),
        complaints=complaint.fill_null(False).sum().fill_null(0),
    )
