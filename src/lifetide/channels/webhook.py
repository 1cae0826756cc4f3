"""SMS and push through a generic HTTP provider: one signed JSON POST per message.

Each message is POSTed to the provider's url as

    {"key": "...", "channel": "sms", "to": "+4915112345678", "body": "...", "metadata": {...}}

with the headers

    Idempotency-Key: <key>            (a provider must not send the same key twice)
    X-Lifetide-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

keyed with the transport's secret: the same HMAC as segment webhooks
(lifetide.segments.delivery.sign), carried in one header. A provider answers:

- 2xx: "sent"; the provider's message id is the JSON body's "id".
- 4xx with {"error": "invalid_recipient"}: "bounced" (the number or device token is dead).
- 429, 5xx, a timeout or a connection error: tried again with exponential backoff, waiting at
  least what Retry-After asks (when it asks for more than `max_retry_after`, the message is
  left to "retry" at once); still failing after `retries` retries: "retry".
- Any other answer: "failed" (the provider refuses the request for good).

Unless `allow_private`, the url may not point into the server's own networks (the same guard
as segment webhooks): refused when the transport is made if the host is such an address or
"localhost", and before each batch if the host name resolves to one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import ipaddress
import json
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from lifetide.channels.messages import DeliveryResult, OutgoingText, TextChannel
from lifetide.clock import Clock, SystemClock
from lifetide.segments.delivery import PRIVATE_HINT, checked_url, is_private_address, sign

SIGNATURE_HEADER = "X-Lifetide-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
INVALID_RECIPIENT = "invalid_recipient"
MAX_DETAIL = 300


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Lifetide-Signature value of `body` sent at `timestamp` (Unix seconds)."""
    digest = sign(secret, str(timestamp), body).removeprefix("sha256=")
    return f"t={timestamp},v1={digest}"


