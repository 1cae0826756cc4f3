"""Opens, clicks, unsubscribes and bounces update the sends, suppressions and consents, and
journal the internal events, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update

from lifetide.channels.bounces import BounceReport
from lifetide.clock import ManualClock
from lifetide.collect.loader import WarehouseLoader
from lifetide.context import Lifetide
from lifetide.journeys.definition import Journey
from lifetide.journeys.policy import Caps, Message, Recipient, decide
from lifetide.journeys.store import JourneyStore
from lifetide.measure.tables import TOUCHES
from lifetide.messaging import bounce_reports, feedback
from lifetide.messaging.suppressions import Suppressions
from lifetide.ops.database import transaction
from lifetide.ops.models import Consent, Identity, JourneySend, Suppression
from lifetide.settings import load_settings
from tests.customers import shop

NOW = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
ADA, MERGED_INTO_ADA, BO = 11, 10, 12
JOURNEY = {
    "name": "Cart abandonment",
    "trigger": {"type": "event", "event": {"event": "Product Added"}, "key": "cart_id"},
    "start": "first_email",
    "steps": {
        "first_email": {
            "type": "send",
            "template": "cart-reminder",
            "fallback": "first_sms",
            "next": "exit",
        },
        "first_sms": {"type": "send", "channel": "sms", "template": "cart-sms", "next": "exit"},
    },
}


def build_shop(app: Lifetide) -> None:
    """The customer shop (Ada 11 with 10 merged into her, Bo 12) and a newer device of Ada's."""
    shop.build(app, scored=False)
    with transaction(app.sessions) as session:
        session.add(
            Identity(
                customer_id=ADA,
                kind="anonymous_id",
                value="dev-ada-new",
                source="web",
                first_seen_at=shop.T0,
                last_seen_at=shop.T0 + dt.timedelta(days=30),
            )
        )


def journey_id_of(app: Lifetide) -> int:
    """The id of the test journey, created (live) the first time."""
    store = JourneyStore(app.sessions, app.clock)
    for record in store.list():
        if record.name == JOURNEY["name"]:
            return record.id
    created = store.create(str(JOURNEY["name"]), Journey.model_validate(JOURNEY), None)
    store.set_status(created.id, "live")
    return created.id


def sent_message(
    app: Lifetide,
    *,
    profile_id: int = ADA,
    cart: str = "cart-1",
    step: str = "first_email",
    channel: str = "email",
    address: str | None = "ada@example.com",
    provider_id: str | None = None,
) -> str:
    """A send the dispatcher delivered, as the outbox records it; its key."""
    store = JourneyStore(app.sessions, app.clock)
    journey_id = journey_id_of(app)
    instance_id = store.open_instance(journey_id, 1, profile_id, cart, step=step)
    assert instance_id is not None
    key = f"{instance_id}:{step}:1"
    assert store.record_send(instance_id, key, step, channel, "cart-reminder")
    with transaction(app.sessions) as session:
        session.execute(
            update(JourneySend)
            .where(JourneySend.idempotency_key == key)
            .values(
                journey_id=journey_id,
                profile_id=profile_id,
                address=address,
                status="sent",
                sent_at=app.clock.now(),
                provider_message_id=provider_id,
            )
        )
    return key


def journaled(app: Lifetide) -> list[dict[str, Any]]:
    """Every message journaled so far, oldest first."""
    found: list[dict[str, Any]] = []
    for entry in app.journal.read(0):
        assert entry.source_id is None
        found.extend(json.loads(entry.body)["batch"])
    return found


def send_row(app: Lifetide, key: str) -> JourneySend:
    """The stored send `key`."""
    with app.sessions() as session:
        row = session.scalar(select(JourneySend).where(JourneySend.idempotency_key == key))
    assert row is not None
    return row


