"""Promo codes on SQLite and PostgreSQL: unique, idempotent per send, redeemed exactly once."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import ManualClock
from lifetide.journeys.definition import Offer
from lifetide.messaging.promos import (
    _LETTER_OF_BYTE,
    ALPHABET,
    CodeRequest,
    IssuedCode,
    PromoCodes,
    PromoError,
    describe,
    normalize_code,
    prefix,
    random_part,
)
from lifetide.ops.models import PromoCode
from tests.messaging.conftest import T0

TEN = Offer(kind="percent_off", value=10, valid_days=3)


@pytest.fixture
def promos(sessions: sessionmaker[Session], clock: ManualClock) -> PromoCodes:
    return PromoCodes(sessions, clock)


def test_the_alphabet_has_no_lookalikes() -> None:
    assert not set("0O1I") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET) == 32


def test_random_parts_use_every_letter_evenly() -> None:
    # Each letter stands for exactly 8 of the 256 byte values: uniform by construction.
    assert Counter(_LETTER_OF_BYTE) == {ord(letter): 8 for letter in ALPHABET}
    # And drawn: 64,000 letters, 2,000 expected of each (a standard deviation of 44).
    letters = Counter("".join(random_part() for _ in range(8_000)))
    assert set(letters) == set(ALPHABET)
    assert all(1_700 < n < 2_300 for n in letters.values())
    assert all(len(random_part(n)) == n for n in (1, 8, 20))


@pytest.mark.parametrize(
    ("kind", "value", "start", "words"),
    [
        ("percent_off", 10, "P10", "10% off"),
        ("percent_off", 12.5, "P", "12.5% off"),
        ("amount_off", 5, "SAVE5", "$5.00 off"),
        ("free_shipping", 0, "FREESHIP", "free shipping"),
    ],
)
def test_codes_read_as_what_they_give(kind: str, value: float, start: str, words: str) -> None:
    assert prefix(kind, value) == start
    assert describe(kind, value) == words


def test_an_issued_code(promos: PromoCodes) -> None:
    issued = promos.issue("7:first_email:1", 42, TEN)
    assert re.fullmatch(rf"P10-[{ALPHABET}]{{8}}", issued.code)
    assert (issued.kind, issued.value, issued.description) == ("percent_off", 10.0, "10% off")
    assert issued.expires_at == T0 + dt.timedelta(days=3)
    assert issued.context() == {
        "kind": "percent_off",
        "value": 10.0,
        "code": issued.code,
        "expires_at": T0 + dt.timedelta(days=3),
        "description": "10% off",
    }
    row = promos.find(issued.code.lower())
    assert row is not None and (row.profile_id, row.send_key) == (42, "7:first_email:1")


def test_issuing_is_idempotent_per_send(
    promos: PromoCodes, clock: ManualClock, sessions: sessionmaker[Session]
) -> None:
    first = promos.issue("7:first_email:1", 42, TEN)
    clock.advance(dt.timedelta(hours=5))
    assert promos.issue("7:first_email:1", 42, TEN) == first
    batch = promos.issue_many(
        [
            CodeRequest("7:first_email:1", 42, TEN),
            CodeRequest("8:first_email:1", 43, Offer(kind="free_shipping", valid_days=2)),
        ]
    )
    assert batch[0] == first
    assert batch[1].code.startswith("FREESHIP-")
    assert batch[1].expires_at == clock.now() + dt.timedelta(days=2)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PromoCode)) == 2
    with pytest.raises(ValueError, match="once in a batch"):
        promos.issue_many([CodeRequest("k", 1, TEN), CodeRequest("k", 1, TEN)])
    assert promos.issue_many([]) == []


def test_many_codes_are_all_different(promos: PromoCodes) -> None:
    codes = promos.issue_many([CodeRequest(f"{i}:s:1", i, TEN) for i in range(500)])
    assert len({c.code for c in codes}) == 500


def _draws(*values: str) -> Iterator[str]:
    yield from values


def test_a_collision_draws_again(sessions: sessionmaker[Session], clock: ManualClock) -> None:
    draws = _draws("AAAA2222", "AAAA2222", "BBBB3333", "CCCC4444", "CCCC4444", "DDDD5555")
    promos = PromoCodes(sessions, clock, draw=lambda: next(draws))
    assert promos.issue("1:s:1", 1, TEN).code == "P10-AAAA2222"
    # The database refuses the second AAAA2222; the retry draws BBBB3333.
    assert promos.issue("2:s:1", 2, TEN).code == "P10-BBBB3333"
    # Within one batch, a repeated draw is caught before the database sees it.
    batch = promos.issue_many([CodeRequest("3:s:1", 3, TEN), CodeRequest("4:s:1", 4, TEN)])
    assert [c.code for c in batch] == ["P10-CCCC4444", "P10-DDDD5555"]


def test_a_code_is_redeemed_once(promos: PromoCodes, clock: ManualClock) -> None:
    issued = promos.issue("7:first_email:1", 42, TEN)
    clock.advance(dt.timedelta(days=1))
    row = promos.redeem(f"  {issued.code.lower()} ", "order-1")
    assert row.order_id == "order-1"
    assert row.redeemed_at is not None
    assert row.redeemed_at.replace(tzinfo=dt.UTC) == clock.now()
    # The same order again (a replayed event) is fine; another order is not.
    assert promos.redeem(issued.code, "order-1").order_id == "order-1"
    with pytest.raises(PromoError, match="has already been used") as caught:
        promos.redeem(issued.code, "order-2")
    assert caught.value.reason == "used"


def test_expired_and_unknown_codes(promos: PromoCodes, clock: ManualClock) -> None:
    issued = promos.issue("7:first_email:1", 42, TEN)
    with pytest.raises(PromoError, match="is not a code we issued") as caught:
        promos.redeem("P10-NOTACODE", "order-1")
    assert caught.value.reason == "unknown"
    clock.advance(dt.timedelta(days=3))
    with pytest.raises(PromoError, match="has expired") as caught:
        promos.redeem(issued.code, "order-1")
    assert caught.value.reason == "expired"
    # Redeeming at a moment before expiry (an order placed in time, processed late) works.
    assert promos.redeem(issued.code, "order-1", at=T0 + dt.timedelta(days=2)).order_id == (
        "order-1"
    )


def test_two_redemptions_at_once_exactly_one_wins(promos: PromoCodes) -> None:
    issued = promos.issue("7:first_email:1", 42, TEN)
    barrier = threading.Barrier(4)
    won: list[str] = []
    lost: list[str] = []

    def redeem(order: str) -> None:
        barrier.wait()
        try:
            promos.redeem(issued.code, order)
            won.append(order)
        except PromoError as err:
            assert err.reason == "used"
            lost.append(order)

    threads = [threading.Thread(target=redeem, args=(f"order-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(won) == 1 and len(lost) == 3
    row = promos.find(issued.code)
    assert row is not None and row.order_id == won[0]


def test_issued_codes_come_back_from_rows(promos: PromoCodes) -> None:
    issued = promos.issue("9:s:1", None, Offer(kind="amount_off", value=5, valid_days=1))
    row = promos.find(issued.code)
    assert row is not None
    assert IssuedCode.of(row) == issued
    assert issued.description == "$5.00 off"
    assert normalize_code(" save5-ab cd ") == "SAVE5-ABCD"
