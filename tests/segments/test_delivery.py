from __future__ import annotations

import datetime as dt
import email.utils
import socket
from collections.abc import Iterator

import httpx
import pyarrow as pa
import pytest

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.ops.database import transaction
from lifetide.ops.models import Delivery, Segment, User
from lifetide.segments.delivery import (
    Deliveries,
    DestinationError,
    NotFound,
    PrivateDestination,
    checked_url,
    member_rows,
    sign,
    verify,
)
from tests.segments.receiver import Receiver, Reply, receiving

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _deliveries(
    app: Lifetide, clock: ManualClock, sleeps: list[float], timeout: float
) -> Deliveries:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(dt.timedelta(seconds=seconds))

    return Deliveries(
        app.sessions,
        clock,
        client_factory=lambda: httpx.Client(timeout=timeout),
        sleep=sleep,
        jitter=lambda: 0.5,
        page_size=2,
        # The receiver listens on 127.0.0.1.
        allow_private=True,
    )


@pytest.fixture
def deliveries(app: Lifetide, clock: ManualClock, sleeps: list[float]) -> Deliveries:
    # Generous: a busy test machine must not turn a slow answer into a retry.
    return _deliveries(app, clock, sleeps, timeout=10)


@pytest.fixture
def user(app: Lifetide) -> User:
    with transaction(app.sessions) as session:
        row = User(
            email="mia@example.com", role="marketer", password_hash="x", created_at=T0, name="Mia"
        )
        session.add(row)
    return row


@pytest.fixture
def segment_id(app: Lifetide, user: User) -> int:
    with transaction(app.sessions) as session:
        row = Segment(
            name="VIPs", kind="rules", definition={}, owner_id=user.id, created_at=T0, updated_at=T0
        )
        session.add(row)
    return row.id


