"""The real Studio on a small synthetic retailer, served by uvicorn on 127.0.0.1, and Chromium.

The retailer is the resolved 3,000-person shop of tests/conftest.py (built once a run), copied
and scored here; the app's clock stands still the day after the shop's last day.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from lifetide.accounts.service import accounts_for
from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.scoring.pipeline import ScoreOptions, Scorer
from lifetide.settings import load_settings
from lifetide.web.app import create_app
from tests.conftest import SHOP_END

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOW = dt.datetime.combine(SHOP_END + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
MARKETER = ("mia.marketer@example.com", "tide-pools-and-skincare")


@dataclass(frozen=True)
class Studio:
    """A running Studio: where it listens, its Lifetide, and a marketer who can sign in."""

    url: str
    app: Lifetide
    email: str
    password: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def chromium_path() -> Path:
    """Debian's Chromium; the browser tests skip without it, except under CI=true."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run scripts/setup (it installs chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def studio(synth_shop_dir: Path, tmp_path: Path) -> Iterator[Studio]:
    """The scored shop behind a real uvicorn server on a free port, with a marketer."""
    data = tmp_path / "shop"
    shutil.copytree(synth_shop_dir, data)
    # The test pushes a segment to a webhook receiver on 127.0.0.1, a private address.
    settings = load_settings(data_dir=data, env="test", allow_private_destinations=True)
    with Lifetide(settings, ManualClock(NOW)) as app:
        Scorer(app, ScoreOptions(as_of=SHOP_END, evaluate=False)).run()
        accounts_for(app).create_user(*MARKETER, "marketer", name="Mia Marketer")
        with serving(app) as url:
            yield Studio(url, app, *MARKETER)


@contextmanager
def serving(app: Lifetide) -> Iterator[str]:
    """`app`'s Studio behind a real uvicorn server on a free port of 127.0.0.1: its address."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(app), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="studio", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Studio did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
