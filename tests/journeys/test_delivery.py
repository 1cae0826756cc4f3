"""A round's e-mails stream: each recorded before its connection sends another, none waits
for another connection's answer (SQLite and PostgreSQL, a builder process, a real mailbox)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import Session
from sqlalchemy import create_engine, select, text

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.dispatch import Dispatcher
from lifetide.journeys.files import parse_journey
from lifetide.journeys.store import JourneyStore
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.models import Consent, Customer, JourneySend
from lifetide.settings import load_settings
from tests.journeys.conftest import Mailbox

T0 = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)  # mid-afternoon UTC: no quiet hours
WELCOME = """
name: Welcome
trigger: {type: event, event: {event: Signed Up}}
start: hello
steps:
  hello: {type: send, template: welcome, next: exit}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def app(
    request: pytest.FixtureRequest, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> Iterator[Lifetide]:
    """A Lifetide with a builder process and 3 SMTP connections, on either store."""
    url = None
    admin = None
    schema = f"lt_delivery_{uuid.uuid4().hex[:10]}"
    if request.param == "postgresql":
        base = request.getfixturevalue("postgres_url")
        admin = create_engine(base)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    settings = load_settings(
        data_dir=tmp_path / "data",
        env="test",
        smtp_url=f"smtp://127.0.0.1:{mailbox[1]}",
        smtp_connections=3,
        global_holdout_percent=0,
        render_processes=1,
        **({"database_url": url} if url else {}),
    )
    try:
        with Lifetide(settings, clock=ManualClock(T0)) as lifetide:
            yield lifetide
    finally:
        if admin is not None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _queue(app: Lifetide, addresses: list[str]) -> None:
    """One due welcome e-mail per address, in this order."""
    TemplateStore(app.sessions, app.clock).ensure_bundled()
    store = JourneyStore(app.sessions, app.clock)
    journey_id = store.create("Welcome", parse_journey(WELCOME), None).id
    store.set_status(journey_id, "live")
    with app.sessions.begin() as session:
        for n, address in enumerate(addresses, start=1):
            session.add(Customer(id=n, email=address, traits={}, created_at=T0, updated_at=T0))
            session.add(
                Consent(
                    customer_id=n,
                    channel="email",
                    purpose="marketing",
                    status="granted",
                    source="test",
                    updated_at=T0,
                )
            )
    for n in range(1, len(addresses) + 1):
        instance = store.open_instance(journey_id, 1, n, f"k{n}", step="hello")
        assert instance is not None
        with app.sessions.begin() as session:
            due = T0 - dt.timedelta(hours=1) + dt.timedelta(seconds=n)
            session.add(
                JourneySend(
                    instance_id=instance,
                    idempotency_key=f"{instance}:hello:1",
                    step="hello",
                    channel="email",
                    template="welcome",
                    status="pending",
                    created_at=due,
                    journey_id=journey_id,
                    profile_id=n,
                    due_at=due,
                    marketing=True,
                )
            )


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
    _queue(app, [f"c{n}@shop.test" for n in range(1, 41)])
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
    _queue(app, ["grey@shop.test", *(f"c{n}@shop.test" for n in range(2, 31))])
    _dispatch_all(app, limit=50)
    arrived = [str(m["To"]) for m in box.messages]
    assert len(arrived) == 30
    assert arrived[-1] == "grey@shop.test"
    with app.sessions() as session:
        statuses = set(session.scalars(select(JourneySend.status)))
    assert statuses == {"sent"}