MEMBERS = [
    {"profile_id": 1, "email": "ada@example.com", "first_name": "Ada"},
    {"profile_id": 2, "email": "bo@example.com", "first_name": "Bo"},
    {"profile_id": 3, "email": "cy@example.com", "first_name": "Cy"},
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(Receiver()) as running:
        yield running


def _destination(deliveries: Deliveries, receiver: Receiver, user: User) -> int:
    created = deliveries.create_destination("CRM", receiver.url, user)
    receiver.secret = created.secret
    return created.destination.id


def test_pages_are_signed_retried_after_503_and_all_delivered(
    deliveries: Deliveries,
    receiver: Receiver,
    user: User,
    segment_id: int,
    sleeps: list[float],
) -> None:
    destination_id = _destination(deliveries, receiver, user)
    receiver.script(Reply(503), Reply(503))

    delivery = deliveries.push(segment_id, destination_id, iter(MEMBERS), user, total=3)

    assert (delivery.status, delivery.error) == ("delivered", None)
    assert (delivery.members, delivery.pages, delivery.pages_sent) == (3, 2, 2)
    assert delivery.attempts == 4
    assert delivery.user_id == user.id
    assert delivery.finished_at is not None
    assert all(r.signature_ok for r in receiver.received)
    pages = [r.payload for r in receiver.accepted()]
    assert pages == [
        {
            "segment": {"id": segment_id, "name": "VIPs"},
            "delivery_id": delivery.id,
            "page": 1,
            "pages": 2,
            "members": MEMBERS[:2],
        },
        {
            "segment": {"id": segment_id, "name": "VIPs"},
            "delivery_id": delivery.id,
            "page": 2,
            "pages": 2,
            "members": MEMBERS[2:],
        },
    ]
    first = receiver.received[0].headers
    assert first["content-type"] == "application/json"
    assert first["x-lifetide-delivery"] == str(delivery.id)
    # Backoff with the jitter fixed at its middle: 3/4 of 1 s, then of 2 s.
    assert sleeps == [0.75, 1.5]
    # Each attempt is signed at its own time.
    stamps = [r.headers["x-lifetide-timestamp"] for r in receiver.received]
    assert stamps[0] == str(int(T0.timestamp()))
    assert stamps[2] == str(int(T0.timestamp() + 2.25))


def test_a_400_fails_the_delivery_at_once_keeping_only_the_status(
    deliveries: Deliveries, receiver: Receiver, user: User, segment_id: int, sleeps: list[float]
) -> None:
    destination_id = _destination(deliveries, receiver, user)
    receiver.script(Reply(400))

    delivery = deliveries.push(segment_id, destination_id, MEMBERS, user)

    assert delivery.status == "failed"
    # Not the reply's body: a receiver may echo what it was sent.
    assert delivery.error == "page 1: HTTP 400"
    assert (delivery.attempts, delivery.pages_sent, delivery.pages) == (1, 0, 2)
    assert len(receiver.received) == 1
    assert sleeps == []


def test_five_failed_attempts_give_up(
    deliveries: Deliveries, receiver: Receiver, user: User, segment_id: int, sleeps: list[float]
) -> None:
    destination_id = _destination(deliveries, receiver, user)
    receiver.script(*[Reply(500)] * 5)

    delivery = deliveries.push(segment_id, destination_id, MEMBERS, user)

    assert delivery.status == "failed"
    assert delivery.error == "page 1: HTTP 500 (gave up after 5 attempts)"
    assert delivery.attempts == 5
    assert len(receiver.received) == 5
    assert sleeps == [0.75, 1.5, 3.0, 6.0]


def test_retry_after_is_honoured_in_seconds_and_as_a_date(
    deliveries: Deliveries, receiver: Receiver, user: User, segment_id: int, sleeps: list[float]
) -> None:
    destination_id = _destination(deliveries, receiver, user)
    later = email.utils.format_datetime(T0 + dt.timedelta(seconds=30 + 7), usegmt=True)
    receiver.script(Reply(429, {"Retry-After": "7"}), Reply(503, {"Retry-After": later}))

    delivery = deliveries.push(segment_id, destination_id, MEMBERS[:1], user)

    assert delivery.status == "delivered"
    # 7 s asked; then a date 37 s after T0, reached 7 s later: 30 s to wait.
    assert sleeps == [7.0, 30.0]


def test_a_timeout_is_retried(
    app: Lifetide,
    clock: ManualClock,
    receiver: Receiver,
    user: User,
    segment_id: int,
    sleeps: list[float],
) -> None:
    deliveries = _deliveries(app, clock, sleeps, timeout=0.5)
    destination_id = _destination(deliveries, receiver, user)
    receiver.script(Reply(200, stall=1.0))

    delivery = deliveries.push(segment_id, destination_id, MEMBERS[:1], user)

    assert delivery.status == "delivered"
    assert delivery.attempts == 2
    assert sleeps == [0.75]


def test_a_closed_port_is_retried_then_fails(
    deliveries: Deliveries, user: User, segment_id: int, sleeps: list[float]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    destination = deliveries.create_destination("Gone", f"http://127.0.0.1:{port}/x", user)

    delivery = deliveries.push(segment_id, destination.destination.id, MEMBERS, user)

    assert delivery.status == "failed"
    assert delivery.error is not None
    assert delivery.error.startswith("page 1: ConnectError")
    assert delivery.attempts == 5
    assert len(sleeps) == 4


def test_an_empty_segment_is_one_empty_page(
    deliveries: Deliveries, receiver: Receiver, user: User, segment_id: int
) -> None:
    destination_id = _destination(deliveries, receiver, user)

    delivery = deliveries.push(segment_id, destination_id, [], user)

    assert (delivery.status, delivery.pages, delivery.members) == ("delivered", 1, 0)
    assert receiver.received[0].payload["members"] == []


def test_push_to_missing_segment_or_destination_is_not_found(
    deliveries: Deliveries, receiver: Receiver, user: User, segment_id: int, app: Lifetide
) -> None:
    destination_id = _destination(deliveries, receiver, user)

    with pytest.raises(NotFound, match="no segment 999"):
        deliveries.push(999, destination_id, MEMBERS, user)
    with pytest.raises(NotFound, match="no destination 999"):
        deliveries.push(segment_id, 999, MEMBERS, user)
    with app.sessions() as session:
        assert session.query(Delivery).count() == 0


def test_destinations_are_created_listed_and_deleted(
    deliveries: Deliveries, user: User, segment_id: int
) -> None:
    created = deliveries.create_destination("  Zapier ", "https://hooks.example.com/x", user)
    deliveries.create_destination("Braze", "http://127.0.0.1:9/hook", None)

    assert created.destination.name == "Zapier"
    assert len(created.secret) >= 40
    assert created.destination.created_by_id == user.id
    assert [d.name for d in deliveries.list_destinations()] == ["Braze", "Zapier"]

    deliveries.delete_destination(created.destination.id)

    assert [d.name for d in deliveries.list_destinations()] == ["Braze"]
    with pytest.raises(NotFound):
        deliveries.delete_destination(created.destination.id)


@pytest.mark.parametrize(
    ("name", "url", "message"),
    [
        ("A", "ftp://example.com/x", "must start with http:// or https://"),
        ("A", "example.com/hook", "must start with http:// or https://"),
        ("A", "https:///path", "has no host"),
        ("A", "http://example.com:99999/x", "a port that is not a number from 0 to 65535"),
        ("", "https://example.com", "a name of 1 to 100 characters"),
        ("x" * 101, "https://example.com", "a name of 1 to 100 characters"),
    ],
)
def test_bad_destinations_are_refused(
    deliveries: Deliveries, name: str, url: str, message: str
) -> None:
    with pytest.raises(DestinationError, match=message):
        deliveries.create_destination(name, url, None)


def test_destination_names_are_unique(deliveries: Deliveries) -> None:
    deliveries.create_destination("CRM", "https://example.com/a", None)

    with pytest.raises(DestinationError, match="already a destination called 'CRM'"):
        deliveries.create_destination("CRM", "https://example.com/b", None)


def test_signatures_match_the_documented_recipe() -> None:
    body = b'{"page":1}'

    signature = sign("s3cret", "1780315200", body)

    assert signature == (
        "sha256=" + __import__("hmac").new(b"s3cret", b"1780315200." + body, "sha256").hexdigest()
    )
    assert verify("s3cret", "1780315200", body, signature)
    assert not verify("s3cret", "1780315201", body, signature)
    assert not verify("other", "1780315200", body, signature)


def test_member_rows_read_an_arrow_table_in_order() -> None:
    table = pa.table({"profile_id": list(range(2500)), "email": ["e"] * 2500})

    rows = list(member_rows(table))

    assert len(rows) == 2500
    assert rows[1234] == {"profile_id": 1234, "email": "e"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://LOCALHOST./hook",
        "http://api.localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://127.1/hook",
        "http://0x7f000001/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.9/hook",
        "https://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://240.0.0.1/hook",
        "http://224.0.0.1/hook",
    ],
)
def test_private_destinations_are_refused_when_created(app: Lifetide, url: str) -> None:
    strict = Deliveries(app.sessions, app.clock)

    with pytest.raises(PrivateDestination, match="LIFETIDE_ALLOW_PRIVATE_DESTINATIONS=true"):
        strict.create_destination("Inside", url, None)
    assert strict.list_destinations() == []


def test_public_destinations_pass_without_being_resolved() -> None:
    assert checked_url("https://hooks.example.com/x") == "https://hooks.example.com/x"
    assert checked_url("http://93.184.216.34:8080/x") == "http://93.184.216.34:8080/x"
    assert checked_url("http://[2606:4700::1111]/x") == "http://[2606:4700::1111]/x"
    assert checked_url("http://127.0.0.1/x", allow_private=True) == "http://127.0.0.1/x"


def test_a_host_resolving_to_a_private_address_is_not_sent_to(
    app: Lifetide,
    deliveries: Deliveries,
    receiver: Receiver,
    user: User,
    segment_id: int,
    sleeps: list[float],
) -> None:
    # Saved while private addresses were allowed; "localhost" is a name, resolved when sending.
    port = receiver.url.split(":")[2].split("/")[0]
    created = deliveries.create_destination("Local", f"http://localhost:{port}/hook", user)
    strict = Deliveries(app.sessions, deliveries.clock, sleep=deliveries.sleep)

    delivery = strict.push(segment_id, created.destination.id, MEMBERS, user)

    assert delivery.status == "failed"
    assert delivery.error is not None
    assert delivery.error.startswith("page 1: refused: localhost resolves to ")
    assert "LIFETIDE_ALLOW_PRIVATE_DESTINATIONS=true" in delivery.error
    assert (delivery.attempts, delivery.pages_sent) == (1, 0)
    assert receiver.received == []
    assert sleeps == []


def test_a_destinations_recent_deliveries_come_newest_first(
    deliveries: Deliveries, receiver: Receiver, user: User, segment_id: int, clock: ManualClock
) -> None:
    destination_id = _destination(deliveries, receiver, user)
    idle = deliveries.create_destination("Idle", "https://hooks.example.com/x", None)
    first = deliveries.push(segment_id, destination_id, MEMBERS, user)
    clock.advance(dt.timedelta(minutes=5))
    second = deliveries.push(segment_id, destination_id, MEMBERS[:1], user)

    recent = deliveries.destination_deliveries(destination_id)

    assert [d.id for d in recent] == [second.id, first.id]
    assert [(d.status, d.pages_sent, d.pages) for d in recent] == [
        ("delivered", 1, 1),
        ("delivered", 2, 2),
    ]
    assert [d.id for d in deliveries.destination_deliveries(destination_id, limit=1)] == [second.id]
    assert deliveries.destination_deliveries(idle.destination.id) == []
