"""Running the live journeys over the demo retailer's recent weeks, on a simulated clock.

The demo's history is imported, not tracked, so no journey saw it happen. A rehearsal replays
the last weeks hour by hour through the real engine: the retailer's events go to the journey
intake as they happened, the clock moves to the end of each hour, the worker's tasks run (steps,
the policy gate, sends through the configured transport, which for the demo writes .eml files),
and the warehouse gets its copy for the dashboards. The result is what a shop that had run
Lifetide for those weeks would see.

Customers must also react to the e-mails, and the synthetic ones cannot read: `Audience` is the
demo's model of them, stated plainly. Of the customers who order within five days of an e-mail,
45% click it first (some time between the e-mail and the order); of the others 30% open it
(about four hours later on average) and 12% of those click; 0.3% unsubscribe. Their opens and
clicks go through the same functions as a real pixel or redirect, so they journal the same
events. The model makes clicks precede orders; it does not make anyone buy: every order is the
synthetic retailer's own, which is why the lift over the control group is near zero here.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select

from lifetide.clock import ManualClock, aware_utc
from lifetide.context import Lifetide
from lifetide.journeys.engine import JourneyEngine
from lifetide.measure.sync import MeasureCopy
from lifetide.messaging.feedback import record_click, record_open, unsubscribe
from lifetide.ops.models import JourneySend
from lifetide.warehouse.schema import RECORD_KINDS

HOUR = dt.timedelta(hours=1)
ORDER_WINDOW = dt.timedelta(days=5)


@dataclass
class Rehearsed:
    """What a rehearsal did."""

    hours: int = 0
    events: int = 0
    opened: int = 0
    sent: int = 0
    opens: int = 0
    clicks: int = 0
    unsubscribes: int = 0


@dataclass(frozen=True)
class Reaction:
    """A customer's response to an e-mail: open, click or unsubscribe, at a time."""

    at: dt.datetime
    kind: str
    key: str
    profile_id: int
    address: str | None


class Audience:
    """The demo customers' reactions to e-mails (the model in the module's docstring)."""

    def __init__(self, orders: dict[int, list[dt.datetime]], seed: int = 7) -> None:
        self._orders = orders
        self._rng = random.Random(seed)  # noqa: S311 (a simulation, not a secret)

    def react(
        self, key: str, profile_id: int, address: str | None, sent: dt.datetime
    ) -> list[Reaction]:
        """What this customer does with the e-mail `key` sent at `sent`."""
        rng = self._rng
        upcoming = [t for t in self._orders.get(profile_id, ()) if sent < t <= sent + ORDER_WINDOW]
        if upcoming and rng.random() < 0.45:
            order = upcoming[0]
            gap = (order - sent).total_seconds()
            click = sent + dt.timedelta(seconds=max(300.0, rng.uniform(0.05, 0.9) * gap))
            if click >= order:
                click = sent + (order - sent) / 2
            return [Reaction(click, "click", key, profile_id, address)]
        reactions = []
        if rng.random() < 0.30:
            opened = sent + dt.timedelta(hours=min(72.0, rng.expovariate(1 / 4)))
            reactions.append(Reaction(opened, "open", key, profile_id, address))
            if rng.random() < 0.12:
                clicked = opened + dt.timedelta(minutes=rng.uniform(1, 30))
                reactions.append(Reaction(clicked, "click", key, profile_id, address))
        if rng.random() < 0.003:
            quit_at = sent + dt.timedelta(hours=rng.uniform(1, 48))
            reactions.append(Reaction(quit_at, "unsubscribe", key, profile_id, address))
        return reactions


def _naive(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None)


def profile_order_times(app: Lifetide, since: dt.datetime) -> dict[int, list[dt.datetime]]:
    """Each known customer's order times from `since` on (UTC, aware), in order."""
    backend = app.warehouse.thread_backend()
    orders, keys = backend.table("orders"), backend.table("profile_keys")
    records = keys.filter(keys.kind.isin(RECORD_KINDS)).select(
        customer_id=keys.value, profile_id=keys.profile_id
    )
    kept = orders.filter(orders.ordered_at >= _naive(since), orders.status != "cancelled")
    joined = kept.inner_join(records, "customer_id").select("profile_id", "ordered_at")
    found: dict[int, list[dt.datetime]] = defaultdict(list)
    for row in joined.order_by("ordered_at").to_pyarrow().to_pylist():
        found[int(row["profile_id"])].append(row["ordered_at"].replace(tzinfo=dt.UTC))
    return found