def consent_of(app: Lifetide, profile_id: int, channel: str) -> tuple[str, str | None] | None:
    """(status, source) of the profile's marketing consent on `channel`, if any."""
    with app.sessions() as session:
        row = session.execute(
            select(Consent.status, Consent.source).where(
                Consent.customer_id == profile_id, Consent.channel == channel
            )
        ).first()
    return None if row is None else (row[0], row[1])


def aware(when: dt.datetime | None) -> dt.datetime | None:
    """A stored time as aware UTC (SQLite hands back naive UTC)."""
    return when if when is None or when.tzinfo else when.replace(tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def messaging_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lifetide]:
    """The customer shop with the test journey, its ops database on SQLite or PostgreSQL."""
    schema = None
    url = None
    if request.param == "postgres":
        base = request.getfixturevalue("postgres_url")
        schema = f"lt_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = f"{base}?options=-csearch_path%3D{schema}"
    settings = load_settings(data_dir=tmp_path / "data", env="test", database_url=url)
    app = Lifetide(settings, ManualClock(NOW))
    try:
        build_shop(app)
        yield app
    finally:
        app.close()
        if schema is not None:
            admin = create_engine(request.getfixturevalue("postgres_url"))
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def test_an_open_is_kept_once_and_journaled_each_time(messaging_app: Lifetide) -> None:
    app = messaging_app
    key = sent_message(app)
    clock: ManualClock = app.clock  # type: ignore[assignment]

    assert feedback.record_open(app, key)
    clock.advance(dt.timedelta(hours=1))
    assert feedback.record_open(app, key)

    assert aware(send_row(app, key).opened_at) == NOW
    events = journaled(app)
    assert [e["event"] for e in events] == ["Email Opened", "Email Opened"]
    first = events[0]
    assert first["userId"] == "u-ada"
    # The profile's most recent device, so the warehouse maps the event to the profile.
    assert first["anonymousId"] == "dev-ada-new"
    assert first["context"] == {"lifetide": {"profile_id": ADA}}
    journey_id = journey_id_of(app)
    assert first["properties"] == {
        "send_key": key,
        "journey_id": journey_id,
        "campaign_id": f"journey-{journey_id}",
        "step": "first_email",
        "channel": "email",
        "sent_at": NOW.isoformat(),
        "first": True,
    }
    assert events[1]["timestamp"] == (NOW + dt.timedelta(hours=1)).isoformat()
    assert events[1]["properties"]["first"] is False


def test_an_unknown_send_records_nothing(messaging_app: Lifetide) -> None:
    assert not feedback.record_open(messaging_app, "999:first_email:1")
    assert not feedback.record_click(messaging_app, "999:first_email:1", "https://shop.test/")
    assert journaled(messaging_app) == []


def test_a_click_means_an_open(messaging_app: Lifetide) -> None:
    app = messaging_app
    key = sent_message(app)
    url = "https://shop.example.com/cart?utm_source=lifetide"

    assert feedback.record_click(app, key, url)
    app.clock.advance(dt.timedelta(minutes=5))  # type: ignore[attr-defined]
    assert feedback.record_click(app, key, url)

    row = send_row(app, key)
    assert aware(row.opened_at) == NOW and aware(row.clicked_at) == NOW
    events = journaled(app)
    # The implied open once, then every click.
    assert [e["event"] for e in events] == [
        "Email Opened",
        "Email Link Clicked",
        "Email Link Clicked",
    ]
    assert events[1]["properties"]["url"] == url
    assert events[1]["properties"]["send_key"] == key
    # Each says whether it was the message's first of its kind, for the dashboards' counts.
    assert [e["properties"]["first"] for e in events] == [True, True, False]


