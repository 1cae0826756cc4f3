"""Touches: which loaded events become them, and the backfill of a warehouse from before them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import pytest

from lifetide.clock import ManualClock
from lifetide.collect.internal import append_internal, internal_track
from lifetide.collect.loader import WarehouseLoader
from lifetide.context import Lifetide
from lifetide.measure.tables import SENDS, SENDS_SCHEMA, TOUCHES
from lifetide.measure.touches import touch_row
from lifetide.messaging.events import BOUNCED, CLICKED, OPENED, UNSUBSCRIBED
from lifetide.settings import Settings
from lifetide.warehouse.arrow import arrow_schema
from lifetide.warehouse.schema import EVENTS
from tests.measure.rows import put

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
T = NOW.replace(tzinfo=None)
SENT = "2026-11-20T10:00:00+00:00"
PROPS = {"send_key": "7:first:1", "journey_id": 3, "step": "first", "channel": "email"}


def _message(event: str | None, **props: Any) -> dict[str, Any]:
    return {"messageId": "m1", "event": event, "timestamp": NOW, "properties": props}


WANT = {
    "message_id": "m1",
    "send_key": "7:first:1",
    "profile_id": 42,
    "journey_id": 3,
    "step": "first",
    "channel": "email",
    "kind": "open",
    "first": True,
    "touched_at": T,
    "sent_at": T - dt.timedelta(hours=2),
}


def _ours(event: str = OPENED, **changed: Any) -> dict[str, Any]:
    """A message as Lifetide journals it about a send, with some properties changed."""
    props = PROPS | {"sent_at": SENT, "first": True} | changed
    return _message(event, **{k: v for k, v in props.items() if v is not None})


CASES: list[tuple[str, dict[str, Any], int | None, dict[str, Any] | None]] = [
    ("an open", _ours(), 42, WANT),
    ("a click", _ours(CLICKED), 42, WANT | {"kind": "click"}),
    ("a bounce", _ours(BOUNCED), 42, WANT | {"kind": "bounce"}),
    ("a repeat open", _ours(first=False), 42, WANT | {"first": False}),
    ("no first flag", _ours(first=None), 42, WANT | {"first": False}),
    ("no send time", _ours(sent_at=None), 42, WANT | {"sent_at": None}),
    ("a bad send time", _ours(sent_at="soon"), 42, WANT | {"sent_at": None}),
    ("a journey id as text", _ours(journey_id="3"), 42, WANT | {"journey_id": None}),
    ("a journey id as a flag", _ours(journey_id=True), 42, WANT | {"journey_id": None}),
    ("no trusted profile", _ours(), None, None),
    ("another event", _ours("Product Viewed"), 42, None),
    ("an unsubscribe", _ours(UNSUBSCRIBED), 42, None),
    ("no send key", _ours(send_key=None), 42, None),
    ("an empty send key", _ours(send_key=""), 42, None),
    ("a send key that is not text", _ours(send_key=7), 42, None),
    ("a page view", _message(None, **PROPS), 42, None),
]


@pytest.mark.parametrize(("name", "message", "profile", "want"), CASES, ids=[c[0] for c in CASES])
def test_touch_row(
    name: str, message: dict[str, Any], profile: int | None, want: dict[str, Any] | None
) -> None:
    assert touch_row(message, profile) == want


def _touches(app: Lifetide) -> list[dict[str, Any]]:
    table = app.warehouse.table(TOUCHES).order_by("message_id")
    return list(table.to_pyarrow().to_pylist())


def test_only_lifetides_own_events_become_touches(settings: Settings) -> None:
    with Lifetide(settings, clock=ManualClock(NOW)) as app:
        props = PROPS | {"sent_at": SENT, "first": True}
        ours = internal_track(OPENED, profile_id=42, at=NOW, properties=props, message_id="m1")
        # The same event sent through the public API by a source: its profile is not trusted.
        forged = internal_track(OPENED, profile_id=43, at=NOW, properties=props, message_id="m2")
        append_internal(app.journal, [ours], NOW)
        body = orjson.dumps({"batch": [forged], "sentAt": NOW.isoformat()})
        app.journal.append(body, received_at=NOW, messages=1, source_id=1).result()
        WarehouseLoader(app.journal, app.warehouse).load_all()

        assert [t["message_id"] for t in _touches(app)] == ["m1"]
        assert app.warehouse.count("events") == 2


def test_a_warehouse_from_before_touches_gets_them_when_opened(settings: Settings) -> None:
    sends = [
        {"send_key": key, "profile_id": p, "journey_id": 1, "step": "first", "channel": "email",
         "status": "sent", "created_at": T - dt.timedelta(hours=3), "sent_at": sent_at}
        for key, p, sent_at in (("1:first:1", 5, T - dt.timedelta(hours=2)), ("2:first:1", 6, None))
    ]  # fmt: skip

    def event(mid: str, name: str, key: str, hours: int) -> dict[str, Any]:
        return {
            "message_id": mid,
            "type": "track",
            "event": name,
            "timestamp": T - dt.timedelta(hours=hours),
            "properties": json.dumps({"send_key": key}),
        }

    events = [
        event("a", OPENED, "1:first:1", 1),
        event("b", OPENED, "1:first:1", 0),
        event("c", CLICKED, "2:first:1", 1),
        event("d", OPENED, "9:unknown:1", 1),  # no copied send: no profile to credit
        event("e", "Product Viewed", "1:first:1", 1),
    ]
    with Lifetide(settings, clock=ManualClock(NOW)) as app:
        put(app, SENDS, sends, SENDS_SCHEMA.to_pyarrow())
        put(app, "events", events, arrow_schema(EVENTS))
        app.warehouse.duckdb.execute(f"DROP TABLE {TOUCHES}")
    with Lifetide(settings, clock=ManualClock(NOW)) as app:
        got = [
            (t["message_id"], t["profile_id"], t["kind"], t["first"], t["sent_at"])
            for t in _touches(app)
        ]
    assert got == [
        ("a", 5, "open", True, T - dt.timedelta(hours=2)),
        ("b", 5, "open", False, T - dt.timedelta(hours=2)),
        # Never sent: its creation time is its cohort, as the funnel's sends count it.
        ("c", 6, "click", True, T - dt.timedelta(hours=3)),
    ]
