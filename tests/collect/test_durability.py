"""kill -9 of the server during a load loses no acknowledged event."""

from __future__ import annotations

import base64
import signal
import threading
import time

import httpx
import orjson

from lifetide.collect.loader import WarehouseLoader
from lifetide.context import Lifetide
from lifetide.settings import Settings
from tests.collect.server import free_port, serve_process, wait_until_up


def test_kill_9_during_load_loses_no_acknowledged_event(settings: Settings) -> None:
    with Lifetide(settings) as setup:
        key = setup.sources.create("load").write_key
    port = free_port()
    server = serve_process(settings.data_dir, port)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url)

    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}

    def send(worker: int) -> None:
        with httpx.Client(timeout=5) as client:
            for n in range(100_000):
                if stop.is_set():
                    return
                ids = [f"w{worker}-b{n}-m{i}" for i in range(50)]
                batch = [
                    {"type": "track", "event": "Product Viewed", "userId": f"u{i}", "messageId": m}
                    for i, m in enumerate(ids)
                ]
                try:
                    reply = client.post(
                        f"{url}/v1/batch", content=orjson.dumps({"batch": batch}), headers=auth
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if reply.status_code == 200:
                    with lock:
                        acknowledged.extend(ids)

    senders = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for t in senders:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 20_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)
    server.wait(10)
    stop.set()
    for t in senders:
        t.join(10)
    assert len(acknowledged) >= 20_000, "the load did not get going"

    with Lifetide(settings) as after:
        WarehouseLoader(after.journal, after.warehouse).load_all()
        stored = {
            m for (m,) in after.warehouse.duckdb.execute("SELECT message_id FROM events").fetchall()
        }
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
