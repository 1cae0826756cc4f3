"""Who the customers are: profiles, their identifiers, consents, merges and reviews."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lifetide.ops.models.base import Base, Id


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