def test_loaded_feedback_becomes_touches_of_its_send(messaging_app: Lifetide) -> None:
    app = messaging_app
    key = sent_message(app)
    clock: ManualClock = app.clock  # type: ignore[assignment]
    clock.advance(dt.timedelta(hours=2))
    assert feedback.record_click(app, key, "https://shop.example.com/")
    clock.advance(dt.timedelta(hours=1))
    assert feedback.record_open(app, key)
    WarehouseLoader(app.journal, app.warehouse).load_all()
    WarehouseLoader(app.journal, app.warehouse).load_all()  # a replay writes nothing twice

    touches = app.warehouse.table(TOUCHES).order_by(["touched_at", "kind"]).to_pyarrow()
    got = [
        (r["send_key"], r["profile_id"], r["kind"], r["first"], r["touched_at"], r["sent_at"])
        for r in touches.to_pylist()
    ]
    at = NOW.replace(tzinfo=None)
    assert got == [
        (key, ADA, "click", True, at + dt.timedelta(hours=2), at),
        (key, ADA, "open", True, at + dt.timedelta(hours=2), at),
        (key, ADA, "open", False, at + dt.timedelta(hours=3), at),
    ]
    journey = app.warehouse.table(TOUCHES).journey_id.to_pyarrow().to_pylist()
    assert set(journey) == {journey_id_of(app)}


def test_a_bo_event_names_bo(messaging_app: Lifetide) -> None:
    key = sent_message(messaging_app, profile_id=BO, address="bo@example.com")
    feedback.record_open(messaging_app, key)
    event = journaled(messaging_app)[0]
    assert (event["userId"], event["anonymousId"]) == ("u-bo", "dev-bo")


def _recipient(app: Lifetide, profile_id: int, channel: str, address: str) -> Recipient:
    """What the policy gate knows, read from the stores as a dispatcher reads it."""
    consent = consent_of(app, profile_id, channel)
    reasons = Suppressions(app.sessions, app.clock).reasons(channel, [address])[address]
    status = consent[0] if consent else "unknown"
    return Recipient(consent=status, suppressed=reasons, marketing_sent=[])  # type: ignore[arg-type]


def test_unsubscribe_stops_marketing_at_once(messaging_app: Lifetide) -> None:
    app = messaging_app
    key = sent_message(app)
    message = Message(channel="email", marketing=True)
    caps = Caps(quiet_start=None, quiet_end=None)
    assert decide(message, _recipient(app, ADA, "email", "ada@example.com"), NOW, caps).verdict == (
        "send"
    )

    assert feedback.unsubscribe(app, ADA, "email", "Ada@Example.com", source="one-click", key=key)

    # The very next read the dispatcher makes sees it.
    decision = decide(message, _recipient(app, ADA, "email", "ada@example.com"), NOW, caps)
    assert decision.verdict == "skip" and "opted out" in decision.reason
    # Transactional mail still goes.
    transactional = Message(channel="email", marketing=False)
    recipient = _recipient(app, ADA, "email", "ada@example.com")
    assert decide(transactional, recipient, NOW, caps).verdict == "send"
    assert consent_of(app, ADA, "email") == ("denied", "one-click")
    with app.sessions() as session:
        rows = session.execute(
            select(Suppression.address, Suppression.reason, Suppression.profile_id)
        )
        assert rows.all() == [("ada@example.com", "unsubscribe", ADA)]
    events = journaled(app)
    assert [e["event"] for e in events] == ["Unsubscribed"]
    assert events[0]["properties"]["channel"] == "email"
    assert events[0]["properties"]["send_key"] == key

    # Again: nothing changes, nothing more is journaled.
    assert not feedback.unsubscribe(app, ADA, "email", "ada@example.com", source="one-click")
    assert len(journaled(app)) == 1


def test_the_journaled_unsubscribe_keeps_consent_denied(messaging_app: Lifetide) -> None:
    app = messaging_app
    feedback.unsubscribe(app, ADA, "email", "ada@example.com", source="one-click")
    # The loader and the live identity step read the same event later from the stream.
    assert app.loader().load_all() == 1

    assert consent_of(app, ADA, "email") == ("denied", "one-click")
    events = app.warehouse.duckdb.execute(
        "SELECT event, user_id, anonymous_id FROM events WHERE event = 'Unsubscribed'"
    ).fetchall()
    assert events == [("Unsubscribed", "u-ada", "dev-ada-new")]


