"""Journey benchmarks (issue 6): e-mails per second, due steps per minute, cart e-mail latency.

    .venv/bin/python benchmarks/journeys.py [--customers 1000000] [--emails 10000]
        [--steps 100000] [--postgres URL | --postgres ''] [--only emails|steps|latency]

Each figure is measured on the embedded stores (SQLite ops, DuckDB warehouse) and on
PostgreSQL ops (a fresh schema, dropped afterwards; `--postgres ''` skips it), against the shop
of benchmarks/journey_shop.py, with the SMTP sink (benchmarks/smtp_sink.py) as a separate
process on loopback. Quiet hours are off (the run's clock may be anyone's night); consent,
suppression and caps are checked as always.

- emails: `--emails` cart instances whose hour is up are run to their send step by the
  JourneyRunner and the Dispatcher is made and warmed up (its builder process started, the
  warehouse opened; untimed), then the Dispatcher is timed until the outbox is empty: claim,
  policy gate, promo code, context, render, compose, SMTP, record. Peer, same run: the same
  messages built again (timed on their own: contexts, codes, render, compose) and pushed
  through SmtpTransport alone with the same number of connections, in one batch (the
  transport's ceiling) and in the dispatcher's chunks of 4 x connections. CPU milliseconds
  an e-mail are given per process (dispatcher, builder, sink), for PostgreSQL's processes
  (0 on the embedded stores) and for the whole machine (every core's busy time).
- steps: `--steps` cart instances due now, JourneyRunner.run_batch(limit) until none is due,
  per batch limit. Peer: one INSERT ... SELECT of the outbox rows and one UPDATE of the
  instances, the same state change in hand-written SQL, in the same database.
- latency: a real Worker thread (idle 0.5 s, SystemClock) and `--carts` cart instances whose
  wait ends at known, staggered times over `--spread` seconds; the delay from each wait's end
  to the sink's acceptance of its e-mail. Three runs: idle; `--load` other sends due at once
  when the worker starts (a burst); and sends falling due steadily at `--steady-rate` a second
  (default: half the store's measured e-mails/s) from 20 s before the first wait ends to 10 s
  after the last.

Prints one Markdown table per figure, then the set-up's figures as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from journey_emails import bench_emails
from journey_latency import STEADY_LEAD, bench_latency
from journey_shop import Shop, Sink, embedded_shop, postgres_shop, say
from journey_steps import bench_steps
from lifetide.runtime import tune_garbage_collection

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def machine() -> str:
    """This machine in one line: cores, CPU model, memory, Python."""
    model = "?"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line),
            "?",
        )
    except OSError:
        pass
    memory = Path("/proc/meminfo").read_text().split()[1]
    return (
        f"{os.cpu_count()} cores ({model}), {int(memory) / 1024**2:.0f} GiB RAM, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end"
    )


def table(rows: list[dict[str, Any]]) -> str:
    """Rows as a Markdown table (columns: the union of keys, in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def shops(
    args: argparse.Namespace, workdir: Path, sink: Sink
) -> Iterator[AbstractContextManager[Shop]]:
    """The stores to measure on: embedded, then PostgreSQL unless --postgres ''."""
    if not args.skip_embedded:
        yield embedded_shop(workdir, sink)
    if args.postgres:
        yield postgres_shop(workdir, sink, args.postgres)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=3_000)
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--connections", default="4,8", help="comma-separated SMTP pool sizes")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--limits", default="500,2000", help="comma-separated batch limits")
    parser.add_argument("--carts", type=int, default=50)
    parser.add_argument("--spread", type=float, default=20.0, help="seconds the waits end over")
    parser.add_argument("--load", type=int, default=20_000)
    parser.add_argument(
        "--steady-rate",
        type=float,
        default=0.0,
        help="sends/s of the steady load (default: half the store's measured e-mails/s)",
    )
    parser.add_argument("--postgres", default=POSTGRES, help="'' skips PostgreSQL")
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--only", choices=["emails", "steps", "latency"])
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the pipeline, the runner (first limit) and the worker's rounds",
    )
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    wanted = {args.only} if args.only else {"steps", "emails", "latency"}
    # As `lifetide worker` and `lifetide serve` do: the figures are those of a worker process.
    tune_garbage_collection()

    sink_folder = Path(tempfile.mkdtemp(prefix="lifetide-sink-", dir=args.workdir))
    sink = Sink.start(sink_folder)
    steps: list[dict[str, Any]] = []
    emails: list[dict[str, Any]] = []
    latency: list[dict[str, Any]] = []
    setup: list[dict[str, Any]] = []
    try:
        for made in shops(args, args.workdir, sink):
            with made as shop:
                say(f"{shop.name}: building the shop ({args.customers} customers)")
                shop.build(args.customers, args.products)
                with shop.open() as app:
                    setup.append(
                        {"store": shop.name, **shop.setup_seconds, **shop.warehouse_counts(app)}
                    )
                say(str(setup[-1]))
                if "steps" in wanted:
                    limits = [int(x) for x in args.limits.split(",")]
                    steps += bench_steps(shop, args.steps, limits, args.profile)
                if "emails" in wanted:
                    for connections in (int(x) for x in args.connections.split(",")):
                        emails += bench_emails(shop, args.emails, connections, args.profile)
                if "latency" in wanted:
                    latency.append(
                        bench_latency(shop, args.carts, args.spread, 0, "none", 0, args.profile)
                    )
                    if args.load:
                        latency.append(
                            bench_latency(
                                shop, args.carts, args.spread, args.load, "burst", 0, args.profile
                            )
                        )
                    measured = [r["emails_per_s"] for r in emails if r["store"] == shop.name]
                    rate = args.steady_rate or (measured[0] / 2 if measured else 100.0)
                    count = round(rate * (STEADY_LEAD + args.spread + 10))
                    latency.append(
                        bench_latency(
                            shop, args.carts, args.spread, count, "steady", rate, args.profile
                        )
                    )
    finally:
        sink.stop()
        shutil.rmtree(sink_folder, ignore_errors=True)
    print(f"date {dt.date.today().isoformat()}; {machine()}\n")
    for title, rows in (("Due steps", steps), ("E-mails", emails), ("Latency", latency)):
        if rows:
            print(f"### {title}\n\n{table(rows)}\n")
    print(json.dumps({"setup_seconds": setup}, default=str))


if __name__ == "__main__":
    main()
