"""The cost of a batch's cart and view activity: recent activity by index against a scan.

    .venv/bin/python benchmarks/context_reads.py [--customers 1000000] [--batches 10]
        [--batch 200] [--postgres URL | --postgres '']

Builds the warehouse of benchmarks/journey_shop.py (2.5 M events at a million customers, all
within the last 30 days) in a temporary folder, copies its cart and view events to recent
activity (`shopper_activity`, lifetide.collect.activity) on SQLite and, unless `--postgres ''`,
on PostgreSQL, then reads a batch's activity as the message contexts do
(`RecentActivity.read` then `cart_and_views`) for batches of pool customers: once for
neighbouring customers and once for customers spread over the whole id range (what the
claim's two halves give). Peer, same run: a plain DuckDB `SELECT` of the same columns
`WHERE user_id IN (...)` on the warehouse's events, the least the scan that recent activity
replaced could cost (that scan itself took 1.25x this; see docs/benchmarks.md). CPU is this
process's (DuckDB's threads included; PostgreSQL's server process not: its share is in the
wall time).

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from journey_shop import POOL_EVERY, Sink, embedded_shop, postgres_shop, say
from lifetide.messaging.activity import cart_and_views

VIEWED = 4  # MessageContexts' default depth of recent views (its `viewed` argument)
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=3_000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--postgres", default=POSTGRES, help="'' skips PostgreSQL")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="lifetide-contexts-"))
    sink = Sink.start(folder)
    rows: list[dict[str, Any]] = []
    try:
        stores: list[Callable[[], Any]] = [lambda: embedded_shop(folder, sink)]
        if args.postgres:
            stores.append(lambda: postgres_shop(folder, sink, args.postgres))
        for make in stores:
            with make() as shop, shop.open() as app:
                say(f"{shop.name}: building the warehouse ({args.customers} customers)")
                now = dt.datetime.now(dt.UTC)
                shop.build_warehouse(app, args.customers, args.products, now)
                started = time.perf_counter()
                copied = app.activity.copy_from(app.warehouse)
                say(f"copied {copied} events to recent activity in "
                    f"{time.perf_counter() - started:.1f} s")  # fmt: skip
                rows += measure(app, shop.name, args.customers, args.batches, args.batch)
    finally:
        sink.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"date {dt.date.today().isoformat()}; batches of {args.batch}, {args.batches} each\n")
    print("| store | customers of a batch | read | CPU ms a batch | wall ms a batch | rows |")
    print("|---|---|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['store']} | {row['layout']} | {row['query']} | {row['cpu_ms']:.1f} | "
              f"{row['wall_ms']:.1f} | {row['rows']} |")  # fmt: skip


def measure(app: Any, store: str, customers: int, batches: int, size: int) -> list[dict[str, Any]]:
    """Each layout: recent activity's read and the plain scan, `batches` batches each."""
    pool = list(range(POOL_EVERY, customers + 1, POOL_EVERY))
    until = dt.datetime.now(dt.UTC)
    con = app.warehouse.duckdb

    def recent(pids: list[int]) -> int:
        users = [f"u{p}" for p in pids]
        devices = [f"d{p}" for p in pids]
        carts = [(p, f"cart-{p}") for p in pids]
        keys = [("user_id", u, p) for u, p in zip(users, pids, strict=True)]
        keys += [("anonymous_id", d, p) for d, p in zip(devices, pids, strict=True)]
        found = app.activity.read(users, devices, [c for _, c in carts], until)
        lines, views = cart_and_views(found, keys, carts, VIEWED)
        return sum(map(len, lines.values())) + sum(map(len, views.values()))

    def plain(pids: list[int]) -> int:
        ids = ", ".join(f"'u{p}'" for p in pids)
        sql = (
            "SELECT user_id, event, product_id, cart_id, timestamp, quantity FROM events "
            f"WHERE user_id IN ({ids})"
        )
        return len(con.execute(sql).fetchall())

    rng = random.Random(7)
    layouts: dict[str, Callable[[int], list[int]]] = {
        "neighbours": lambda i: pool[i * size : (i + 1) * size],
        "spread over the ids": lambda i: sorted(rng.sample(pool, size)),
    }
    recent(pool[:size])  # the first read opens connections and prepares, as a first round does
    plain(pool[:size])
    rows: list[dict[str, Any]] = []
    for layout, pick in layouts.items():
        picked = [pick(i) for i in range(batches)]
        for name, query in (("recent activity", recent), ("peer: plain IN scan", plain)):
            cpu, wall = time.process_time(), time.perf_counter()
            found = sum(query(pids) for pids in picked)
            rows.append(
                {
                    "store": store,
                    "layout": layout,
                    "query": name,
                    "cpu_ms": (time.process_time() - cpu) * 1000 / batches,
                    "wall_ms": (time.perf_counter() - wall) * 1000 / batches,
                    "rows": found // batches,
                }
            )
            say(str(rows[-1]))
    return rows


if __name__ == "__main__":
    main()