def test_unsubscribing_a_merged_profile_reaches_the_survivor(messaging_app: Lifetide) -> None:
    # SMS was denied already (from the shop's records): the phone is suppressed all the same.
    assert feedback.unsubscribe(
        messaging_app, MERGED_INTO_ADA, "sms", "+1 415 555 0101", source="one-click"
    )
    assert consent_of(messaging_app, ADA, "sms") == ("denied", "pos")
    assert feedback.unsubscribe(
        messaging_app, MERGED_INTO_ADA, "email", "ada@example.com", source="one-click"
    )
    assert consent_of(messaging_app, ADA, "email") == ("denied", "one-click")
    reasons = Suppressions(messaging_app.sessions, messaging_app.clock).reasons(
        "sms", ["+14155550101", "(415) 555-0101"]
    )
    assert reasons == {
        "+14155550101": frozenset({"unsubscribe"}),
        "(415) 555-0101": frozenset({"unsubscribe"}),
    }
    assert journaled(messaging_app)[0]["context"] == {"lifetide": {"profile_id": ADA}}


def test_preferences_turn_channels_off_and_on(messaging_app: Lifetide) -> None:
    app = messaging_app
    choices = feedback.preferences(app, ADA, "email", "ada@example.com")
    # Ada: e-mail granted; SMS denied (she has a phone); no push.
    assert [(c.channel, c.subscribed, c.blocked) for c in choices] == [
        ("email", True, None),
        ("sms", False, None),
    ]
    # Whoever holds the e-mail (it may be forwarded) sees the other address masked ...
    assert choices[1].address == "+1••••••0101"

    # ... and can turn channels off, but cannot sign Ada up for texts from an e-mail's link.
    after = feedback.set_preferences(
        app, ADA, "email", "ada@example.com", {"email": False, "sms": True}, source="page"
    )
    assert [(c.channel, c.subscribed) for c in after] == [("email", False), ("sms", False)]
    assert consent_of(app, ADA, "sms")[0] == "denied"

    again = feedback.set_preferences(
        app, ADA, "email", "ada@example.com", {"email": True}, source="page"
    )
    assert again[0].subscribed
    assert Suppressions(app.sessions, app.clock).reasons("email", ["ada@example.com"]) == {
        "ada@example.com": frozenset()
    }


def test_a_bounced_address_cannot_be_turned_on_again(messaging_app: Lifetide) -> None:
    app = messaging_app
    feedback.unsubscribe(app, ADA, "email", "ada@example.com", source="one-click")
    Suppressions(app.sessions, app.clock).add("email", "ada@example.com", "hard_bounce")

    after = feedback.set_preferences(
        app, ADA, "email", "ada@example.com", {"email": True}, source="page"
    )

    assert after[0].subscribed is False
    assert after[0].blocked == "messages to this address bounced"
    assert consent_of(app, ADA, "email") == ("denied", "one-click")
    reasons = Suppressions(app.sessions, app.clock).reasons("email", ["ada@example.com"])
    assert reasons["ada@example.com"] == {"unsubscribe", "hard_bounce"}


def test_a_hard_bounce_suppresses_flags_and_journals_once(messaging_app: Lifetide) -> None:
    app = messaging_app
    key = sent_message(app)
    report = BounceReport(
        recipient="ADA@example.com",
        kind="hard",
        status="5.1.1",
        diagnostic="550 5.1.1 no such user",
        send_key=key,
    )

    assert bounce_reports.apply_reports(app, [report], "dsn") == 1
    assert bounce_reports.apply_reports(app, [report], "dsn") == 1

    row = send_row(app, key)
    assert row.status == "bounced" and aware(row.bounced_at) == NOW
    assert row.reason == "hard bounce 5.1.1: 550 5.1.1 no such user"
    with app.sessions() as session:
        stored = session.execute(
            select(
                Suppression.channel,
                Suppression.address,
                Suppression.reason,
                Suppression.profile_id,
                Suppression.source,
            )
        ).all()
    assert stored == [("email", "ada@example.com", "hard_bounce", ADA, "dsn")]
    events = journaled(app)
    assert [e["event"] for e in events] == ["Email Bounced"]
    journey_id = journey_id_of(app)
    assert events[0]["properties"] == {
        "send_key": key,
        "journey_id": journey_id,
        "campaign_id": f"journey-{journey_id}",
        "step": "first_email",
        "channel": "email",
        "sent_at": NOW.isoformat(),
        "first": True,
        "bounce_type": "hard",
        "status": "5.1.1",
        "diagnostic": "550 5.1.1 no such user",
    }


