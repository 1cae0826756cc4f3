"""Running the real API on loopback for tests: in a thread, or as its own process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from lifetide.context import Lifetide
from lifetide.web.app import create_app


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, seconds: float = 20) -> None:
    """Poll /health until the server answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not come up in {seconds} s")


@contextmanager
def server_thread(app: Lifetide) -> Iterator[str]:
    """Uvicorn serving `app` on a loopback port in this process; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def serve_process(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """`lifetide serve --no-worker` as a separate process on `port`."""
    script = Path(sys.executable).parent / "lifetide"
    env = {**os.environ, "LIFETIDE_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [str(script), "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
