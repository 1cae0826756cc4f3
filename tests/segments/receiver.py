"""A real webhook receiver on 127.0.0.1, answering from a script and checking signatures."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """What the receiver answers to one request (or, with `stall`, fails to in time)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0


@dataclass
class Received:
    """One request as it arrived, and whether its signature checked out."""

    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


class Receiver:
    """Answers POSTs with the scripted replies in order, then 200 to everything."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.outcomes: list[bool] = []
        self.lock = threading.Lock()
        self.url = ""

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def accepted(self) -> list[Received]:
        """Requests answered 2xx, in order: the pages that got through."""
        return [r for r, ok in zip(self.received, self.outcomes, strict=True) if ok]

    def check(self, headers: dict[str, str], body: bytes) -> bool:
        """Verify the signature the way docs/api.md tells receivers to."""
        if self.secret is None:
            return False
        timestamp = headers.get("x-lifetide-timestamp", "")
        expected = hmac.new(
            self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        given = headers.get("x-lifetide-signature", "")
        return hmac.compare_digest(f"sha256={expected}", given)


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    """Run `receiver` on a free loopback port for the block; its URL is set."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                reply = receiver.replies.popleft() if receiver.replies else Reply()
                receiver.received.append(Received(headers, body, receiver.check(headers, body)))
                receiver.outcomes.append(200 <= reply.status < 300 and not reply.stall)
            if reply.stall:
                time.sleep(reply.stall)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            payload = b'{"ok": true}' if reply.status < 300 else b"no thanks"
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            # The sender may have given up waiting.
            with contextlib.suppress(OSError):
                self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