def test_a_report_finds_its_send_by_message_id(messaging_app: Lifetide) -> None:
    app = messaging_app
    by_provider = sent_message(app, cart="c-1", provider_id="prov-123")
    by_header = sent_message(app, cart="c-2")
    reports = [
        BounceReport(recipient="ada@example.com", kind="hard", message_id="<prov-123>"),
        # compose_email's Message-ID: the key with ':' as '.', at the sender's domain.
        BounceReport(
            recipient="ada@example.com",
            kind="hard",
            message_id=f"<{by_header.replace(':', '.')}@lifetide.dev>",
        ),
    ]
    assert bounce_reports.apply_reports(app, reports, "provider webhook") == 2
    assert send_row(app, by_provider).status == "bounced"
    assert send_row(app, by_header).status == "bounced"


def test_a_soft_bounce_is_only_noted(messaging_app: Lifetide) -> None:
    app = messaging_app
    key = sent_message(app)
    report = BounceReport(
        recipient="ada@example.com",
        kind="soft",
        status="4.2.2",
        diagnostic="mailbox full",
        send_key=key,
    )
    assert bounce_reports.apply_reports(app, [report], "dsn") == 1
    row = send_row(app, key)
    assert (row.status, row.bounced_at, row.reason) == (
        "sent",
        None,
        "soft bounce 4.2.2: mailbox full",
    )
    assert Suppressions(app.sessions, app.clock).of_profile(ADA) == []
    assert journaled(app) == []


def test_a_complaint_unsubscribes(messaging_app: Lifetide) -> None:
    app = messaging_app
    key = sent_message(app)
    report = BounceReport(recipient="ada@example.com", kind="complaint", send_key=key)

    assert bounce_reports.apply_reports(app, [report], "dsn") == 1
    assert bounce_reports.apply_reports(app, [report], "dsn") == 1

    assert consent_of(app, ADA, "email") == ("denied", "dsn")
    reasons = Suppressions(app.sessions, app.clock).reasons("email", ["ada@example.com"])
    assert reasons["ada@example.com"] == {"complaint"}
    events = journaled(app)
    assert [e["event"] for e in events] == ["Unsubscribed"]
    assert events[0]["properties"]["reason"] == "complaint"
    assert events[0]["properties"]["send_key"] == key
    assert send_row(app, key).status == "sent"


def test_reports_for_unknown_sends_still_suppress(messaging_app: Lifetide) -> None:
    app = messaging_app
    reports = [
        BounceReport(recipient="Bo@Example.com", kind="hard", message_id="<unknown@elsewhere>"),
        BounceReport(recipient="stranger@example.org", kind="hard"),
        BounceReport(recipient="not an address", kind="hard"),
    ]

    assert bounce_reports.apply_reports(app, reports, "dsn") == 2

    with app.sessions() as session:
        stored = session.execute(
            select(Suppression.address, Suppression.profile_id).order_by(Suppression.address)
        ).all()
    assert stored == [("bo@example.com", BO), ("stranger@example.org", None)]
    # Bo's bounce is an event of Bo's (segments see it); the stranger has no profile.
    events = journaled(app)
    assert [(e["event"], e["userId"], e["properties"]["send_key"]) for e in events] == [
        ("Email Bounced", "u-bo", None)
    ]
