"""Kill -9 during sends, restart, and every due message goes out once (PostgreSQL, 2 workers).

Real processes throughout: two `lifetide worker` processes share the operational database on
PostgreSQL and deliver over SMTP to the sink process in benchmarks/smtp_sink.py. The test kills
a worker with SIGKILL at random moments while it sends, starts it again, and at the end checks
the outbox and the sink:
- every send is recorded once (its key is unique) and ends `sent`;
- every message reached the sink, and the mailbox (one message per Message-ID, as mailbox
  providers file them) holds each exactly once;
- raw SMTP re-deliveries are only of sends marked as resent after an interrupted attempt
  (killed between the server's 250 and the commit that records it).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, func, select

from lifetide.context import Lifetide
from lifetide.journeys.files import parse_journey
from lifetide.journeys.outbox import RESENT
from lifetide.journeys.store import JourneyStore
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.models import Consent, Customer, JourneyInstance, JourneySend
from lifetide.settings import load_settings
from tests.journeys.conftest import postgres_schema
from tests.sink import start_sink

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = 400
WELCOME = """
name: Crash welcome
trigger: {type: event, event: {event: Signed Up}}
start: hello
steps:
  hello: {type: send, template: welcome, next: exit}
"""


@pytest.fixture
def schema_url(postgres_url: str) -> Iterator[str]:
    """A database URL whose connections live in a schema of their own."""
    with postgres_schema(postgres_url, "lt_crash") as url:
        yield url


def _worker(name: str, env: dict[str, str], data_dir: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-c",
        "from lifetide.cli.app import main; main()",
        "--data-dir",
        str(data_dir),
        "worker",
        "--no-journal",
        "--name",
        name,
        "--idle",
        "0.05",
        "--lease",
        "3",
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _prepare(url: str, data_dir: Path) -> None:
    settings = load_settings(data_dir=data_dir, database_url=url, env="test")
    with Lifetide(settings) as app:
        TemplateStore(app.sessions, app.clock).ensure_bundled()
        store = JourneyStore(app.sessions, app.clock)
        journey_id = store.create("Crash welcome", parse_journey(WELCOME), None).id
        store.set_status(journey_id, "live")
        now = app.clock.now()
        with app.sessions.begin() as session:
            customers = [
                Customer(email=f"c{i}@crash.test", traits={}, created_at=now, updated_at=now)
                for i in range(CUSTOMERS)
            ]
            session.add_all(customers)
            session.flush()
            session.add_all(
                Consent(
                    customer_id=c.id,
                    channel="email",
                    purpose="marketing",
                    status="granted",
                    source="test",
                    updated_at=now,
                )
                for c in customers
            )
            ids = [c.id for c in customers]
        for profile_id in ids:
            assert store.open_instance(journey_id, 1, profile_id, None, step="hello") is not None


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_kill_9_during_sends_then_restart_sends_every_message_once(
    schema_url: str, tmp_path: Path
) -> None:
    _prepare(schema_url, tmp_path / "setup")
    out = tmp_path / "sink.jsonl"
    # 20 ms to answer each DATA: the 400 e-mails take seconds on any machine, so the kills
    # land while they are sent (on a fast machine they were all out after two kills).
    sink, port = start_sink(out, "--data-delay", "0.02")
    env = {
        **os.environ,
        "LIFETIDE_DATABASE_URL": schema_url,
        "LIFETIDE_ENV": "test",
        "LIFETIDE_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "LIFETIDE_SMTP_CONNECTIONS": "2",
        "LIFETIDE_QUIET_HOURS": "",
        "LIFETIDE_MARKETING_PER_DAY": "5",
        # Every customer is to be e-mailed: none held out for measurement.
        "LIFETIDE_GLOBAL_HOLDOUT_PERCENT": "0",
    }
    workers = {n: _worker(n, env, tmp_path / n) for n in ("w1", "w2")}
    engine = create_engine(schema_url)
    rng = random.Random(20261122)
    kills = 0
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                sent = connection.scalar(
                    select(func.count())
                    .select_from(JourneySend)
                    .where(JourneySend.status == "sent")
                )
            if sent == CUSTOMERS:
                break
            if kills < 6 and 0 < (sent or 0) < CUSTOMERS:
                time.sleep(rng.uniform(0.05, 0.4))
                name = rng.choice(sorted(workers))
                workers[name].send_signal(signal.SIGKILL)
                workers[name].wait()
                kills += 1
                workers[name] = _worker(name, env, tmp_path / name)
            else:
                time.sleep(0.2)
        else:
            pytest.fail(f"not every message was sent in time ({sent} of {CUSTOMERS})")
    finally:
        for process in workers.values():
            process.send_signal(signal.SIGTERM)
        for process in workers.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=20)

    assert kills >= 3, "the workers finished before they could be killed often enough"
    with engine.connect() as connection:
        rows = connection.execute(
            select(JourneySend.idempotency_key, JourneySend.status, JourneySend.reason)
        ).all()
        done = connection.scalar(
            select(func.count())
            .select_from(JourneyInstance)
            .where(JourneyInstance.status == "done")
        )
    engine.dispose()
    keys = [r[0] for r in rows]
    assert len(keys) == CUSTOMERS == len(set(keys))  # one recorded send per instance
    assert {r[1] for r in rows} == {"sent"}
    assert done == CUSTOMERS
    resent = {r[0] for r in rows if r[2] == RESENT}

    lines = [orjson.loads(line) for line in out.read_text().splitlines() if line.strip()]
    arrivals = Counter(line["x_lifetide_send"] for line in lines)
    assert set(arrivals) == set(keys)  # every message arrived
    mailbox = {line["message_id"]: line["x_lifetide_send"] for line in lines}
    assert len(mailbox) == CUSTOMERS  # once per Message-ID: once in the customer's mailbox
    twice = {key for key, n in arrivals.items() if n > 1}
    assert twice <= resent, f"re-delivered without being marked resent: {sorted(twice - resent)}"
    print(
        f"kills={kills} raw re-deliveries={sum(arrivals.values()) - CUSTOMERS} resent={len(resent)}"
    )
