"""Segments, their versions and refreshes, and the destinations they are sent to."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lifetide.ops.models.base import Base, Id


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
