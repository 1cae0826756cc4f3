"""Journeys, their versions, each customer's place in them, and the outbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import true

from lifetide.ops.models.base import Base, Id

# A send in one of these statuses never changes again; later bounces arrive as events.
SETTLED = ("sent", "skipped", "failed", "bounced")
SETTLED_SQL = "status IN ({})".format(", ".join(f"'{s}'" for s in SETTLED))


class JourneyRecord(Base):
    """A journey: its name, where it stands (draft, live, paused, stopped) and its version."""

    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # draft | live | paused | stopped
    version: Mapped[int] = mapped_column(Integer, default=1)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class JourneyVersion(Base):
    """Each saved definition of a journey; running instances stay on the one they began."""

    __tablename__ = "journey_versions"
    __table_args__ = (UniqueConstraint("journey_id", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime]


class JourneyInstance(Base):
    """One customer's place in one journey (per key, e.g. per cart), and who is working on it."""

    __tablename__ = "journey_instances"
    __table_args__ = (
        # Workers claim by status and wake time, oldest first.
        Index("ix_journey_instances_status_wake_at", "status", "wake_at"),
        Index("ix_journey_instances_journey_profile", "journey_id", "profile_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    # No foreign key: profiles merge, and an instance follows the person, not the row.
    profile_id: Mapped[int] = mapped_column(BigInteger)
    instance_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # active | waiting | done
    step: Mapped[str] = mapped_column(String(64))
    visits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    wake_at: Mapped[dt.datetime | None]
    entered_at: Mapped[dt.datetime]
    step_started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[dt.datetime | None]


class JourneySend(Base):
    """One message a journey step meant to send; its unique key makes it go out exactly once."""

    __tablename__ = "journey_sends"
    __table_args__ = (
        # The dispatcher claims by status and due time; caps count a profile's recent sends.
        Index("ix_journey_sends_status_due_at", "status", "due_at"),
        Index("ix_journey_sends_profile_id_sent_at", "profile_id", "sent_at"),
        Index("ix_journey_sends_provider_message_id", "provider_message_id"),
        # What the warehouse copy has still to take (see measure.sync).
        Index(
            "ix_journey_sends_unmeasured",
            "id",
            sqlite_where=text(f"measured_at IS NULL AND {SETTLED_SQL}"),
            postgresql_where=text(f"measured_at IS NULL AND {SETTLED_SQL}"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("journey_instances.id", ondelete="CASCADE"), index=True
    )
    # "{instance}:{step}:{visit}", from steps.SendMessage.key.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    step: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | skipped | deferred | failed
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    # The outbox (migration 0006): who and what, when it is due, who is delivering it.
    journey_id: Mapped[int | None] = mapped_column(Id)
    profile_id: Mapped[int | None] = mapped_column(BigInteger)
    marketing: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    offer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    due_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[dt.datetime | None]
    address: Mapped[str | None] = mapped_column(String(320))
    promo_code: Mapped[str | None] = mapped_column(String(32))
    # What the customer did with it, and the order it led to.
    opened_at: Mapped[dt.datetime | None]
    clicked_at: Mapped[dt.datetime | None]
    bounced_at: Mapped[dt.datetime | None]
    order_id: Mapped[str | None] = mapped_column(String(255))
    revenue: Mapped[float | None] = mapped_column(Float)
    converted_at: Mapped[dt.datetime | None]
    # When the warehouse copied the settled send (migration 0008); null until then.
    measured_at: Mapped[dt.datetime | None]


class JourneyInput(Base):
    """Something that happened to an instance (an event, a bounce) waiting for its worker.

    The event consumer only appends these; the worker that holds the instance applies them in
    order and deletes them in the transaction that saves the new state, so each is applied once.
    """

    __tablename__ = "journey_inputs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("journey_instances.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # seen | bounced
    event: Mapped[str | None] = mapped_column(String(200))
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[dt.datetime]


class JourneyCursor(Base):
    """How far a trigger source has been read (segment changes, the daily date scan)."""

    __tablename__ = "journey_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime]
