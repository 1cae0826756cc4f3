from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lifetide.channels.messages import DeliveryResult, OutgoingText
from lifetide.channels.webhook import WebhookTransport, signature_header
from lifetide.clock import ManualClock

SECRET = "provider-secret"
T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, JSON body, headers, or a stall longer than the timeout."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


class Provider:
    """An SMS/push provider on 127.0.0.1: scripted replies per recipient, then 200 {"id"}."""

    def __init__(self) -> None:
        self.scripts: dict[str, deque[Reply]] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.url = ""

    def script(self, to: str, *replies: Reply) -> None:
        self.scripts.setdefault(to, deque()).extend(replies)

    def reply_to(self, payload: dict[str, Any]) -> Reply:
        with self.lock:
            queue = self.scripts.get(payload.get("to", ""))
            if queue:
                return queue.popleft()
        return Reply(200, {"id": f"prov-{payload['key']}", "status": "queued"})

    def of(self, to: str) -> list[Request]:
        return [r for r in self.requests if r.payload["to"] == to]


@contextlib.contextmanager
def running(provider: Provider) -> Iterator[Provider]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            request = Request({k.lower(): v for k, v in self.headers.items()}, body, time.time())
            with provider.lock:
                provider.requests.append(request)
            reply = provider.reply_to(request.payload)
            if reply.stall:
                time.sleep(reply.stall)
            data = json.dumps(reply.body).encode() if reply.body is not None else b"oops"
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may have given up
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/messages"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def provider() -> Iterator[Provider]:
    with running(Provider()) as running_provider:
        yield running_provider


def transport(url: str, **options: Any) -> WebhookTransport:
    options.setdefault("allow_private", True)  # the provider listens on 127.0.0.1
    options.setdefault("backoff", 0.01)
    options.setdefault("clock", ManualClock(T0))
    options.setdefault("jitter", lambda: 0.5)
    return WebhookTransport(url, "sms", SECRET, **options)


def send(sender: WebhookTransport, batch: list[OutgoingText]) -> list[DeliveryResult]:
    async def run() -> list[DeliveryResult]:
        try:
            return await sender.send(batch)
        finally:
            await sender.close()

    return asyncio.run(run())


def sms(key: str, to: str, body: str = "Your cart misses you") -> OutgoingText:
    return OutgoingText(key, to, body, "sms", {"journey_id": 3, "step": "nudge"})


def test_messages_are_posted_and_sent_with_the_provider_id(provider: Provider) -> None:
    batch = [sms(f"{i}:sms:1", f"+4915100000{i:02d}") for i in range(12)]
    results = send(transport(provider.url, concurrency=4), batch)
    assert [r.key for r in results] == [m.key for m in batch]
    assert [r.outcome for r in results] == ["sent"] * 12
    assert [r.provider_message_id for r in results] == [f"prov-{m.key}" for m in batch]
    assert {r.code for r in results} == {200}
    request = provider.of("+491510000003")[0]
    assert request.payload == {
        "key": "3:sms:1",
        "channel": "sms",
        "to": "+491510000003",
        "body": "Your cart misses you",
        "metadata": {"journey_id": 3, "step": "nudge"},
    }
    assert request.headers["idempotency-key"] == "3:sms:1"
    assert request.headers["content-type"] == "application/json"


