"""The dashboards' figures against a literal reading of the same rows, on a real warehouse.

A small retailer is written straight into the warehouse tables (orders, profile keys,
engagement events, the copied sends and exposures); every figure the dashboards show is then
recomputed here row by row, the plain way, and must agree.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from lifetide.clock import ManualClock
from lifetide.collect.internal import append_internal, internal_track
from lifetide.collect.loader import WarehouseLoader
from lifetide.context import Lifetide
from lifetide.experiments.holdouts import GLOBAL
from lifetide.measure.attribution import Windows
from lifetide.measure.board_queries import Ask, Runner
from lifetide.measure.dashboards import Dashboards, period_ending
from lifetide.measure.queries import Period
from lifetide.measure.tables import EXPOSURES_SCHEMA, SENDS_SCHEMA
from lifetide.messaging.events import BOUNCED, CLICKED, OPENED, UNSUBSCRIBED
from lifetide.ops.database import transaction
from lifetide.ops.models import JourneyRecord
from lifetide.settings import Settings
from lifetide.warehouse.arrow import arrow_schema
from lifetide.warehouse.schema import ORDERS
from tests.measure.rows import PROFILE_KEYS, put

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
T = NOW.replace(tzinfo=None)
CLICK, OPEN = dt.timedelta(days=5), dt.timedelta(days=1)


@pytest.fixture
def shop(settings: Settings) -> Iterator[tuple[Lifetide, dict[str, Any]]]:
    rng = random.Random(7)
    with Lifetide(settings, clock=ManualClock(NOW)) as app:
        with transaction(app.sessions) as session:
            for jid, name in ((1, "Cart abandonment"), (2, "Win-back")):
                session.add(
                    JourneyRecord(
                        id=jid, name=name, status="live", version=1, created_at=NOW, updated_at=NOW
                    )
                )
        profiles = range(1, 301)
        keys = [{"kind": "user_id", "value": f"u{p}", "profile_id": p} for p in profiles]
        put(app, "profile_keys", keys, PROFILE_KEYS)
        sends, events, orders, exposures = [], [], [], []
        for i in range(900):
            p = rng.choice(profiles)
            at = T - dt.timedelta(hours=rng.uniform(0, 24 * 20))
            status = rng.choice(["sent"] * 8 + ["bounced", "skipped"])
            key = f"{i}:step:1"
            jid = rng.choice([1, 2])
            sends.append(
                {
                    "send_key": key,
                    "profile_id": p,
                    "journey_id": jid,
                    "step": rng.choice(["first", "second"]),
                    "channel": "email",
                    "template": "t",
                    "marketing": True,
                    "status": status,
                    "created_at": at - dt.timedelta(minutes=1),
                    "sent_at": at if status == "sent" else None,
                }
            )
            send = (key, jid, sends[-1]["step"], at)
            if status == "bounced" and rng.random() < 0.5:
                # A refusal is journaled as a bounce too: it must not count twice.
                events.append(_event(f"{BOUNCED}-{i}", BOUNCED, at, send))
            if status != "sent":
                continue
            opened_at = at + dt.timedelta(hours=rng.uniform(0, 2))
            if rng.random() < 0.5:
                events.append(_event(f"{OPENED}-{i}", OPENED, opened_at, send))
            if rng.random() < 0.25:
                clicked_at = at + dt.timedelta(hours=rng.uniform(0, 30))
                if not any(e["message_id"] == f"{OPENED}-{i}" for e in events[-1:]):
                    # As record_click does: a click with no open before it journals the open.
                    events.append(_event(f"{OPENED}-{i}", OPENED, clicked_at, send))
                events.append(_event(f"{CLICKED}-{i}", CLICKED, clicked_at, send))
            if rng.random() < 0.05:
                bounced_at = at + dt.timedelta(hours=rng.uniform(0, 1))
                events.append(_event(f"{BOUNCED}-{i}", BOUNCED, bounced_at, send))
            if rng.random() < 0.03:
                reason = "complaint" if rng.random() < 0.3 else None
                events.append(
                    _event(f"u-{i}", UNSUBSCRIBED, at + dt.timedelta(hours=1), send, reason)
                )
        for n in range(700):
            p = rng.choice(profiles)
            orders.append(
                {
                    "order_id": f"o{n}",
                    "customer_id": f"u{p}" if n % 50 else None,  # some guests
                    "ordered_at": T - dt.timedelta(hours=rng.uniform(0, 24 * 20)),
                    "channel": "online",
                    "status": "cancelled" if n % 37 == 0 else "completed",
                    "currency": "USD",
                    "subtotal": 50,
                    "discount": 0,
                    "shipping": 0,
                    "tax": 0,
                    "total": Decimal(f"{rng.uniform(10, 200):.2f}"),
                }
            )
        for p in profiles:
            first = T - dt.timedelta(hours=rng.uniform(0, 24 * 20))
            arm = "holdout" if p % 10 == 0 else "treated"
            exposures.append(
                {
                    "experiment": GLOBAL,
                    "profile_id": p,
                    "arm": arm,
                    "journey_id": 1,
                    "first_at": first,
                }
            )
        put(app, "message_sends", sends, SENDS_SCHEMA.to_pyarrow())
        sends_by_key = {s["send_key"]: s for s in sends}
        # Engagement events take their real path: journaled as Lifetide journals its own,
        # then loaded, which writes their touches beside them.
        messages = [
            internal_track(
                e["event"],
                profile_id=sends_by_key[json.loads(e["properties"])["send_key"]]["profile_id"],
                at=e["timestamp"].replace(tzinfo=dt.UTC),
                properties=json.loads(e["properties"]),
                message_id=e["message_id"],
            )
            for e in events
        ]
        append_internal(app.journal, messages, NOW)
        WarehouseLoader(app.journal, app.warehouse).load_all()
        put(app, "orders", orders, arrow_schema(ORDERS))
        put(app, "exposures", exposures, EXPOSURES_SCHEMA.to_pyarrow())
        yield app, {"sends": sends, "events": events, "orders": orders, "exposures": exposures}


def _event(
    mid: str,
    name: str,
    at: dt.datetime,
    send: tuple[str, int, str, dt.datetime],
    reason: str | None = None,
) -> dict[str, Any]:
    key, jid, step, sent_at = send
    props: dict[str, Any] = {
        "send_key": key,
        "journey_id": jid,
        "step": step,
        "channel": "email",
        "sent_at": sent_at.replace(tzinfo=dt.UTC).isoformat(),
    }
    if name != UNSUBSCRIBED:
        props["first"] = True
    if reason:
        props["reason"] = reason
    return {
        "message_id": mid,
        "type": "track",
        "event": name,
        "timestamp": at,
        "properties": json.dumps(props),
    }


def _expected(data: dict[str, Any], period: Period, journey: int | None) -> dict[str, Any]:
    """Every figure, the plain way."""
    sends = {s["send_key"]: s for s in data["sends"]}
    did: dict[str, set[str]] = {}
    for e in data["events"]:
        if e["event"] in (OPENED, CLICKED, BOUNCED) and e["timestamp"] >= period.start:
            did.setdefault(json.loads(e["properties"])["send_key"], set()).add(e["event"])
    cohort = [
        s
        for s in data["sends"]
        if s["status"] in ("sent", "bounced")
        and period.start <= (s["sent_at"] or s["created_at"]) < period.end
        and (journey is None or s["journey_id"] == journey)
    ]
    bounced = [
        s for s in cohort if s["status"] == "bounced" or BOUNCED in did.get(s["send_key"], ())
    ]
    opened = [s for s in cohort if did.get(s["send_key"], set()) & {OPENED, CLICKED}]
    clicked = [s for s in cohort if CLICKED in did.get(s["send_key"], ())]
    credited: dict[str, tuple[str, float]] = {}
    for o in data["orders"]:
        if o["status"] == "cancelled" or o["customer_id"] is None:
            continue
        if not period.start <= o["ordered_at"] < period.end:
            continue
        p = int(o["customer_id"][1:])
        best = None
        for e in data["events"]:
            if e["event"] not in (OPENED, CLICKED):
                continue
            key = json.loads(e["properties"])["send_key"]
            s = sends[key]
            if s["profile_id"] != p or (journey is not None and s["journey_id"] != journey):
                continue
            lag = o["ordered_at"] - e["timestamp"]
            if lag < dt.timedelta(0) or lag > (CLICK if e["event"] == CLICKED else OPEN):
                continue
            rank = (e["timestamp"], e["event"] == CLICKED, [-ord(c) for c in key])
            if best is None or rank > best[0]:
                best = (rank, key)
        if best is not None:
            credited[o["order_id"]] = (best[1], float(o["total"]))
    outs = [
        e
        for e in data["events"]
        if e["event"] == UNSUBSCRIBED
        and period.start <= e["timestamp"] < period.end
        and (journey is None or json.loads(e["properties"])["journey_id"] == journey)
    ]
    complaints = sum(1 for e in outs if json.loads(e["properties"]).get("reason") == "complaint")
    return {
        "sent": len(cohort),
        "bounced": len(bounced),
        "delivered": len(cohort) - len(bounced),
        "opened": len(opened),
        "clicked": len(clicked),
        "ordered": len({k for k, _ in credited.values()}),
        "unsubscribes": len(outs) - complaints,
        "complaints": complaints,
        "orders": len(credited),
        "revenue": sum(v for _, v in credited.values()),
    }


@pytest.mark.parametrize("days", [1, 7, 14])
@pytest.mark.parametrize("journey", [None, 1])
def test_every_figure_agrees_with_a_plain_reading(
    shop: tuple[Lifetide, dict[str, Any]], days: int, journey: int | None
) -> None:
    app, data = shop
    period = period_ending(NOW, days)
    dashboards = Dashboards(app)
    board = dashboards.overview(period) if journey is None else dashboards.journey(journey, period)
    for figures in (board.current, board.previous):
        want = _expected(data, figures.period, journey)
        f = figures.funnel
        got = {
            name: getattr(f, name)
            for name in (
                "sent",
                "bounced",
                "delivered",
                "opened",
                "clicked",
                "ordered",
                "unsubscribes",
                "complaints",
            )
        }
        got["orders"], got["revenue"] = figures.attributed.orders, figures.attributed.revenue
        assert got == pytest.approx(want)
        assert sum(line.attributed.revenue for line in figures.lines.values()) == pytest.approx(
            want["revenue"]
        )
        assert sum(r for _, _, r in figures.daily) == pytest.approx(want["revenue"])
    assert [d for d, _, _ in board.current.daily][-1] == NOW.date()


def test_the_overview_names_journeys_and_measures_the_global_holdout(
    shop: tuple[Lifetide, dict[str, Any]],
) -> None:
    app, data = shop
    board = Dashboards(app).overview(period_ending(NOW, 30))
    labels = {line.label for line in board.current.lines.values()}
    assert labels == {"Cart abandonment", "Win-back"}
    lift = board.current.lift
    assert lift.holdout.customers == sum(1 for e in data["exposures"] if e["arm"] == "holdout")
    assert lift.treated.customers == sum(1 for e in data["exposures"] if e["arm"] == "treated")
    assert lift.difference is not None and lift.low is not None and lift.high is not None
    assert lift.low <= lift.difference <= lift.high


def test_a_period_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="must end after it starts"):
        Period(T, T)


@pytest.mark.parametrize("journey", [None, 1])
def test_prepared_sql_and_ibis_give_the_same_rows(
    shop: tuple[Lifetide, dict[str, Any]], journey: int | None
) -> None:
    # The dashboards send prepared SQL to DuckDB and read placed_orders; on any other
    # warehouse they run Ibis and join orders to profile keys.
    app, _ = shop
    ask = Ask(period_ending(NOW, 7), Windows(), journey)
    got: dict[bool, dict[str, list[tuple[Any, ...]]]] = {}
    for as_sql in (True, False):
        run = Runner(app.warehouse, ask, as_sql=as_sql)
        got[as_sql] = {
            # Floats to 6 places: parallel sums add in no fixed order.
            name: sorted(
                tuple(round(v, 6) if isinstance(v, float) else v for v in row.values())
                for row in run.rows(name)
            )
            for name in ("credited", "arms", "sent", "engaged", "opt_outs")
        }
    assert got[True] == got[False]
    # The test shop has no journey holdouts: only the overview measures arms.
    empty = {name for name, rows in got[True].items() if not rows}
    assert empty == (set() if journey is None else {"arms"})
