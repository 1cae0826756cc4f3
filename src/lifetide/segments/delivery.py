"""Pushing a segment's members to a webhook destination: signed JSON pages, retried with care.

Each page is one POST of at most `page_size` members. A receiver checks that the request came
from this Lifetide by recomputing the signature (see docs/api.md, "Segment webhooks"):

    X-Lifetide-Signature: sha256=<hex HMAC-SHA256 of "<X-Lifetide-Timestamp>.<raw body>">

keyed with the destination's secret, and by refusing old timestamps (replays). A page is sent
again on a connection error, a timeout, 429 or 5xx, waiting longer each time (exponential
backoff with jitter, at least what Retry-After asks); any other 4xx means the receiver refuses
the data, so the delivery fails at once. Every attempt and page is recorded on the Delivery.

Unless `allow_private` (setting LIFETIDE_ALLOW_PRIVATE_DESTINATIONS) is on, a destination may not
point into the server's own networks (loopback, private, link-local, reserved addresses): the
address is refused when the destination is created if it is such an IP or "localhost", and
each attempt first resolves the host and refuses to send if any of its addresses is one.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import ipaddress
import json
import math
import random
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock
from lifetide.ops.database import transaction
from lifetide.ops.models import Delivery, Destination, Segment, User

PAGE_SIZE = 1000
MAX_ATTEMPTS = 5
BASE_DELAY = 1.0
MAX_DELAY = 60.0
# A receiver asking for a longer pause than this is treated as asking for this long.
MAX_RETRY_AFTER = 300.0
TIMEOUT_SECONDS = 30.0
SIGNATURE_HEADER = "X-Lifetide-Signature"
TIMESTAMP_HEADER = "X-Lifetide-Timestamp"
DELIVERY_HEADER = "X-Lifetide-Delivery"
PRIVATE_HINT = (
    "a loopback, private, link-local or reserved address; set "
    "LIFETIDE_ALLOW_PRIVATE_DESTINATIONS=true to allow it"
)


class DestinationError(ValueError):
    """A destination's name or address is not acceptable."""


class DestinationConflict(DestinationError):
    """Another destination already has that name."""


class PrivateDestination(DestinationError):
    """A destination's host is, or resolves to, an address inside the server's own networks."""


class NotFound(LookupError):
    """No segment, destination or delivery has the id asked for."""


@dataclass(frozen=True)
class NewDestination:
    """A destination just created, with its secret: the only time the secret is shown."""

    destination: Destination
    secret: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value of a request body sent at `timestamp` (Unix seconds)."""
    message = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether `signature` is this body's, compared in constant time (for receivers, tests)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def checked_url(url: str, *, allow_private: bool = False) -> str:
    """An http(s) address with a host, or DestinationError saying what is wrong.

    Without `allow_private`, a host that is "localhost" or an IP address in the server's own
    networks is refused (PrivateDestination); names are checked again when sending.
    """
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise DestinationError(f"destination url {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise DestinationError(f"destination url {url!r} has no host")
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when it is read)
    except ValueError:
        raise DestinationError(
            f"destination url {url!r} has a port that is not a number from 0 to 65535"
        ) from None
    if not allow_private:
        host = parts.hostname.rstrip(".")
        address = _ip_literal(host)
        if host == "localhost" or host.endswith(".localhost"):
            raise PrivateDestination(f"destination url {url!r} points to {host}, {PRIVATE_HINT}")
        if address is not None and is_private_address(address):
            raise PrivateDestination(f"destination url {url!r} points to {address}, {PRIVATE_HINT}")
    return text


def is_private_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may not be sent to `address`: one of the server's own networks."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def private_address_of(url: str) -> str | None:
    """The first address the url's host resolves to that is private (see above), or None.

    Resolves the host now (socket.getaddrinfo); OSError when it cannot be resolved.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        # An IPv6 scope ("fe80::1%eth0") is not part of the address.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if is_private_address(address):
            return str(address)
    return None


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names directly, also in the old IPv4 forms (127.1, 0x7f000001)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def member_rows(members: pa.Table) -> Iterator[dict[str, Any]]:
    """The rows of an Arrow table of members, converted a page at a time."""
    for start in range(0, members.num_rows, PAGE_SIZE):
        yield from members.slice(start, PAGE_SIZE).to_pylist()


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot send {type(value).__name__} in a webhook")


def _default_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)