def _events_by_hour(
    app: Lifetide, start: dt.datetime, end: dt.datetime
) -> Iterator[list[dict[str, Any]]]:
    """The retailer's track events in [start, end) as Segment messages, an hour at a time."""
    events = app.warehouse.thread_backend().table("events")
    rows = (
        events.filter(
            events.type == "track",
            events.event.notnull(),
            events.timestamp >= _naive(start),
            events.timestamp < _naive(end),
        )
        .select("message_id", "event", "timestamp", "user_id", "anonymous_id", "properties")
        .order_by("timestamp")
        .to_pyarrow()
        .to_pylist()
    )
    hour = start
    batch: list[dict[str, Any]] = []
    for row in rows:
        at = row["timestamp"].replace(tzinfo=dt.UTC)
        while at >= hour + HOUR:
            yield batch
            batch, hour = [], hour + HOUR
        props = row["properties"]
        batch.append(
            {
                "type": "track",
                "messageId": row["message_id"],
                "event": row["event"],
                "timestamp": at,
                "userId": row["user_id"],
                "anonymousId": row["anonymous_id"],
                "properties": orjson.loads(props)
                if isinstance(props, str | bytes)
                else (props or {}),
            }
        )
    while hour < end:
        yield batch
        batch, hour = [], hour + HOUR


def rehearse(
    app: Lifetide,
    clock: ManualClock,
    end: dt.datetime,
    *,
    seed: int = 7,
    on_hour: Callable[[dt.datetime, Rehearsed], None] | None = None,
) -> Rehearsed:
    """Run the live journeys from the clock's time to `end`, an hour at a time.

    `clock` is `app`'s own clock: the engine and the loader run on it, and this moves it.
    """
    start = clock.now()
    audience = Audience(profile_order_times(app, start), seed)
    engine = JourneyEngine(app, "rehearsal")
    # As the worker loads (live identity, recent activity), on `app`'s clock: `clock`.
    loader = app.loader()
    copy = MeasureCopy(app.sessions, app.warehouse, clock)
    done = Rehearsed()
    pending: list[tuple[dt.datetime, int, Reaction]] = []
    order = 0
    try:
        hour = start
        for messages in _events_by_hour(app, start, end):
            until = min(hour + HOUR, end)
            # Events enter as they happened: each at its own time, the hour's in one batch.
            if messages:
                clock.set(max(clock.now(), messages[-1]["timestamp"]))
                opened, _ = engine.intake.apply_messages(messages)
                done.events += len(messages)
                done.opened += opened
            while pending and pending[0][0] < until:
                at, _, reaction = heapq.heappop(pending)
                clock.set(max(clock.now(), at))
                _perform(app, reaction, done)
            clock.set(until)
            loader.load_all()
            if hour == start or hour.hour == 0:
                # Segment changes and dates are read once a simulated day: nothing refreshes
                # segments during a rehearsal, and the date scan is daily anyway.
                engine.start_from_warehouse()
            engine.run_until_idle(skip=("journey triggers",))
            for send in _sent_between(app, hour, until):
                done.sent += 1
                for reaction in audience.react(
                    send.idempotency_key,
                    int(send.profile_id or 0),
                    send.address,
                    aware_utc(send.sent_at or until),
                ):
                    order += 1
                    heapq.heappush(pending, (reaction.at, order, reaction))
            copy.run_all()
            done.hours += 1
            if on_hour is not None:
                on_hour(until, done)
            hour = until
        loader.load_all()
        engine.run_until_idle(skip=("journey triggers",))
        copy.run_all()
    finally:
        engine.close()
    return done


def _sent_between(app: Lifetide, after: dt.datetime, until: dt.datetime) -> list[JourneySend]:
    """E-mails sent in (after, until]: each hour's sends are stamped with the hour's end."""
    query = select(JourneySend).where(
        JourneySend.status == "sent",
        JourneySend.channel == "email",
        JourneySend.sent_at > after,
        JourneySend.sent_at <= until,
    )
    with app.sessions() as session:
        return list(session.scalars(query))


def _perform(app: Lifetide, reaction: Reaction, done: Rehearsed) -> None:
    if reaction.kind == "open":
        done.opens += record_open(app, reaction.key)
    elif reaction.kind == "click":
        done.clicks += record_click(app, reaction.key, "https://shop.example/")
    elif reaction.kind == "unsubscribe":
        done.unsubscribes += unsubscribe(
            app, reaction.profile_id, "email", reaction.address, source="demo", key=reaction.key
        )