def test_the_signature_can_be_checked_by_the_provider(provider: Provider) -> None:
    send(transport(provider.url), [sms("1:sms:1", "+4915100000001", body="Grüße 🌊")])
    request = provider.requests[0]
    fields = dict(part.split("=", 1) for part in request.headers["x-lifetide-signature"].split(","))
    assert fields["t"] == str(int(T0.timestamp()))
    expected = hmac.new(
        SECRET.encode(), fields["t"].encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert request.payload["body"] == "Grüße 🌊"
    # A different secret does not produce it.
    other = signature_header("another-secret", int(fields["t"]), request.body)
    assert other != request.headers["x-lifetide-signature"]


def test_an_invalid_number_bounces_and_other_refusals_fail(provider: Provider) -> None:
    provider.script(
        "+000", Reply(400, {"error": "invalid_recipient", "message": "not a mobile number"})
    )
    provider.script("+111", Reply(401, {"error": "unauthorized"}))
    provider.script("+222", Reply(422, None))
    provider.script("+333", Reply(302, None, {"Location": "https://elsewhere.example"}))
    batch = [sms("a", "+000"), sms("b", "+111"), sms("c", "+222"), sms("d", "+333")]
    results = send(transport(provider.url), batch)
    assert [(r.outcome, r.code) for r in results] == [
        ("bounced", 400),
        ("failed", 401),
        ("failed", 422),
        ("failed", 302),
    ]
    assert results[0].detail == "HTTP 400: invalid_recipient not a mobile number"
    assert results[2].detail == "HTTP 422: oops"
    # Refusals are final: each was asked once.
    assert len(provider.requests) == 4


def test_a_server_error_is_retried_with_the_same_key(provider: Provider) -> None:
    provider.script("+444", Reply(500, {"error": "internal"}), Reply(503, None))
    results = send(transport(provider.url), [sms("5:sms:1", "+444")])
    assert (results[0].outcome, results[0].provider_message_id) == ("sent", "prov-5:sms:1")
    requests = provider.of("+444")
    assert len(requests) == 3
    assert {r.headers["idempotency-key"] for r in requests} == {"5:sms:1"}


def test_errors_that_outlast_the_retries_are_left_to_retry(provider: Provider) -> None:
    provider.script("+555", *[Reply(502, None)] * 5)
    results = send(transport(provider.url, retries=2), [sms("x", "+555")])
    assert (results[0].outcome, results[0].code) == ("retry", 502)
    assert "gave up after 3 attempts" in (results[0].detail or "")
    assert len(provider.of("+555")) == 3


def test_a_timeout_is_retried_then_left_to_retry(provider: Provider) -> None:
    provider.script("+666", Reply(stall=1.0), Reply(stall=1.0))
    started = time.perf_counter()
    results = send(transport(provider.url, timeout=0.2, retries=1), [sms("t", "+666")])
    assert results[0].outcome == "retry"
    assert "no answer within 0.2 s" in (results[0].detail or "")
    assert len(provider.of("+666")) == 2
    assert time.perf_counter() - started < 2.0


def test_retry_after_is_honoured(provider: Provider) -> None:
    provider.script("+777", Reply(429, {"error": "slow down"}, {"Retry-After": "0.4"}))
    results = send(transport(provider.url), [sms("r", "+777")])
    assert results[0].outcome == "sent"
    first, second = provider.of("+777")
    assert second.at - first.at >= 0.35


def test_a_long_retry_after_leaves_the_message_to_retry_at_once(provider: Provider) -> None:
    later = "Mon, 01 Jun 2026 12:10:00 GMT"  # ten minutes after the clock's time
    provider.script("+888", Reply(503, None, {"Retry-After": later}))
    results = send(transport(provider.url, max_retry_after=30), [sms("l", "+888")])
    assert results[0].outcome == "retry"
    assert "asks to wait 600 s" in (results[0].detail or "")
    assert len(provider.of("+888")) == 1


def test_a_message_for_another_channel_fails(provider: Provider) -> None:
    push = OutgoingText("p", "device-token", "Hi", "push")
    results = send(transport(provider.url), [push, sms("s", "+1")])
    assert [r.outcome for r in results] == ["failed", "sent"]
    assert "push message given to the sms provider" in (results[0].detail or "")


def test_private_addresses_are_refused_unless_allowed(provider: Provider) -> None:
    with pytest.raises(ValueError, match=r"sms provider: .* points to 127\.0\.0\.1"):
        WebhookTransport(provider.url, "sms", SECRET)
    with pytest.raises(ValueError, match="points to localhost"):
        WebhookTransport("http://localhost:8080/sms", "sms", SECRET)


def test_a_name_that_resolves_privately_is_refused_before_sending() -> None:
    host = socket.gethostname()
    try:
        socket.getaddrinfo(host, 80)
    except OSError:
        pytest.skip("this machine's name does not resolve")
    sender = WebhookTransport(f"http://{host}:9/sms", "sms", SECRET, retries=0)
    results = send(sender, [sms("1", "+1"), sms("2", "+2")])
    assert [r.outcome for r in results] == ["retry", "retry"]
    assert f"refused: {host} resolves to" in (results[0].detail or "")


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="sms or push, not 'fax'"):
        WebhookTransport("https://x.example", "fax", SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a secret"):
        WebhookTransport("https://x.example", "sms", "")
    with pytest.raises(ValueError, match="must start with http"):
        WebhookTransport("ftp://x.example", "sms", SECRET)
