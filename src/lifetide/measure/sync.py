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
from typing import Any

import pyarrow as pa
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock, aware_utc
from lifetide.measure.tables import EXPOSURES, EXPOSURES_SCHEMA, SENDS, SENDS_SCHEMA
from lifetide.ops.database import transaction
from lifetide.ops.models import Exposure, JourneySend
from lifetide.ops.models.journeys import SETTLED_SQL
from lifetide.warehouse.connection import Warehouse

BATCH = 20_000
_STAGED = "__lifetide_measure_staged"


def _naive(value: dt.datetime | None) -> dt.datetime | None:
    # The warehouse keeps UTC without a zone.
    return None if value is None else aware_utc(value).replace(tzinfo=None)


class MeasureCopy:
    """Copies what the dashboards read from the operational database to the warehouse."""

    def __init__(self, sessions: sessionmaker[Session], warehouse: Warehouse, clock: Clock) -> None:
        self._sessions = sessions
        self._warehouse = warehouse
        self._clock = clock

    def run_once(self, limit: int = BATCH) -> int:
        """Copy up to `limit` sends and `limit` exposures; how many rows were copied."""
        return self._sends(limit) + self._exposures(limit)

    def run_all(self, limit: int = BATCH) -> int:
        """Copy until nothing waits; how many rows were copied."""
        total = 0
        while copied := self.run_once(limit):
            total += copied
        return total

    def _sends(self, limit: int) -> int:
        s = JourneySend
        query = (
            select(
                s.id,
                s.idempotency_key,
                s.profile_id,
                s.journey_id,
                s.step,
                s.channel,
                s.template,
                s.marketing,
                s.status,
                s.reason,
                s.promo_code,
                s.created_at,
                s.sent_at,
            )
            # Literally the partial index's condition: with bound values the planners cannot
            # tell that the index covers the query.
            .where(text(f"measured_at IS NULL AND {SETTLED_SQL}"))
            .order_by(s.id)
            .limit(limit)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        if not rows:
            return 0
        data = pa.Table.from_pylist(
            [
                {
                    "send_key": r.idempotency_key,
                    "profile_id": r.profile_id,
                    "journey_id": r.journey_id,
                    "step": r.step,
                    "channel": r.channel,
                    "template": r.template,
                    "marketing": r.marketing,
                    "status": r.status,
                    "reason": r.reason,
                    "promo_code": r.promo_code,
                    "created_at": _naive(r.created_at),
                    "sent_at": _naive(r.sent_at),
                }
                for r in rows
            ],
            schema=SENDS_SCHEMA.to_pyarrow(),
        )
        self._append(SENDS, data, ("send_key",))
        self._mark(s, [r.id for r in rows])
        return len(rows)

    def _exposures(self, limit: int) -> int:
        e = Exposure
        query = (
            select(e.id, e.experiment, e.profile_id, e.arm, e.journey_id, e.send_key, e.first_at)
            .where(text("measured_at IS NULL"))
            .order_by(e.id)
            .limit(limit)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        if not rows:
            return 0
        data = pa.Table.from_pylist(
            [
                {
                    "experiment": r.experiment,
                    "profile_id": r.profile_id,
                    "arm": r.arm,
                    "journey_id": r.journey_id,
                    "send_key": r.send_key,
                    "first_at": _naive(r.first_at),
                }
                for r in rows
            ],
            schema=EXPOSURES_SCHEMA.to_pyarrow(),
        )
        self._append(EXPOSURES, data, ("experiment", "profile_id"))
        self._mark(e, [r.id for r in rows])
        return len(rows)

    def _append(self, table: str, data: pa.Table, key: Sequence[str]) -> None:
        con = self._warehouse.duckdb
        match = " AND ".join(f"t.{k} = s.{k}" for k in key)
        con.register(_STAGED, data)
        try:
            con.execute(
                f"INSERT INTO {table} SELECT * FROM {_STAGED} s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})"
            )
        finally:
            con.unregister(_STAGED)

    def _mark(self, model: Any, ids: Sequence[int]) -> None:
        now = self._clock.now()
        with transaction(self._sessions) as session:
            for start in range(0, len(ids), 5_000):
                chunk = ids[start : start + 5_000]
                session.execute(update(model).where(model.id.in_(chunk)).values(measured_at=now))
