"""The cost of a batch's cart and view activity (the message contexts' events scan).

    .venv/bin/python benchmarks/context_reads.py [--customers 1000000] [--batches 10]
        [--batch 200]

Builds the warehouse of benchmarks/journey_shop.py (2.5 M events at a million customers) in a
temporary folder and runs `activity_query` (messaging/context_reads.py) for batches of pool
customers, as the dispatcher does for each round's e-mails: once for neighbouring customers
(the events of a batch sit close together, DuckDB's min/max filters skip most of the table)
and once for customers spread over the whole id range (what the claim's two halves give, and
what a warehouse in time order gives whatever the batch). Process CPU includes DuckDB's
threads. Peer, same run: a plain `SELECT` of the same columns `WHERE user_id IN (...)` with
the batch's ids as literals, the least a scan of the events can cost.

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

import pyarrow as pa

from journey_shop import POOL_EVERY, Shop, Sink, say
from lifetide.messaging.context_reads import (
    EVENTS,
    Reader,
    activity_query,
    carts_table,
    column,
    owners_table,
)

VIEWED = 4  # MessageContexts' default depth of recent views (its `viewed` argument)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=3_000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="lifetide-contexts-"))
    sink = Sink.start(folder)
    try:
        shop = Shop("embedded", folder, None, sink)
        with shop.open() as app:
            say(f"building the warehouse ({args.customers} customers)")
            shop.build_warehouse(app, args.customers, args.products, dt.datetime.now(dt.UTC))
            rows = measure(app, args.customers, args.batches, args.batch)
    finally:
        sink.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"date {dt.date.today().isoformat()}; batches of {args.batch}, {args.batches} each\n")
    print("| customers of a batch | query | CPU ms a batch | wall ms a batch | rows |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['layout']} | {row['query']} | {row['cpu_ms']:.0f} | "
              f"{row['wall_ms']:.0f} | {row['rows']} |")  # fmt: skip


def measure(app: Any, customers: int, batches: int, size: int) -> list[dict[str, Any]]:
    """Each layout, the activity query and the plain scan, `batches` batches each."""
    pool = list(range(POOL_EVERY, customers + 1, POOL_EVERY))
    until = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    reader = Reader()
    con = app.warehouse.duckdb

    def activity(pids: list[int]) -> int:
        keys = [(kind, f"{prefix}{p}", p) for p in pids
                for kind, prefix in (("user_id", "u"), ("anonymous_id", "d"))]  # fmt: skip
        inputs = {
            "owners": owners_table(keys, until),
            "carts": carts_table([(p, f"cart-{p}") for p in pids]),
            "depth": column("depth", [VIEWED], pa.int64()),
        }
        return len(reader.read(app.warehouse, activity_query, {"events": EVENTS}, inputs))

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
    activity(pool[:size])  # compiles the query once, as a dispatcher's first round does
    rows: list[dict[str, Any]] = []
    for layout, pick in layouts.items():
        picked = [pick(i) for i in range(batches)]
        for name, query in (("activity_query", activity), ("peer: plain IN scan", plain)):
            cpu, wall = time.process_time(), time.perf_counter()
            found = sum(query(pids) for pids in picked)
            rows.append(
                {
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
