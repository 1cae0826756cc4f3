"""The measurement copy: settled sends and exposures reach the warehouse once, and only they."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.files import parse_journey
from lifetide.journeys.store import JourneyStore
from lifetide.measure.sync import MeasureCopy
from lifetide.ops.database import transaction
from lifetide.ops.models import Exposure, JourneyInstance, JourneySend
from lifetide.settings import Settings

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
JOURNEY = "name: J\ntrigger: {type: event, event: {event: E}}\nstart: x\nsteps: {x: {type: exit}}\n"
STATUSES = ("sent", "bounced", "skipped", "failed", "pending", "deferred", "sending")


def _seed(app: Lifetide) -> None:
    journey = JourneyStore(app.sessions, app.clock).create("J", parse_journey(JOURNEY), None).id
    with transaction(app.sessions) as session:
        instance = JourneyInstance(
            journey_id=journey,
            version=1,
            profile_id=7,
            status="waiting",
            step="x",
            entered_at=NOW,
            step_started_at=NOW,
        )
        session.add(instance)
        session.flush()
        for n, status in enumerate(STATUSES):
            session.add(
                JourneySend(
                    instance_id=instance.id,
                    idempotency_key=f"{instance.id}:s{n}:1",
                    step=f"s{n}",
                    channel="email",
                    template="t",
                    status=status,
                    created_at=NOW,
                    sent_at=NOW if status == "sent" else None,
                    journey_id=3,
                    profile_id=7,
                )
            )
        session.add(
            Exposure(experiment="global-holdout", profile_id=7, arm="treated", first_at=NOW)
        )


def _warehouse(app: Lifetide, sql: str) -> list[tuple[object, ...]]:
    return list(app.warehouse.duckdb.execute(sql).fetchall())


def test_settled_sends_and_exposures_are_copied_once(settings: Settings) -> None:
    with Lifetide(settings, clock=ManualClock(NOW)) as app:
        _seed(app)
        copy = MeasureCopy(app.sessions, app.warehouse, app.clock)
        assert copy.run_all(limit=2) == 5  # four settled sends and one exposure, in batches of 2
        assert copy.run_all() == 0
        rows = _warehouse(app, "SELECT status, sent_at FROM message_sends ORDER BY status")
        assert rows == [
            ("bounced", None),
            ("failed", None),
            ("sent", NOW.replace(tzinfo=None)),
            ("skipped", None),
        ]
        assert _warehouse(app, "SELECT experiment, profile_id, arm FROM exposures") == [
            ("global-holdout", 7, "treated")
        ]
        with app.sessions() as session:
            marked = session.scalars(
                select(JourneySend.status).where(JourneySend.measured_at.is_not(None))
            )
            assert sorted(marked) == ["bounced", "failed", "sent", "skipped"]


def test_a_copy_interrupted_before_marking_copies_nothing_twice(settings: Settings) -> None:
    with Lifetide(settings, clock=ManualClock(NOW)) as app:
        _seed(app)
        copy = MeasureCopy(app.sessions, app.warehouse, app.clock)
        copy.run_all()
        # As if the process died after the warehouse insert and before measured_at was written.
        with transaction(app.sessions) as session:
            session.execute(update(JourneySend).values(measured_at=None))
            session.execute(update(Exposure).values(measured_at=None))
        assert copy.run_all() == 5
        assert _warehouse(app, "SELECT count(*) FROM message_sends") == [(4,)]
        assert _warehouse(app, "SELECT count(*) FROM exposures") == [(1,)]


def test_a_send_that_settles_later_is_copied_then(settings: Settings) -> None:
    with Lifetide(settings, clock=ManualClock(NOW)) as app:
        _seed(app)
        copy = MeasureCopy(app.sessions, app.warehouse, app.clock)
        copy.run_all()
        with transaction(app.sessions) as session:
            session.execute(
                update(JourneySend)
                .where(JourneySend.status == "deferred")
                .values(status="sent", sent_at=NOW)
            )
        assert copy.run_all() == 1
        assert _warehouse(app, "SELECT count(*) FROM message_sends WHERE status = 'sent'") == [(2,)]
