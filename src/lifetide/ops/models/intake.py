"""Where data comes from: import runs and tracking sources."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lifetide.ops.models.base import Base, Id


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
