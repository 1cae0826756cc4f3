"""What messaging keeps: suppressions, templates, promo codes and exposures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lifetide.ops.models.base import Base, Id


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
        Index(
            "ix_exposures_unmeasured",
            "id",
            sqlite_where=text("measured_at IS NULL"),
            postgresql_where=text("measured_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    experiment: Mapped[str] = mapped_column(String(120))
    profile_id: Mapped[int] = mapped_column(BigInteger)
    arm: Mapped[str] = mapped_column(String(64))
    journey_id: Mapped[int | None] = mapped_column(Id)
    send_key: Mapped[str | None] = mapped_column(String(200))
    first_at: Mapped[dt.datetime]
    # When the warehouse copied it (migration 0008); null until then.
    measured_at: Mapped[dt.datetime | None]
