"""Real servers on loopback for journey tests: an SMTP mailbox and an SMS provider."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import create_engine, text

from lifetide.context import Lifetide
from lifetide.journeys.files import parse_journey
from lifetide.journeys.store import JourneyStore
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.models import Consent, Customer, JourneySend


@dataclass
class Mailbox:
    """An SMTP server that refuses addresses matching `bounce` (550) and keeps the rest."""

    bounce: re.Pattern[str] = re.compile(r"^bounce")
    # Refused for policy (a relay's spam filter): says nothing about the address.
    policy: re.Pattern[str] = re.compile(r"^policy")
    # Greylisted: 451 the first time an address is tried, accepted afterwards.
    greylist: re.Pattern[str] = re.compile(r"^grey")
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    tried: set[str] = field(default_factory=set)
    # Called with each message's connection and the message, before it is accepted.
    on_data: Callable[[Session, EmailMessage], None] | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.bounce.search(address):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if self.policy.search(address):
            return "554 5.7.1 Message rejected under policy"
        if self.greylist.search(address) and address not in self.tried:
            self.tried.add(address)
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        if self.on_data is not None:
            self.on_data(session, parsed)
        with self.lock:
            self.messages.append(parsed)
        return "250 2.0.0 Ok: queued"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages delivered to `address`, oldest first."""
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A running mailbox on 127.0.0.1 and its port."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class SmsProvider:
    """What a generic SMS webhook provider on loopback received."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def sms_provider() -> Iterator[tuple[SmsProvider, str]]:
    """An HTTP SMS provider on 127.0.0.1 that accepts every message; and its URL."""
    provider = SmsProvider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            provider.requests.append(json.loads(self.rfile.read(length)))
            provider.headers.append(dict(self.headers))
            body = json.dumps({"id": f"sms-{len(provider.requests)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider, f"http://127.0.0.1:{server.server_address[1]}/sms"
    finally:
        server.shutdown()
        server.server_close()


WELCOME = """
name: Welcome
trigger: {type: event, event: {event: Signed Up}}
start: hello
steps:
  hello: {type: send, template: welcome, next: exit}
"""


@contextmanager
def postgres_schema(base: str, prefix: str) -> Iterator[str]:
    """A URL to the PostgreSQL database `base` whose connections live in a new schema,
    dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def store_url(request: pytest.FixtureRequest, prefix: str) -> Iterator[str | None]:
    """For the "postgresql" param, a database URL in a schema of its own (dropped after);
    None (the embedded SQLite) otherwise."""
    if getattr(request, "param", None) != "postgresql":
        yield None
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), prefix) as url:
        yield url


def queue_welcomes(
    app: Lifetide,
    profiles: list[int],
    at: dt.datetime,
    addresses: Mapping[int, str] | None = None,
) -> None:
    """One due welcome e-mail per entry of `profiles` (a customer each, c{n}@shop.test
    unless `addresses` says otherwise), due an hour before `at`, in this order."""
    TemplateStore(app.sessions, app.clock).ensure_bundled()
    store = JourneyStore(app.sessions, app.clock)
    journey_id = store.create("Welcome", parse_journey(WELCOME), None).id
    store.set_status(journey_id, "live")
    addresses = addresses or {}
    with app.sessions.begin() as session:
        for n in sorted(set(profiles)):
            address = addresses.get(n, f"c{n}@shop.test")
            session.add(Customer(id=n, email=address, traits={}, created_at=at, updated_at=at))
            session.add(
                Consent(
                    customer_id=n,
                    channel="email",
                    purpose="marketing",
                    status="granted",
                    source="test",
                    updated_at=at,
                )
            )
    for n, profile in enumerate(profiles):
        instance = store.open_instance(journey_id, 1, profile, f"k{n}", step="hello")
        assert instance is not None
        with app.sessions.begin() as session:
            due = at - dt.timedelta(hours=1) + dt.timedelta(seconds=n)  # the backlog's order
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
                    profile_id=profile,
                    due_at=due,
                    marketing=True,
                )
            )
