"""The suppression list: canonical addresses, idempotent adds (also when racing), lookups."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, func, select

from lifetide.clock import ManualClock
from lifetide.messaging.suppressions import BadAddress, Suppressions, normalize_address
from lifetide.ops.database import session_factory, transaction
from lifetide.ops.models import Customer, Identity, Suppression

NOW = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def suppressions(engine: Engine) -> Suppressions:
    return Suppressions(session_factory(engine), ManualClock(NOW))


def _count(engine: Engine) -> int:
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(Suppression)) or 0)


@pytest.mark.parametrize(
    ("channel", "given", "canonical"),
    [
        ("email", "  Ada@Example.COM ", "ada@example.com"),
        ("sms", "(415) 555-0134", "+14155550134"),
        ("sms", "+44 20 7946 0958", "+442079460958"),
        ("push", " device-token-1 ", "device-token-1"),
    ],
)
def test_addresses_are_kept_in_one_form(channel: str, given: str, canonical: str) -> None:
    assert normalize_address(channel, given) == canonical


@pytest.mark.parametrize(
    ("channel", "given", "says"),
    [
        ("email", "ada at example", "not an e-mail address"),
        ("sms", "12", "not a phone number"),
        ("push", "   ", "cannot be empty"),
        ("fax", "123", "unknown channel 'fax'"),
    ],
)
def test_what_is_not_an_address_is_refused(channel: str, given: str, says: str) -> None:
    with pytest.raises(BadAddress, match=says):
        normalize_address(channel, given)


def test_add_is_idempotent_and_reasons_answer_per_address(
    suppressions: Suppressions, engine: Engine
) -> None:
    assert suppressions.add("email", "Ada@Example.com", "hard_bounce", detail="5.1.1", source="dsn")
    assert not suppressions.add("email", "ada@example.com ", "hard_bounce", source="other")
    assert suppressions.add("email", "ada@example.com", "unsubscribe")
    assert suppressions.add("sms", "+14155550134", "complaint")
    assert _count(engine) == 3

    found = suppressions.reasons("email", ["ADA@example.com", "bo@example.com", "junk"])

    assert found == {
        "ADA@example.com": frozenset({"hard_bounce", "unsubscribe"}),
        "bo@example.com": frozenset(),
        "junk": frozenset(),
    }
    # The first record stays as it was.
    with session_factory(engine)() as session:
        row = session.scalars(select(Suppression).where(Suppression.reason == "hard_bounce")).one()
    assert (row.address, row.detail, row.source) == ("ada@example.com", "5.1.1", "dsn")
    assert suppressions.reasons("sms", ["(415) 555-0134"]) == {
        "(415) 555-0134": frozenset({"complaint"})
    }


def test_unknown_reasons_are_refused(suppressions: Suppressions) -> None:
    with pytest.raises(ValueError, match="unknown suppression reason 'bored'"):
        suppressions.add("email", "ada@example.com", "bored")


def test_remove_lifts_one_reason(suppressions: Suppressions) -> None:
    suppressions.add("email", "ada@example.com", "unsubscribe")
    suppressions.add("email", "ada@example.com", "hard_bounce")

    assert suppressions.remove("email", "ADA@example.com", "unsubscribe")
    assert not suppressions.remove("email", "ada@example.com", "unsubscribe")

    assert suppressions.reasons("email", ["ada@example.com"]) == {
        "ada@example.com": frozenset({"hard_bounce"})
    }


def test_of_profile_finds_its_own_and_its_addresses(
    suppressions: Suppressions, engine: Engine
) -> None:
    with transaction(session_factory(engine)) as session:
        session.add(
            Customer(id=7, email="Cy@Example.com", phone=None, created_at=NOW, updated_at=NOW)
        )
        session.flush()
        session.add(
            Identity(
                customer_id=7,
                kind="phone",
                value="+14155550134",
                first_seen_at=NOW,
                last_seen_at=NOW,
            )
        )
    suppressions.add("push", "token-7", "unsubscribe", profile_id=7)
    suppressions.add("email", "cy@example.com", "hard_bounce")
    suppressions.add("sms", "+14155550134", "complaint")
    suppressions.add("email", "someone@else.com", "hard_bounce")

    found = suppressions.of_profile(7)

    assert sorted((s.channel, s.address, s.reason) for s in found) == [
        ("email", "cy@example.com", "hard_bounce"),
        ("push", "token-7", "unsubscribe"),
        ("sms", "+14155550134", "complaint"),
    ]


def test_racing_adds_make_one_row(suppressions: Suppressions, engine: Engine) -> None:
    workers = 6
    barrier = threading.Barrier(workers)
    results: list[bool] = []
    errors: list[BaseException] = []

    def add() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(suppressions.add("email", "race@example.com", "hard_bounce"))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=add) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == [False] * (workers - 1) + [True]
    assert _count(engine) == 1
