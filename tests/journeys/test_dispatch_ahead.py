"""A dispatcher with a builder process claims its next round ahead: caps hold, nothing is lost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.dispatch import Dispatcher
from lifetide.journeys.files import parse_journey
from lifetide.journeys.store import JourneyStore
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.models import Consent, Customer, JourneySend
from lifetide.settings import load_settings
from tests.journeys.conftest import Mailbox

T0 = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)  # mid-afternoon UTC: no quiet hours
WELCOME = """
name: Welcome
trigger: {type: event, event: {event: Signed Up}}
start: hello
steps:
  hello: {type: send, template: welcome, next: exit}
"""
LIMIT = 4


@pytest.fixture
def app(tmp_path: Path, mailbox: tuple[Mailbox, int]) -> Iterator[Lifetide]:
    """A Lifetide whose e-mails are built by a builder process (the default)."""
    settings = load_settings(
        data_dir=tmp_path / "data",
        env="test",
        smtp_url=f"smtp://127.0.0.1:{mailbox[1]}",
        global_holdout_percent=0,
        render_processes=1,
    )
    with Lifetide(settings, clock=ManualClock(T0)) as lifetide:
        yield lifetide


def _queue(app: Lifetide, profiles: list[int]) -> None:
    """One pending welcome e-mail per entry of `profiles` (a customer each), oldest first."""
    TemplateStore(app.sessions, app.clock).ensure_bundled()
    store = JourneyStore(app.sessions, app.clock)
    journey_id = store.create("Welcome", parse_journey(WELCOME), None).id
    store.set_status(journey_id, "live")
    with app.sessions.begin() as session:
        for n in sorted(set(profiles)):
            session.add(
                Customer(id=n, email=f"c{n}@shop.test", traits={}, created_at=T0, updated_at=T0)
            )
            session.add(
                Consent(
                    customer_id=n,
                    channel="email",
                    purpose="marketing",
                    status="granted",
                    source="test",
                    updated_at=T0,
                )
            )
    for n, profile in enumerate(profiles):
        instance = store.open_instance(journey_id, 1, profile, f"k{n}", step="hello")
        assert instance is not None
        with app.sessions.begin() as session:
            due = T0 - dt.timedelta(hours=1) + dt.timedelta(seconds=n)  # the backlog's order
            session.add(
                JourneySend(
                    instance_id=instance,
                    idempotency_key=f"{instance}:hello:1",
                    step="hello",
                    channel="email",
                    template="welcome",
                    status="pending",
                    created_at=due,
                    journey_id=journey_id,
                    profile_id=profile,
                    due_at=due,
                    marketing=True,
                )
            )


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
    _queue(app, [1, 2, 3, 4, 1, 6, 7, 8, 9])
    dispatcher = Dispatcher(app, "w1")
    try:
        first = dispatcher.dispatch(LIMIT)
        assert (first.claimed, first.sent) == (LIMIT, LIMIT)
        while dispatcher.dispatch(LIMIT).claimed:
            pass
    finally:
        dispatcher.close()
    statuses = _statuses(app)
    assert sorted(statuses[1]) == ["sent", "skipped"]
    assert all(s == ["sent"] for p, s in statuses.items() if p != 1)
    assert len(box.to("c1@shop.test")) == 1
    assert len(box.messages) == 8


def test_closing_releases_the_round_claimed_ahead_and_another_dispatcher_sends_it(
    app: Lifetide, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    _queue(app, list(range(1, 11)))
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
    _queue(app, [1, 2])
    dispatcher = Dispatcher(app, "w1")
    try:
        assert dispatcher.warm_up(timeout=60)
        assert dispatcher.dispatch(LIMIT).sent == 2
    finally:
        dispatcher.close()
    assert sorted(m["To"] for m in box.messages) == ["c1@shop.test", "c2@shop.test"]