class Deliveries:
    """Webhook destinations, and pushes of segment members to them."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        client_factory: Callable[[], httpx.Client] = _default_client,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        page_size: int = PAGE_SIZE,
        max_attempts: int = MAX_ATTEMPTS,
        allow_private: bool = False,
    ) -> None:
        if page_size < 1 or max_attempts < 1:
            raise ValueError("page_size and max_attempts must be at least 1")
        self.sessions = sessions
        self.clock = clock
        self.client_factory = client_factory
        self.sleep = sleep
        self.jitter = jitter
        self.page_size = page_size
        self.max_attempts = max_attempts
        self.allow_private = allow_private

    # Destinations

    def create_destination(self, name: str, url: str, user: User | None) -> NewDestination:
        """A new destination with a generated secret (returned once; keep it)."""
        clean = name.strip()
        if not clean or len(clean) > 100:
            raise DestinationError("a destination needs a name of 1 to 100 characters")
        address = checked_url(url, allow_private=self.allow_private)
        secret = secrets.token_urlsafe(32)
        try:
            with transaction(self.sessions) as session:
                row = Destination(
                    name=clean,
                    url=address,
                    secret=secret,
                    created_at=self.clock.now(),
                    created_by_id=user.id if user is not None else None,
                )
                session.add(row)
        except IntegrityError:
            raise DestinationConflict(f"there is already a destination called {clean!r}") from None
        return NewDestination(row, secret)

    def list_destinations(self) -> list[Destination]:
        """Every destination, by name."""
        with self.sessions() as session:
            return list(session.scalars(select(Destination).order_by(Destination.name)))

    def get_destination(self, destination_id: int) -> Destination:
        """One destination, or NotFound."""
        with self.sessions() as session:
            row = session.get(Destination, destination_id)
        if row is None:
            raise NotFound(f"no destination {destination_id}")
        return row

    def delete_destination(self, destination_id: int) -> None:
        """Delete a destination and its delivery history; NotFound if there is none."""
        with transaction(self.sessions) as session:
            row = session.get(Destination, destination_id)
            if row is None:
                raise NotFound(f"no destination {destination_id}")
            session.delete(row)

    # Deliveries

    def list_deliveries(self, segment_id: int, limit: int = 20) -> list[Delivery]:
        """A segment's most recent deliveries, newest first."""
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Delivery)
                    .where(Delivery.segment_id == segment_id)
                    .order_by(Delivery.started_at.desc(), Delivery.id.desc())
                    .limit(limit)
                )
            )

    def destination_deliveries(self, destination_id: int, limit: int = 3) -> list[Delivery]:
        """A destination's most recent deliveries, of any segment, newest first."""
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Delivery)
                    .where(Delivery.destination_id == destination_id)
                    .order_by(Delivery.started_at.desc(), Delivery.id.desc())
                    .limit(limit)
                )
            )

    def get_delivery(self, delivery_id: int) -> Delivery:
        """One delivery, or NotFound."""
        with self.sessions() as session:
            row = session.get(Delivery, delivery_id)
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        return row

    def start(self, segment_id: int, destination_id: int, user: User | None) -> Delivery:
        """A running delivery of a segment to a destination; NotFound if either is missing."""
        with transaction(self.sessions) as session:
            segment = session.get(Segment, segment_id)
            if segment is None or segment.archived_at is not None:
                raise NotFound(f"no segment {segment_id}")
            if session.get(Destination, destination_id) is None:
                raise NotFound(f"no destination {destination_id}")
            delivery = Delivery(
                segment_id=segment_id,
                destination_id=destination_id,
                user_id=user.id if user is not None else None,
                status="running",
                members=0,
                pages=0,
                pages_sent=0,
                attempts=0,
                started_at=self.clock.now(),
            )
            session.add(delivery)
        return delivery

    def push(
        self,
        segment_id: int,
        destination_id: int,
        members: Iterable[Mapping[str, Any]],
        user: User | None,
        *,
        total: int | None = None,
    ) -> Delivery:
        """Send the members (rows of `profile_id`, `email`, ...) to a destination; the result."""
        delivery = self.start(segment_id, destination_id, user)
        return self.send(delivery.id, members, total=total)

    def send(
        self, delivery_id: int, members: Iterable[Mapping[str, Any]], *, total: int | None = None
    ) -> Delivery:
        """Send a started delivery's pages; the delivery as it ended (delivered or failed).

        `total`, the number of members, lets the rows stream; without it they are read first.
        An empty segment is sent as one page with no members, so the receiver learns it.
        """
        rows: Iterable[Mapping[str, Any]] = members
        if total is None:
            listed = list(members)
            rows, total = listed, len(listed)
        pages = max(1, math.ceil(total / self.page_size))
        with transaction(self.sessions) as session:
            delivery = _delivery(session, delivery_id)
            destination = session.get(Destination, delivery.destination_id)
            segment = session.get(Segment, delivery.segment_id)
            if destination is None or segment is None:
                delivery.status = "failed"
                delivery.error = "the segment or the destination was deleted"
                delivery.finished_at = self.clock.now()
                return delivery
            delivery.members = total
            delivery.pages = pages
            url, secret, segment_ref = (
                destination.url,
                destination.secret,
                {"id": segment.id, "name": segment.name},
            )
        iterator = iter(rows)
        error: str | None = None
        with self.client_factory() as client:
            for page in range(1, pages + 1):
                batch = [dict(m) for m in islice(iterator, self.page_size)]
                body = json.dumps(
                    {
                        "segment": segment_ref,
                        "delivery_id": delivery_id,
                        "page": page,
                        "pages": pages,
                        "members": batch,
                    },
                    default=_json_default,
                    separators=(",", ":"),
                ).encode("utf-8")
                error = self._send_page(client, delivery_id, url, secret, page, body)
                if error is not None:
                    break
        return self._finish(delivery_id, error)

    def _send_page(
        self, client: httpx.Client, delivery_id: int, url: str, secret: str, page: int, body: bytes
    ) -> str | None:
        """Post one page, retrying what may pass later; None once accepted, else the error."""
        for attempt in range(1, self.max_attempts + 1):
            self._count_attempt(delivery_id)
            timestamp = str(int(self.clock.now().timestamp()))
            headers = {
                "Content-Type": "application/json",
                DELIVERY_HEADER: str(delivery_id),
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            }
            retry_after: float | None = None
            try:
                self._check_address(url)
                response = client.post(url, content=body, headers=headers)
            except PrivateDestination as err:
                return f"page {page}: {err}"
            # OSError: the host did not resolve; like a refused connection, it may pass later.
            except (httpx.TransportError, OSError) as err:
                problem = f"page {page}: {type(err).__name__}: {err}"
            else:
                if response.is_success:
                    self._page_sent(delivery_id)
                    return None
                # Only the status: a receiver's reply may echo what it was sent, or secrets.
                problem = f"page {page}: HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    return problem
                retry_after = self._retry_after(response.headers.get("Retry-After"))
            if attempt == self.max_attempts:
                return f"{problem} (gave up after {attempt} attempts)"
            self.sleep(self._delay(attempt, retry_after))
        return None  # pragma: no cover (the loop returns)

    def _check_address(self, url: str) -> None:
        """PrivateDestination if the url's host resolves into the server's own networks."""
        if self.allow_private:
            return
        address = private_address_of(url)
        if address is not None:
            host = urlsplit(url).hostname
            raise PrivateDestination(f"refused: {host} resolves to {address}, {PRIVATE_HINT}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, and never shorter than the receiver asked."""
        ceiling = min(MAX_DELAY, BASE_DELAY * 2.0 ** (attempt - 1))
        # Half fixed, half random: spread the retries of many senders without going to zero.
        backoff = ceiling / 2 + self.jitter() * ceiling / 2
        if retry_after is None:
            return backoff
        return max(backoff, min(retry_after, MAX_RETRY_AFTER))

    def _retry_after(self, value: str | None) -> float | None:
        """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
        if not value:
            return None
        text = value.strip()
        if text.isdigit():
            return float(text)
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return max(0.0, (when - self.clock.now()).total_seconds())

    def _count_attempt(self, delivery_id: int) -> None:
        with transaction(self.sessions) as session:
            _delivery(session, delivery_id).attempts += 1

    def _page_sent(self, delivery_id: int) -> None:
        with transaction(self.sessions) as session:
            _delivery(session, delivery_id).pages_sent += 1

    def _finish(self, delivery_id: int, error: str | None) -> Delivery:
        with transaction(self.sessions) as session:
            delivery = _delivery(session, delivery_id)
            delivery.status = "failed" if error else "delivered"
            delivery.error = error
            delivery.finished_at = self.clock.now()
        return delivery

    def fail(self, delivery_id: int, error: str) -> Delivery:
        """Mark a delivery failed before its pages could be sent (e.g. the warehouse failed)."""
        return self._finish(delivery_id, error)


def _delivery(session: Session, delivery_id: int) -> Delivery:
    row = session.get(Delivery, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id}")
    return row
