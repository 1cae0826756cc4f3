"""From a cart's wait ending to its e-mail at the sink, with a real Worker thread.

Part of benchmarks/journeys.py (see its docstring).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any

from sqlalchemy import select, update

from journey_shop import Shop, profiled, say
from lifetide.journeys.engine import JourneyEngine
from lifetide.ops.models import JourneySend
from lifetide.worker import Worker

STEADY_LEAD = 20.0  # seconds of steady load before the first cart's wait ends


def bench_latency(
    shop: Shop, carts: int, spread: float, load: int, mode: str, rate: float, profile: bool
) -> dict[str, Any]:
    """Delay from each cart's wait ending to its e-mail reaching the sink, with a Worker."""
    with shop.open() as app:
        load_keys: set[str] = set()
        if load:
            load_pids = shop.take(load)
            due = app.clock.now() - dt.timedelta(minutes=1)
            load_ids = shop.open_waiting(app, dict.fromkeys(load_pids, due))
            engine = JourneyEngine(app, "bench-load")
            while engine.runner.run_batch(2000).claimed:
                pass
            engine.close()
            load_keys = {f"{i}:first_email:1" for i in load_ids.values()}
        lead = 3.0 if mode != "steady" else STEADY_LEAD
        begin = time.time()
        if mode == "steady":
            # The load falls due evenly from now on, at `rate` a second.
            with app.sessions.begin() as session:
                ids = session.scalars(
                    select(JourneySend.id)
                    .where(JourneySend.idempotency_key.in_(load_keys))
                    .order_by(JourneySend.id)
                ).all()
                session.execute(
                    update(JourneySend),
                    [
                        {"id": i, "due_at": dt.datetime.fromtimestamp(begin + k / rate, dt.UTC)}
                        for k, i in enumerate(ids)
                    ],
                )
        pids = shop.take(carts)
        first = time.time() + lead
        wakes = {pid: first + k * spread / max(1, carts - 1) for k, pid in enumerate(pids)}
        ids_of = shop.open_waiting(
            app, {pid: dt.datetime.fromtimestamp(w, dt.UTC) for pid, w in wakes.items()}
        )
        wanted = {f"{ids_of[pid]}:first_email:1": wake for pid, wake in wakes.items()}
        shop.sink.forget()
        say(f"{shop.name}: latency of {carts} carts, load {load} ({mode})")
        worker = Worker(app)
        started = time.time()
        deadline = first + spread + 900

        def done() -> bool:
            shop.sink.read()
            return wanted.keys() <= shop.sink.arrived.keys() and (
                mode != "steady" or load_keys <= shop.sink.arrived.keys()
            )

        if profile:
            # The worker's own loop, on this thread, so that cProfile sees its rounds.
            with profiled(True):
                while not done() and time.time() < deadline:
                    if not worker.run_once():
                        time.sleep(0.5)
            worker.stop()
        else:
            worker.start()
            try:
                while not done() and time.time() < deadline:
                    time.sleep(0.05)
            finally:
                worker.stop()
        if not done():
            raise SystemExit("the cart e-mails did not all arrive within 15 minutes")
        shop.sink.read()
    delays = sorted(shop.sink.arrived[k] - wake for k, wake in wanted.items())
    if delays[0] < 0:
        raise SystemExit(f"an e-mail left {-delays[0]:.2f} s before its wait ended")
    row: dict[str, Any] = {
        "store": shop.name,
        "load": {"none": "none", "burst": f"{load} due at once"}.get(
            mode, f"{load} falling due at {rate:.0f}/s"
        ),
        "carts": carts,
        "p50_s": round(statistics.median(delays), 2),
        "p95_s": round(delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))], 2),
        "max_s": round(delays[-1], 2),
        "min_s": round(delays[0], 2),
    }
    if load_keys:
        arrived = [shop.sink.arrived[k] for k in load_keys if k in shop.sink.arrived]
        row["load_sent"] = len(arrived)
        if arrived:
            row["load_per_s"] = round(len(arrived) / (max(arrived) - started))
    say(str(row))
    return row
