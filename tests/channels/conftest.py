"""Real servers on 127.0.0.1 for the channel tests: aiosmtpd with scripted answers, TLS certs."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import re
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from lifetide.channels.messages import OutgoingEmail, outgoing_email

USER = "mailer"
# A password full of characters that a URL must escape.
PASSWORD = "s3cret@/:?"


@dataclass
class Accepted:
    """One message the server took: envelope, content and the connection it came on."""

    mail_from: str
    rcpt: list[str]
    content: bytes
    connection: int
    tls: bool
    login: str | None
    options: list[str] = field(default_factory=list)


@dataclass
class Handler:
    """aiosmtpd handler that answers from rules and records what it accepts.

    `reject`: recipients (regex) refused with 550. `defer`: address -> how many times RCPT is
    answered 451 before it is accepted (a negative count: always). `data_reply`: address ->
    a reply to DATA instead of 250. `drop_on_mail`: MAIL numbers (1-based, over the server's
    life) at which the server closes the connection instead of answering.
    """

    reject: re.Pattern[str] | None = None
    defer: dict[str, int] = field(default_factory=dict)
    data_reply: dict[str, str] = field(default_factory=dict)
    refuse_sender: str | None = None
    drop_on_mail: set[int] = field(default_factory=set)
    accepted: list[Accepted] = field(default_factory=list)
    rcpt_attempts: Counter[str] = field(default_factory=Counter)
    mails: int = 0
    quits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.mails += 1
            number = self.mails
        if number in self.drop_on_mail:
            transport = server.transport
            assert isinstance(transport, asyncio.Transport)
            transport.abort()
            return "421 4.3.0 going away"
        if self.refuse_sender is not None and address == self.refuse_sender:
            return "553 5.7.1 sender address rejected"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.rcpt_attempts[address] += 1
            remaining = self.defer.get(address, 0)
            if remaining:
                self.defer[address] = remaining - 1 if remaining > 0 else remaining
        if self.reject is not None and self.reject.search(address):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if remaining:
            return f"451 4.7.1 <{address}>: greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for address in envelope.rcpt_tos:
            if address in self.data_reply:
                return self.data_reply[address]
        login = session.auth_data.login.decode() if session.auth_data is not None else None
        with self.lock:
            self.accepted.append(
                Accepted(
                    mail_from=str(envelope.mail_from),
                    rcpt=list(envelope.rcpt_tos),
                    content=envelope.original_content or b"",
                    connection=id(server),
                    # session.ssl is set by STARTTLS; a TLS-only port shows in the transport.
                    tls=session.ssl is not None
                    or (
                        server.transport is not None
                        and server.transport.get_extra_info("sslcontext") is not None
                    ),
                    login=login,
                    options=list(envelope.mail_options),
                )
            )
        return "250 2.0.0 Ok: queued"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.quits += 1
        return "221 Bye"

    def keys(self) -> list[str]:
        """The X-Lifetide-Send header of every accepted message, in order of arrival."""
        found = [re.search(rb"X-Lifetide-Send: (\S+)", a.content) for a in self.accepted]
        return [m.group(1).decode() for m in found if m]


class CountingController(Controller):
    """An aiosmtpd controller that counts the connections its server accepts."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.connections = 0

    def factory(self) -> SMTP:
        self.connections += 1
        return SMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class SmtpServer:
    """A running aiosmtpd server and its handler."""

    port: int
    handler: Handler
    controller: CountingController

    @property
    def connections(self) -> int:
        return self.controller.connections


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """aiosmtpd authenticator: USER / PASSWORD only."""
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == USER
        and auth_data.password.decode() == PASSWORD
    )
    # handled=False: aiosmtpd answers a failure with 535 itself.
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Start aiosmtpd servers on loopback (handler and SMTP options as keywords)."""
    started: list[CountingController] = []

    def start(handler: Handler | None = None, **options: Any) -> SmtpServer:
        handler = handler or Handler()
        port = free_port()
        options.setdefault("server_hostname", "mx.test")
        controller = CountingController(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        # start() opens one connection to check the server is up; it is not ours.
        controller.connections = 0
        return SmtpServer(port, handler, controller)

    yield start
    for controller in started:
        controller.stop()


@dataclass(frozen=True)
class Certificates:
    """A test CA and a server certificate it signed, for 127.0.0.1 and localhost."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA and a server certificate made now with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lifetide Test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    cert_file = folder / "server.pem"
    key_file = folder / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificates(ca_file, cert_file, key_file)


def make_message(key: str, to: str, sender: str = "Shop <shop@lifetide.dev>") -> EmailMessage:
    """A small journey-like message with the headers compose_email sets."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"Your cart ({key})"
    message["Message-ID"] = f"<{key.replace(':', '.')}@lifetide.dev>"
    message["X-Lifetide-Send"] = key
    message.set_content(f"Hello, this is message {key}.\n")
    message.add_alternative(f"<p>Hello, this is message <b>{key}</b>.</p>", subtype="html")
    return message


def make_email(key: str, to: str, sender: str = "Shop <shop@lifetide.dev>") -> OutgoingEmail:
    """make_message, ready for a transport."""
    return outgoing_email(key, to, make_message(key, to, sender))
