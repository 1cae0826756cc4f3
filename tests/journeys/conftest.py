"""Real servers on loopback for journey tests: an SMTP mailbox and an SMS provider."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


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
