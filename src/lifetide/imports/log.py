"""The import log in the operational database: every import, successful or rejected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.imports.problems import ImportRejected
from lifetide.imports.service import ImportResult
from lifetide.ops.database import transaction
from lifetide.ops.models import ImportRun


class ImportLog:
    """Records imports and answers whether a file was imported before."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def succeeded(
        self, result: ImportResult, started_at: dt.datetime, finished_at: dt.datetime
    ) -> None:
        """Record a successful import."""
        with transaction(self._sessions) as session:
            session.add(
                ImportRun(
                    table_name=result.table,
                    file_name=str(result.path),
                    file_sha256=result.sha256,
                    file_format=result.file_format,
                    status="succeeded",
                    rows_in_file=result.rows,
                    inserted=result.counts.inserted,
                    updated=result.counts.updated,
                    unchanged=result.counts.unchanged,
                    error_count=0,
                    errors={},
                    started_at=started_at,
                    finished_at=finished_at,
                )
            )

    def rejected(
        self,
        table: str,
        path: Path,
        sha256: str,
        error: ImportRejected,
        started_at: dt.datetime,
        finished_at: dt.datetime,
    ) -> None:
        """Record a rejected import with its first problems."""
        with transaction(self._sessions) as session:
            session.add(
                ImportRun(
                    table_name=table,
                    file_name=str(path),
                    file_sha256=sha256,
                    file_format="unknown",
                    status="rejected",
                    error_count=error.total,
                    errors={"problems": [str(p) for p in error.problems[:100]]},
                    started_at=started_at,
                    finished_at=finished_at,
                )
            )

    def last_success(self, table: str, sha256: str) -> ImportRun | None:
        """The latest successful import of the same content into `table`, if any."""
        with self._sessions() as session:
            return session.scalars(
                select(ImportRun)
                .where(
                    ImportRun.table_name == table,
                    ImportRun.file_sha256 == sha256,
                    ImportRun.status == "succeeded",
                )
                .order_by(ImportRun.id.desc())
                .limit(1)
            ).first()

    def recent(self, limit: int = 20) -> list[ImportRun]:
        """The most recent imports, newest first."""
        with self._sessions() as session:
            return list(
                session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit))
            )
