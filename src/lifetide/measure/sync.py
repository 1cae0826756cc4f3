"""Copying settled sends and exposures from the operational database into the warehouse.

Dashboards aggregate millions of messages, which a columnar warehouse does in milliseconds and
a row store does not; so what measurement needs is copied there, a batch at a time, by the
worker right after it loads the journal. Only rows that never change again are copied: a send
once settled (sent, bounced, skipped, failed), an exposure once written. Each copied row gets
`measured_at` in the operational database (a partial index holds only the rows waiting, so
finding them costs nothing however large the outbox grows). The warehouse insert skips keys it
already has, so a crash between the two writes copies nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import pyarrow as pa
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock, aware_utc
from lifetide.measure.tables import (
    EXPOSURES,
    EXPOSURES_SCHEMA,
    SENDS,
    SENDS_SCHEMA,
    append_new,
)
from lifetide.ops.database import transaction
from lifetide.ops.models import Exposure, JourneySend
from lifetide.ops.models.journeys import SETTLED_SQL
from lifetide.warehouse.connection import Warehouse

BATCH = 20_000


@dataclass(frozen=True)
class _Copy:
    """One operational table copied to the warehouse: what waits, and how its rows map."""

    model: Any
    # Literally the partial index's condition: with bound values the planners cannot tell
    # that the index covers the query.
    waiting: str
    table: str
    schema: ibis.Schema
    key: tuple[str, ...]
    # Warehouse column -> operational column, where the names differ.
    renamed: dict[str, str] = field(default_factory=dict)

    def source(self, column: str) -> str:
        """The operational column a warehouse column is copied from."""
        return self.renamed.get(column, column)


_COPIES = (
    _Copy(
        JourneySend,
        f"measured_at IS NULL AND {SETTLED_SQL}",
        SENDS,
        SENDS_SCHEMA,
        ("send_key",),
        {"send_key": "idempotency_key"},
    ),
    _Copy(
        Exposure, "measured_at IS NULL", EXPOSURES, EXPOSURES_SCHEMA, ("experiment", "profile_id")
    ),
)


def _warehouse_value(value: Any) -> Any:
    # The warehouse keeps UTC without a zone.
    return aware_utc(value).replace(tzinfo=None) if isinstance(value, dt.datetime) else value


class MeasureCopy:
    """Copies what the dashboards read from the operational database to the warehouse."""

    def __init__(self, sessions: sessionmaker[Session], warehouse: Warehouse, clock: Clock) -> None:
        self._sessions = sessions
        self._warehouse = warehouse
        self._clock = clock

    def run_once(self, limit: int = BATCH) -> int:
        """Copy up to `limit` sends and `limit` exposures; how many rows were copied."""
        return sum(self._copy(copy, limit) for copy in _COPIES)

    def run_all(self, limit: int = BATCH) -> int:
        """Copy until nothing waits; how many rows were copied."""
        total = 0
        while copied := self.run_once(limit):
            total += copied
        return total

    def _copy(self, copy: _Copy, limit: int) -> int:
        names = list(copy.schema.names)
        model = copy.model
        query = (
            select(model.id, *(getattr(model, copy.source(n)) for n in names))
            .where(text(copy.waiting))
            .order_by(model.id)
            .limit(limit)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        if not rows:
            return 0
        data = pa.Table.from_pylist(
            [{n: _warehouse_value(v) for n, v in zip(names, row[1:], strict=True)} for row in rows],
            schema=copy.schema.to_pyarrow(),
        )
        append_new(self._warehouse.duckdb, copy.table, data, copy.key)
        self._mark(model, [row[0] for row in rows])
        return len(rows)

    def _mark(self, model: Any, ids: Sequence[int]) -> None:
        now = self._clock.now()
        with transaction(self._sessions) as session:
            for start in range(0, len(ids), 5_000):
                chunk = ids[start : start + 5_000]
                session.execute(update(model).where(model.id.in_(chunk)).values(measured_at=now))
