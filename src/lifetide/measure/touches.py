"""Touches: the opens, clicks and bounces of Lifetide's own messages, as typed warehouse rows.

Every dashboard figure about engagement reads them: the funnel counts the sends each kind of
touch reached, by the cohort of the send; attribution credits orders to the last open or
click. Reading them from `events` would mean parsing each event's JSON and joining it to its
send, millions of rows for every dashboard. Lifetide writes these events itself, naming the
profile (`context.lifetide.profile_id`, trusted only on journal entries without a source) and
the send's key, journey, step, channel and time in the properties; so the journal loader
turns each into a touch as it loads the event, in the same warehouse transaction, and no
query ever joins the two again.

Each touch says whether it was the send's first of its kind (the events say so: see
messaging.feedback), so counting opened or clicked messages needs no deduplication. A click
always comes with an open: Lifetide journals the open a click implies when none came before.

`touch_row` is that mapping (pure). `backfill` builds the touches of events loaded before the
table existed, from `events` and the copied sends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from lifetide.clock import naive_utc
from lifetide.measure.attribution import CLICK, OPEN
from lifetide.measure.tables import TOUCHES_SCHEMA
from lifetide.messaging.events import BOUNCED, CLICKED, OPENED

BOUNCE = "bounce"
KINDS = {OPENED: OPEN, CLICKED: CLICK, BOUNCED: BOUNCE}


def touch_row(message: Mapping[str, Any], profile_id: int | None) -> dict[str, Any] | None:
    """The touch an accepted track message records, or None if it is not one of ours."""
    kind = KINDS.get(message.get("event") or "")
    props = message.get("properties")
    if kind is None or profile_id is None or not isinstance(props, Mapping):
        return None
    key = props.get("send_key")
    if not isinstance(key, str) or not key:
        return None
    journey = props.get("journey_id")
    if not isinstance(journey, int) or isinstance(journey, bool):
        journey = None
    return {
        "message_id": message["messageId"],
        "send_key": key,
        "profile_id": profile_id,
        "journey_id": journey
        if isinstance(journey, int) and not isinstance(journey, bool)
        else None,
        "step": _text(props.get("step")),
        "channel": _text(props.get("channel")),
        "kind": kind,
        "first": props.get("first") is True,
        "touched_at": naive_utc(message["timestamp"]),
        "sent_at": _moment(props.get("sent_at")),
    }


def backfill(events: ir.Table, sends: ir.Table, touches: ir.Table) -> ir.Table:
    """The touches `events` hold for copied sends that `touches` does not have yet."""
    e = events.filter(events.event.isin(list(KINDS)))
    e = e.select(
        "message_id",
        send_key=e.properties["send_key"].str,
        kind=e.event.substitute(KINDS),
        touched_at=e.timestamp,
    )
    s = sends.select(
        "send_key",
        "profile_id",
        "journey_id",
        "step",
        "channel",
        sent_at=sends.sent_at.fill_null(sends.created_at),
    )
    joined = e.inner_join(s, "send_key").filter(lambda t: t.profile_id.notnull())
    order = ibis.row_number().over(
        group_by=[joined.send_key, joined.kind], order_by=[joined.touched_at, joined.message_id]
    )
    fresh = joined.mutate(first=order == 0).anti_join(touches, "message_id")
    return fresh.select(*TOUCHES_SCHEMA.names)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _moment(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return naive_utc(dt.datetime.fromisoformat(value))
    except ValueError:
        return None
