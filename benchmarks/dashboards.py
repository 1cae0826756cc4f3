"""Dashboard benchmark (issue 7): each dashboard's queries over 1,000,000 customers.

    .venv/bin/python benchmarks/dashboards.py [--customers 1000000] [--runs 5]

A retailer's measurement tables are generated straight into a fresh warehouse (DuckDB) with
numpy: `--customers` profiles (profile_keys), 2.5 orders per customer over a year, 4 e-mails
per customer over 90 days from 6 journeys (90% sent, 2% bounced at once, 8% skipped), their
engagement events (30% opened, 5% clicked, 1% bounced later, 0.3% unsubscribed, a tenth of
those complaints), and the exposures of the global control group (5%) and of each journey's
10% holdout. The engagement events' touches (`message_touches`, which the journal loader
writes beside each event Lifetide journals about its messages) are built from them by the
same backfill a warehouse from before touches gets, and the orders by profile
(`placed_orders`, which the import writer keeps beside the orders) by the same rebuild the
profile copy runs. Every table is appended in time order, as the loader and the measurement
copy append. The whole year's synthetic tracking history is not generated: the dashboards read
only unsubscribes from `events`, and DuckDB skips the rest by its zone maps.

Timed: `Dashboards.overview` (7 and 30 days, each with its previous period), `Dashboards.journey`
(30 days) and the experiment report of the global control group, each the median of `--runs`
after one warm-up, as the Studio's API runs them (its own thread's connection). Target: under
1 second each. No peer: no open tool computes these figures to compare with.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.experiments.holdouts import GLOBAL
from lifetide.measure import placed
from lifetide.measure.dashboards import Dashboards, period_ending
from lifetide.measure.experiment_report import report
from lifetide.measure.tables import EXPOSURES_SCHEMA, PLACED, SENDS, SENDS_SCHEMA, TOUCHES
from lifetide.measure.touches import backfill
from lifetide.ops.database import transaction
from lifetide.ops.models import JourneyRecord
from lifetide.settings import load_settings
from lifetide.warehouse.arrow import arrow_schema
from lifetide.warehouse.schema import EVENTS, ORDERS

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
T = np.datetime64(NOW.replace(tzinfo=None), "us")
DAY = np.timedelta64(86_400_000_000, "us")
JOURNEYS = 6


def _put(app: Lifetide, table: str, data: pa.Table, time: str) -> None:
    """Append `data` in the order of its `time` column, as the loader and the copy append."""
    con = app.warehouse.duckdb
    con.register("__bench", data)
    names = ", ".join(data.schema.names)
    con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM __bench ORDER BY {time}")
    con.unregister("__bench")


def _ago(rng: np.random.Generator, n: int, days: float) -> np.ndarray:
    return T - (rng.uniform(0, days, n) * DAY).astype("timedelta64[us]")


def generate(app: Lifetide, customers: int, seed: int = 7) -> dict[str, int]:
    """Write the retailer's measurement tables; how many rows of each."""
    rng = np.random.default_rng(seed)
    profiles = np.arange(1, customers + 1)
    ids = pa.array([f"C{p}" for p in profiles])
    _put(
        app,
        "profile_keys",
        pa.table({"kind": pa.array(["user_id"] * customers), "value": ids, "profile_id": profiles}),
        "profile_id",
    )

    n_orders = int(customers * 2.5)
    buyer = rng.integers(1, customers + 1, n_orders)
    totals = np.round(rng.lognormal(3.8, 0.6, n_orders), 2)
    orders = pa.table(
        {
            "order_id": pa.array([f"O{i}" for i in range(n_orders)]),
            "customer_id": pa.array([f"C{p}" for p in buyer]),
            "ordered_at": _ago(rng, n_orders, 365),
            "channel": pa.array(["online"] * n_orders),
            "status": pa.array(np.where(rng.random(n_orders) < 0.02, "cancelled", "completed")),
            "currency": pa.array(["USD"] * n_orders),
            **{c: pa.array(totals).cast(pa.decimal128(18, 2)) for c in ("subtotal", "total")},
            **{
                c: pa.array(np.zeros(n_orders)).cast(pa.decimal128(18, 2))
                for c in ("discount", "shipping", "tax")
            },
        }
    )
    _put(
        app,
        "orders",
        orders.cast(pa.schema([arrow_schema(ORDERS).field(n) for n in orders.schema.names])),
        "ordered_at",
    )
    # What the import writer keeps beside the orders it writes (measure.placed).
    placed.rebuild(app.warehouse.duckdb)

    n_sends = customers * 4
    sent_at = _ago(rng, n_sends, 90)
    journey = rng.integers(1, JOURNEYS + 1, n_sends)
    roll = rng.random(n_sends)
    status = np.where(roll < 0.08, "skipped", np.where(roll < 0.10, "bounced", "sent"))
    keys = pa.array([f"{i}:email:1" for i in range(n_sends)])
    sends = pa.table(
        {
            "send_key": keys,
            "profile_id": rng.integers(1, customers + 1, n_sends),
            "journey_id": journey,
            "step": pa.array(np.where(rng.random(n_sends) < 0.6, "first_email", "follow_up")),
            "channel": pa.array(["email"] * n_sends),
            "template": pa.array(["cart"] * n_sends),
            "marketing": pa.array([True] * n_sends),
            "status": pa.array(status),
            "created_at": sent_at,
            "sent_at": pa.array(sent_at, mask=status != "sent"),
        }
    )
    _put(
        app,
        "message_sends",
        sends.cast(pa.schema([SENDS_SCHEMA.to_pyarrow().field(n) for n in sends.schema.names])),
        "created_at",
    )

    sent = np.flatnonzero(status == "sent")
    events: dict[str, list[Any]] = {
        "message_id": [],
        "type": [],
        "event": [],
        "timestamp": [],
        "properties": [],
    }
    for name, share, hours in (
        ("Email Opened", 0.30, 24.0),
        ("Email Link Clicked", 0.05, 48.0),
        ("Email Bounced", 0.01, 1.0),
        ("Unsubscribed", 0.003, 24.0),
    ):
        chosen = sent[rng.random(sent.size) < share]
        at = sent_at[chosen] + (rng.uniform(0, hours, chosen.size) * 3_600_000_000).astype(
            "timedelta64[us]"
        )
        complaint = rng.random(chosen.size) < 0.1
        events["message_id"] += [f"{name[:6]}-{i}" for i in chosen]
        events["type"] += ["track"] * chosen.size
        events["event"] += [name] * chosen.size
        events["timestamp"].append(at)
        events["properties"] += [
            f'{{"send_key": "{i}:email:1", "journey_id": {journey[i]}'
            + (', "reason": "complaint"}' if name == "Unsubscribed" and c else "}")
            for i, c in zip(chosen, complaint, strict=True)
        ]
    table = pa.table(
        {
            "message_id": events["message_id"],
            "type": events["type"],
            "event": events["event"],
            "timestamp": np.concatenate(events["timestamp"]),
            "properties": events["properties"],
        }
    )
    _put(
        app,
        "events",
        table.cast(pa.schema([arrow_schema(EVENTS).field(n) for n in table.schema.names])),
        "timestamp",
    )
    # What the journal loader writes beside each engagement event Lifetide journals.
    backend = app.warehouse.backend
    touches = backfill(backend.table("events"), backend.table(SENDS), backend.table(TOUCHES))
    backend.insert(TOUCHES, touches.order_by("touched_at"))

    first = _ago(rng, customers, 90)
    exposure_parts = [
        pa.table(
            {
                "experiment": pa.array([GLOBAL] * customers),
                "profile_id": profiles,
                "arm": pa.array(np.where(rng.random(customers) < 0.05, "holdout", "treated")),
                "first_at": first,
            }
        )
    ]
    for j in range(1, JOURNEYS + 1):
        entrants = rng.choice(profiles, customers // 3, replace=False)
        exposure_parts.append(
            pa.table(
                {
                    "experiment": pa.array([f"journey-{j}-holdout"] * entrants.size),
                    "profile_id": entrants,
                    "arm": pa.array(
                        np.where(rng.random(entrants.size) < 0.10, "holdout", "treated")
                    ),
                    "journey_id": np.full(entrants.size, j),
                    "first_at": _ago(rng, entrants.size, 90),
                }
            )
        )
    schema = EXPOSURES_SCHEMA.to_pyarrow()
    exposures = pa.concat_tables(
        [t.cast(pa.schema([schema.field(n) for n in t.schema.names])) for t in exposure_parts],
        promote_options="default",
    )
    _put(app, "exposures", exposures, "first_at")
    with transaction(app.sessions) as session:
        for j in range(1, JOURNEYS + 1):
            session.add(
                JourneyRecord(
                    id=j,
                    name=f"Journey {j}",
                    status="live",
                    version=1,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    # As a running warehouse is: DuckDB checkpoints its log into compressed blocks as it grows.
    app.warehouse.duckdb.execute("CHECKPOINT")
    return {
        "profiles": customers,
        "orders": n_orders,
        "message_sends": n_sends,
        "events": table.num_rows,
        "message_touches": app.warehouse.count(TOUCHES),
        "placed_orders": app.warehouse.count(PLACED),
        "exposures": exposures.num_rows,
    }


def timed(runs: int, work: Callable[[], object]) -> float:
    """Median seconds of `runs` calls after one warm-up."""
    work()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Generate, then time each dashboard; print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(data_dir=Path(folder), global_holdout_percent=5)
        with Lifetide(settings, clock=ManualClock(NOW)) as app:
            started = time.perf_counter()
            sizes = generate(app, args.customers)
            print(f"generated in {time.perf_counter() - started:.0f} s: {sizes}")
            boards = Dashboards(app)
            cases: list[tuple[str, Callable[[], object]]] = [
                ("overview, 7 days", lambda: boards.overview(period_ending(NOW, 7))),
                ("overview, 30 days", lambda: boards.overview(period_ending(NOW, 30))),
                ("journey, 30 days", lambda: boards.journey(1, period_ending(NOW, 30))),
                ("experiment: global control group", lambda: report(app, GLOBAL)),
            ]
            print(
                f"\n| dashboard ({args.customers:,} customers) "
                f"| median s ({args.runs} runs) | target |"
            )
            print("|---|---:|---:|")
            for name, work in cases:
                print(f"| {name} | {timed(args.runs, work):.3f} | < 1 |", flush=True)


if __name__ == "__main__":
    main()