class _Again(Exception):
    """An attempt that may pass later, and how long the provider asked us to wait."""

    def __init__(self, detail: str, code: int | None = None, wait: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.wait = wait


class WebhookTransport:
    """Sends SMS or push messages to a generic HTTP provider (see the module docstring)."""

    def __init__(
        self,
        url: str,
        channel: TextChannel,
        secret: str,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        allow_private: bool = False,
        *,
        concurrency: int = 8,
        max_retry_after: float = 30.0,
        clock: Clock | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if channel not in ("sms", "push"):
            raise ValueError(f"a webhook transport sends sms or push, not {channel!r}")
        if not secret:
            raise ValueError("a webhook transport needs a secret to sign its requests")
        if retries < 0 or backoff < 0 or timeout <= 0 or concurrency < 1:
            raise ValueError(
                "webhook retries and backoff must be >= 0, the timeout > 0, concurrency >= 1"
            )
        try:
            self.url = checked_url(url, allow_private=allow_private)
        except ValueError as err:
            raise ValueError(f"{channel} provider: {err}") from None
        self.channel: TextChannel = channel
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.allow_private = allow_private
        self.concurrency = concurrency
        self.max_retry_after = max_retry_after
        self.clock: Clock = clock or SystemClock()
        self._secret = secret
        self._jitter = jitter
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"WebhookTransport({self.url!r}, channel={self.channel!r})"

    async def send(self, batch: Sequence[OutgoingText]) -> list[DeliveryResult]:
        """POST each message (up to `concurrency` at once); one result each, in batch order."""
        if self._closed:
            raise RuntimeError("this webhook transport is closed")
        if not batch:
            return []
        refusal = await self._private_address()
        if refusal is not None:
            return [DeliveryResult(item.key, "retry", None, refusal) for item in batch]
        client = await self._http()
        limit = asyncio.Semaphore(self.concurrency)

        async def one(item: OutgoingText) -> DeliveryResult:
            async with limit:
                return await self._deliver(client, item)

        return list(await asyncio.gather(*(one(item) for item in batch)))

    async def close(self) -> None:
        """Close the HTTP connections; the transport may not be used afterwards."""
        self._closed = True
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _http(self) -> httpx.AsyncClient:
        """The transport's HTTP client, for the running event loop."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            if self._client is not None and self._loop is not None and not self._loop.is_closed():
                await self._client.aclose()
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                headers={"User-Agent": "Lifetide"},
                limits=httpx.Limits(max_connections=self.concurrency),
            )
            self._loop = loop
        return self._client

    async def _deliver(self, client: httpx.AsyncClient, item: OutgoingText) -> DeliveryResult:
        """One message, with retries: its final result."""
        if item.channel != self.channel:
            detail = f"a {item.channel} message given to the {self.channel} provider"
            return DeliveryResult(item.key, "failed", None, detail)
        try:
            body = _body(item)
        except (TypeError, ValueError) as err:
            return DeliveryResult(item.key, "failed", None, f"cannot encode the message: {err}")
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._post(client, item, body)
            except _Again as again:
                if attempt > self.retries:
                    detail = f"{again.detail} (gave up after {attempt} attempts)"
                    return DeliveryResult(item.key, "retry", None, detail, again.code)
                if again.wait is not None and again.wait > self.max_retry_after:
                    detail = f"{again.detail}; the provider asks to wait {again.wait:.0f} s"
                    return DeliveryResult(item.key, "retry", None, detail, again.code)
                await asyncio.sleep(self._delay(attempt, again.wait))

    async def _post(
        self, client: httpx.AsyncClient, item: OutgoingText, body: bytes
    ) -> DeliveryResult:
        """One attempt: the final result, or _Again."""
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: item.key,
            SIGNATURE_HEADER: signature_header(self._secret, timestamp, body),
        }
        try:
            response = await client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise _Again(f"no answer within {self.timeout:g} s") from None
        except httpx.HTTPError as err:
            # Sending again is safe: the provider deduplicates by Idempotency-Key.
            raise _Again(f"{type(err).__name__}: {err}") from None
        status = response.status_code
        answer = _json(response)
        if response.is_success:
            provider_id = answer.get("id") if answer is not None else None
            return DeliveryResult(
                item.key, "sent", None if provider_id is None else str(provider_id), None, status
            )
        detail = _problem(status, answer, response.text)
        if status == 429 or status >= 500:
            raise _Again(detail, status, self._retry_after(response.headers.get("Retry-After")))
        if 400 <= status < 500 and answer is not None and answer.get("error") == INVALID_RECIPIENT:
            return DeliveryResult(item.key, "bounced", None, detail, status)
        return DeliveryResult(item.key, "failed", None, detail, status)

    async def _private_address(self) -> str | None:
        """Why the url may not be used now (its host resolves privately), or None."""
        if self.allow_private:
            return None
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port)
        except OSError as err:
            return f"cannot resolve {host}: {err}"
        for *_, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if is_private_address(address):
                return f"refused: {host} resolves to {address}, {PRIVATE_HINT}"
        return None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, never shorter than the provider asked."""
        ceiling = self.backoff * 2.0 ** (attempt - 1)
        backoff = ceiling / 2 + self._jitter() * ceiling / 2
        return backoff if retry_after is None else max(backoff, retry_after)

    def _retry_after(self, value: str | None) -> float | None:
        """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
        if not value:
            return None
        text = value.strip()
        try:
            return max(0.0, float(text))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return max(0.0, (when - self.clock.now()).total_seconds())


def _body(item: OutgoingText) -> bytes:
    """The JSON request body of one message."""
    payload = {
        "key": item.key,
        "channel": item.channel,
        "to": item.to,
        "body": item.body,
        "metadata": dict(item.metadata),
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _json(response: httpx.Response) -> Mapping[str, Any] | None:
    """The response body as a JSON object, or None."""
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _problem(status: int, answer: Mapping[str, Any] | None, text: str) -> str:
    """A short description of a refusal: status and the provider's error, never the whole body."""
    if answer is not None and ("error" in answer or "message" in answer):
        said = " ".join(str(answer[k]) for k in ("error", "message") if answer.get(k))
    else:
        said = " ".join(text.split())
    return f"HTTP {status}: {said}"[:MAX_DETAIL] if said else f"HTTP {status}"
