"""A dispatcher with a builder process claims its next round ahead: caps hold, nothing is lost.

The next round is prepared on a thread while this one is delivered, so its gate may run
before, during or after this round's sends are recorded: the tests force the two ends.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.dispatch import Dispatcher
from lifetide.journeys.rounds import Round
from lifetide.ops.models import JourneySend
from lifetide.settings import Settings, load_settings
from tests.journeys.conftest import Mailbox, queue_welcomes, store_url

T0 = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)  # mid-afternoon UTC: no quiet hours
LIMIT = 4


def _settings(tmp_path: Path, port: int, **overrides: Any) -> Settings:
    """E-mails built by a builder process (the default), to the test's mailbox."""
    return load_settings(
        data_dir=tmp_path / "data",
        env="test",
        smtp_url=f"smtp://127.0.0.1:{port}",
        global_holdout_percent=0,
        render_processes=1,
        **overrides,
    )


@pytest.fixture
def app(tmp_path: Path, mailbox: tuple[Mailbox, int]) -> Iterator[Lifetide]:
    """A Lifetide on SQLite whose e-mails are built by a builder process."""
    with Lifetide(_settings(tmp_path, mailbox[1]), clock=ManualClock(T0)) as lifetide:
        yield lifetide


@pytest.fixture(params=["sqlite", "postgresql"])
def make_app(
    request: pytest.FixtureRequest, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> Iterator[Callable[..., Lifetide]]:
    """Opens a Lifetide with the given settings on either store (a schema of its own)."""
    opened: list[Lifetide] = []
    with store_url(request, "lt_ahead") as url:

        def make(**overrides: Any) -> Lifetide:
            if url is not None:
                overrides["database_url"] = url
            settings = _settings(tmp_path, mailbox[1], **overrides)
            lifetide = Lifetide(settings, clock=ManualClock(T0))
            opened.append(lifetide.__enter__())
            return lifetide

        try:
            yield make
        finally:
            for lifetide in opened:
                lifetide.__exit__(None, None, None)


def _send_all(app: Lifetide) -> None:
    """Dispatch until nothing is due, the first round full (so the next is prepared ahead)."""
    dispatcher = Dispatcher(app, "w1")
    try:
        first = dispatcher.dispatch(LIMIT)
        assert (first.claimed, first.sent) == (LIMIT, LIMIT)
        while dispatcher.dispatch(LIMIT).claimed:
            pass
    finally:
        dispatcher.close()


def _statuses(app: Lifetide) -> dict[int, list[str]]:
    with app.sessions() as session:
        rows = session.execute(
            select(JourneySend.profile_id, JourneySend.status, JourneySend.claimed_by)
        ).all()
    found: dict[int, list[str]] = {}
    for profile, status, holder in rows:
        assert holder is None, "a send is still claimed"
        found.setdefault(int(profile or 0), []).append(status)
    return found


def test_the_next_round_counts_this_rounds_marketing_against_the_daily_cap(
    app: Lifetide, mailbox: tuple[Mailbox, int]
) -> None:
    # Customer 1's second e-mail is in the second round, claimed while the first round's
    # e-mail to her is still only claimed: the cap (one a day) must see it all the same.
    box, _ = mailbox
    queue_welcomes(app, [1, 2, 3, 4, 1, 6, 7, 8, 9], T0)
    _send_all(app)
    statuses = _statuses(app)
    assert sorted(statuses[1]) == ["sent", "skipped"]
    assert all(s == ["sent"] for p, s in statuses.items() if p != 1)
    assert len(box.to("c1@shop.test")) == 1
    assert len(box.messages) == 8


def test_closing_releases_the_round_claimed_ahead_and_another_dispatcher_sends_it(
    app: Lifetide, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    queue_welcomes(app, list(range(1, 11)), T0)
    dispatcher = Dispatcher(app, "w1")
    try:
        assert dispatcher.dispatch(LIMIT).sent == LIMIT
    finally:
        dispatcher.close()
    assert len(box.messages) == LIMIT
    with app.sessions() as session:
        assert session.scalar(select(JourneySend.id).where(JourneySend.claimed_by == "w1")) is None
    other = Dispatcher(app, "w2")
    try:
        while other.dispatch(LIMIT).claimed:
            pass
    finally:
        other.close()
    assert all(s == ["sent"] for s in _statuses(app).values())
    assert sorted(m["To"] for m in box.messages) == sorted(f"c{n}@shop.test" for n in range(1, 11))


def test_a_warmed_up_dispatcher_sends_as_any_other(
    app: Lifetide, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    queue_welcomes(app, [1, 2], T0)
    dispatcher = Dispatcher(app, "w1")
    try:
        assert dispatcher.warm_up(timeout=60)
        assert dispatcher.dispatch(LIMIT).sent == 2
    finally:
        dispatcher.close()
    assert sorted(m["To"] for m in box.messages) == ["c1@shop.test", "c2@shop.test"]


def _ordered(monkeypatch: pytest.MonkeyPatch, gate_first: bool) -> None:
    """Force when the next round's gate runs against this round's delivery.

    `gate_first`: the next round is claimed and gated before any send of this round is
    recorded (so only the round in hand can tell its gate of them); otherwise only once
    every send of this round is recorded as sent (so the database tells it, and the round
    in hand must not count them a second time).
    """
    deliver = Dispatcher._deliver_emails
    start = Dispatcher._start
    # Per round (by its id): set once the round's e-mails are all sent and recorded.
    delivered: dict[int, threading.Event] = {}

    def deliver_emails(self: Dispatcher, current: Round) -> dict[str, int]:
        if gate_first and self._ahead is not None:
            self._ahead.result(timeout=60)
        try:
            return deliver(self, current)
        finally:
            delivered.setdefault(id(current), threading.Event()).set()

    def start_round(self: Dispatcher, limit: int, before: Round | None = None) -> Round:
        if not gate_first and before is not None:
            done = delivered.setdefault(id(before), threading.Event())
            assert done.wait(timeout=60), "the round before was never delivered"
        return start(self, limit, before)

    monkeypatch.setattr(Dispatcher, "_deliver_emails", deliver_emails)
    monkeypatch.setattr(Dispatcher, "_start", start_round)


@pytest.mark.parametrize("gate_first", [True, False], ids=["gate-first", "recorded-first"])
@pytest.mark.parametrize("per_day", [1, 2])
def test_the_caps_count_the_round_being_delivered_once_whenever_the_next_is_gated(
    make_app: Callable[..., Lifetide],
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
    gate_first: bool,
    per_day: int,
) -> None:
    # Customer 1 has one e-mail in each of the first two rounds: the second round is gated
    # while the first is delivered. A cap of one a day must stop the second; with two a day
    # it must go (the first counted once, recorded or not).
    box, _ = mailbox
    app = make_app(marketing_per_day=per_day, marketing_per_week=3)
    queue_welcomes(app, [1, 2, 3, 4, 1, 6, 7, 8, 9], T0)
    _ordered(monkeypatch, gate_first)
    _send_all(app)
    statuses = _statuses(app)
    expected = ["sent", "skipped"] if per_day == 1 else ["sent", "sent"]
    assert sorted(statuses[1]) == expected
    assert all(s == ["sent"] for p, s in statuses.items() if p != 1)
    assert len(box.to("c1@shop.test")) == (1 if per_day == 1 else 2)
