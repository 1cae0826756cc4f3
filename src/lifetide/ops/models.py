"""Operational-database tables (SQLAlchemy 2): what the running system reads and writes.

Migrations under `migrations/versions` create these; a test checks that the models and the
migrated schema agree on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import true

# Stable constraint names, so migrations can drop and alter them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Base of every operational table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 (SQLAlchemy reads it as a class attr)
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class Customer(Base):
    """A resolved customer profile: one per person once duplicates are merged."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    traits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A profile merged into another keeps its row and points at the survivor, so a merge
    # can be undone by clearing the pointer and moving its identities back.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    identities: Mapped[list[Identity]] = relationship(back_populates="customer")
    consents: Mapped[list[Consent]] = relationship(back_populates="customer")


class Identity(Base):
    """One identifier (user id, anonymous id, e-mail, phone, CRM id, loyalty id) of a profile."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(512))
    source: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]

    customer: Mapped[Customer] = relationship(back_populates="identities")


class Consent(Base):
    """Whether a profile may be sent marketing on a channel, and where that came from."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("customer_id", "channel", "purpose"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32), default="marketing")
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime]

    customer: Mapped[Customer] = relationship(back_populates="consents")


class ImportRun(Base):
    """One `lifetide import` of a file: what it held, what it changed, or why it failed."""

    __tablename__ = "import_runs"
    __table_args__ = (Index("ix_import_runs_table_sha", "table_name", "file_sha256"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_format: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    rows_in_file: Mapped[int] = mapped_column(BigInteger, default=0)
    inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[int] = mapped_column(BigInteger, default=0)
    unchanged: Mapped[int] = mapped_column(BigInteger, default=0)
    error_count: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]


class Source(Base):
    """Where tracking data comes from (a website, an app, a server), with its write key."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # SHA-256 of the key: keys are long random tokens, so a fast hash cannot be brute-forced,
    # and a per-request argon2 check would cost more than parsing the batch.
    write_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    write_key_hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class Merge(Base):
    """Two customer records joined into one profile: by which rule, on what evidence, when."""

    __tablename__ = "merges"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    record_a: Mapped[str] = mapped_column(String(255))
    record_b: Mapped[str] = mapped_column(String(255))
    rule: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[str | None] = mapped_column(String(512))
    score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime]
    # Undoing keeps the row: the pair is never joined again, and the record says why.
    undone_at: Mapped[dt.datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(255))


class IdentityReview(Base):
    """A pair of records that might be one person, for a person to decide."""

    __tablename__ = "identity_reviews"
    __table_args__ = (UniqueConstraint("record_a", "record_b"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    record_a: Mapped[str] = mapped_column(String(255))
    record_b: Mapped[str] = mapped_column(String(255))
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]


class User(Base):
    """Someone who signs in to the Studio: admin, marketer or analyst."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # Stored lower-cased, so sign-in is case-insensitive and unique per person.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime]
    last_login_at: Mapped[dt.datetime | None]
    disabled_at: Mapped[dt.datetime | None]


class UserSession(Base):
    """A signed-in browser: the cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))


class ApiToken(Base):
    """A bearer token for the management API, owned by a user and acting with their role."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class LoginAttempt(Base):
    """One sign-in attempt, kept for throttling repeated failures by account and by address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    succeeded: Mapped[bool]


class Segment(Base):
    """A saved segment: rules (a definition tree) or a static uploaded list, with its owner."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # rules | static
    definition: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Minutes between scheduled refreshes; null refreshes only on demand.
    refresh_minutes: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int | None] = mapped_column(BigInteger)
    last_refreshed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    archived_at: Mapped[dt.datetime | None]


class SegmentVersion(Base):
    """Each saved definition of a segment, kept so a change can be seen and undone."""

    __tablename__ = "segment_versions"
    __table_args__ = (UniqueConstraint("segment_id", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime]


class SegmentRefresh(Base):
    """One recomputation of a segment's members: who entered, who exited, or why it failed."""

    __tablename__ = "segment_refreshes"
    __table_args__ = (Index("ix_segment_refreshes_segment_started", "segment_id", "started_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | manual | save | upload
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    size: Mapped[int | None] = mapped_column(BigInteger)
    entered: Mapped[int | None] = mapped_column(BigInteger)
    exited: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)


class Destination(Base):
    """Where segments are pushed: a webhook URL and the secret its requests are signed with."""

    __tablename__ = "destinations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    # Kept readable: every push is signed with it (HMAC-SHA256), as the receiver checks.
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Delivery(Base):
    """One push of a segment's members to a destination, page by page."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))  # running | delivered | failed
    members: Mapped[int] = mapped_column(BigInteger, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    pages_sent: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]


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


class Suppression(Base):
    """An address that must not get (some) messages on a channel, and why."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("channel", "address", "reason"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    profile_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    reason: Mapped[str] = mapped_column(String(32))  # hard_bounce | complaint | unsubscribe
    detail: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]


class MessageTemplate(Base):
    """A message template marketers write: subject and body (Jinja2, sandboxed) per channel."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class PromoCode(Base):
    """A unique single-use promotion code issued to one customer by one send."""

    __tablename__ = "promo_codes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    profile_id: Mapped[int | None] = mapped_column(BigInteger)
    # The send that issued it: issuing again for the same send returns the same code.
    send_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    redeemed_at: Mapped[dt.datetime | None]
    order_id: Mapped[str | None] = mapped_column(String(255))


class Exposure(Base):
    """The arm of an experiment or holdout a customer met, first (see experiments.holdouts)."""

    __tablename__ = "exposures"
    __table_args__ = (
        UniqueConstraint("experiment", "profile_id", name="uq_exposures_experiment_profile"),
        Index("ix_exposures_experiment_arm", "experiment", "arm"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    experiment: Mapped[str] = mapped_column(String(120))
    profile_id: Mapped[int] = mapped_column(BigInteger)
    arm: Mapped[str] = mapped_column(String(64))
    journey_id: Mapped[int | None] = mapped_column(Id)
    send_key: Mapped[str | None] = mapped_column(String(200))
    first_at: Mapped[dt.datetime]
