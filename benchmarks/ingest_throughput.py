"""Benchmark: durable ingest into /v1/batch, load from a second process on loopback.

Starts `lifetide serve --no-worker` on a fresh data folder, then a load-generator process sends
gzipped batches of 100 Segment track events (unique messageIds, e-commerce properties) over
`--connections` keep-alive connections for `--seconds`. A 200 means the batch is committed
to the journal (SQLite WAL, synchronous=FULL). Reports events/s overall and per 10-second
window, and p50/p99 reply latency. Afterwards it times the warehouse loader catching up.

    .venv/bin/python benchmarks/ingest_throughput.py --seconds 300
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

BATCH = 100
POOL = 30_000  # distinct batches: 3M unique events


def make_body(worker: int, n: int) -> bytes:
    """One gzipped batch of 100 realistic track events with unique ids."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    batch = [
        {
            "type": "track",
            "event": "Product Viewed" if i % 3 else "Product Added",
            "anonymousId": f"anon-{worker}-{n % 5000}",
            "messageId": f"{worker}-{n}-{i}",
            "timestamp": now,
            "properties": {
                "product_id": f"P{(n * 7 + i) % 2000}",
                "category": "skincare",
                "brand": "Lumen",
                "price": 24.5,
                "quantity": 1,
                "cart_id": f"cart-{worker}-{n % 700}",
            },
            "context": {"library": {"name": "bench"}, "page": {"url": "https://shop.example/p"}},
        }
        for i in range(BATCH)
    ]
    return gzip.compress(orjson.dumps({"batch": batch, "sentAt": now}), compresslevel=6)


async def load(url: str, key: str, seconds: float, connections: int) -> dict[str, object]:
    """Send batches for `seconds` over `connections` keep-alive connections.

    A minimal HTTP/1.1 client on asyncio streams: a general-purpose client costs more CPU
    per request than the server does, and both share this machine's two cores.
    """
    host, port = url.removeprefix("http://").split(":")
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    # Unique bodies, built before the clock starts; a full run reuses them once the pool
    # is spent (the API does not deduplicate; the loader does, downstream).
    pool = [
        _request(host, auth, make_body(w, n))
        for w in range(connections)
        for n in range(POOL // connections)
    ]
    latencies: list[float] = []
    windows: dict[int, int] = {}
    errors = 0
    start = time.perf_counter()

    async def sender(worker: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        n = worker
        while time.perf_counter() - start < seconds:
            request = pool[n % len(pool)]
            n += connections
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            t1 = time.perf_counter()
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
                continue
            latencies.append(t1 - t0)
            window = int((t1 - start) // 10)
            windows[window] = windows.get(window, 0) + BATCH
        writer.close()

    await asyncio.gather(*(sender(w) for w in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    per_window = [windows[w] / 10 for w in sorted(windows) if (w + 1) * 10 <= elapsed]
    return {
        "seconds": round(elapsed, 1),
        "events": len(latencies) * BATCH,
        "events_per_s": round(len(latencies) * BATCH / elapsed),
        "min_window_events_per_s": round(min(per_window)) if per_window else None,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "errors": errors,
        "unique_events": len(pool) * BATCH,
    }


def _request(host: str, auth: str, body: bytes) -> bytes:
    head = (
        f"POST /v1/batch HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lifetide-ingest-bench"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-load", action="store_true", help="skip timing the warehouse loader")
    parser.add_argument("--load-only", nargs=2, metavar=("URL", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.load_only:  # the second process
        result = asyncio.run(
            load(args.load_only[0], args.load_only[1], args.seconds, args.connections)
        )
        print(json.dumps(result))
        return

    shutil.rmtree(args.workdir, ignore_errors=True)
    env = {**os.environ, "LIFETIDE_DATA_DIR": str(args.workdir), "COLUMNS": "200"}
    lifetide = str(Path(sys.executable).parent / "lifetide")
    created = subprocess.run(
        [lifetide, "source", "create", "bench"], env=env, capture_output=True, text=True, check=True
    )
    key = created.stdout.strip().splitlines()[-1]
    server = subprocess.Popen([lifetide, "serve", "--no-worker", "--port", str(args.port)], env=env)
    url = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        loader = subprocess.run(
            [
                sys.executable,
                __file__,
                "--seconds",
                str(args.seconds),
                "--connections",
                str(args.connections),
                "--load-only",
                url,
                key,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(loader.stdout)
    finally:
        server.terminate()
        server.wait(30)
    result["journal_mib"] = round((args.workdir / "journal.db").stat().st_size / 2**20)
    if not args.no_load:
        t0 = time.perf_counter()
        subprocess.run([lifetide, "load"], env=env, check=True, capture_output=True)
        load_s = time.perf_counter() - t0
        result["warehouse_load_s"] = round(load_s, 1)
        result["warehouse_load_events_per_s"] = round(result["events"] / load_s)  # type: ignore[operator]
    result["connections"] = args.connections
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
