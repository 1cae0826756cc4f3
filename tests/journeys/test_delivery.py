"""A round's e-mails stream: each recorded before its connection sends another, none waits
for another connection's answer (SQLite and PostgreSQL, a builder process, a real mailbox)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import Session
from sqlalchemy import create_engine, select

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.dispatch import Dispatcher
from lifetide.ops.models import JourneySend
from lifetide.settings import load_settings
from tests.journeys.conftest import Mailbox, queue_welcomes, store_url

T0 = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)  # mid-afternoon UTC: no quiet hours


@pytest.fixture(params=["sqlite", "postgresql"])
def app(
    request: pytest.FixtureRequest, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> Iterator[Lifetide]:
    """A Lifetide with a builder process and 3 SMTP connections, on either store."""
    with store_url(request, "lt_delivery") as url:
        settings = load_settings(
            data_dir=tmp_path / "data",
            env="test",
            smtp_url=f"smtp://127.0.0.1:{mailbox[1]}",
            smtp_connections=3,
            global_holdout_percent=0,
            render_processes=1,
            **({"database_url": url} if url else {}),
        )
        with Lifetide(settings, clock=ManualClock(T0)) as lifetide:
            yield lifetide


def _dispatch_all(app: Lifetide, limit: int) -> None:
    dispatcher = Dispatcher(app, "w1")
    try:
        while dispatcher.dispatch(limit).claimed:
            pass
    finally:
        dispatcher.close()


def test_each_email_is_recorded_before_its_connection_sends_another(
    app: Lifetide, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    engine = create_engine(app.ops_engine.url)
    last_on: dict[int, str] = {}  # the last send key each connection delivered
    unrecorded: list[str] = []
    lock = threading.Lock()

    def check(session: Session, message: EmailMessage) -> None:
        # The mailbox's thread: when a connection's next message arrives, its last one must
        # already be recorded as sent, or a crash now would leave two in doubt on it.
        with lock:
            before = last_on.get(id(session))
            last_on[id(session)] = str(message["X-Lifetide-Send"])
        if before is None:
            return
        with engine.connect() as connection:
            status = connection.scalar(
                select(JourneySend.status).where(JourneySend.idempotency_key == before)
            )
        if status != "sent":
            unrecorded.append(f"{before}: {status}")

    box.on_data = check
    queue_welcomes(app, list(range(1, 41)), T0)
    try:
        _dispatch_all(app, limit=16)
    finally:
        engine.dispose()
    assert len(box.messages) == 40
    assert unrecorded == []
    assert len(last_on) == 3  # the pool's connections, reused throughout


def test_a_greylisted_address_holds_up_no_other_email(
    app: Lifetide, mailbox: tuple[Mailbox, int]
) -> None:
    # The first e-mail is deferred (451) and tried again after the transport's backoff (a
    # second); the others go meanwhile on the free connections, not behind it.
    box, _ = mailbox
    queue_welcomes(app, list(range(1, 31)), T0, {1: "grey@shop.test"})
    _dispatch_all(app, limit=50)
    arrived = [str(m["To"]) for m in box.messages]
    assert len(arrived) == 30
    assert arrived[-1] == "grey@shop.test"
    with app.sessions() as session:
        statuses = set(session.scalars(select(JourneySend.status)))
    assert statuses == {"sent"}
