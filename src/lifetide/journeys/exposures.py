"""Which holdouts a journey send meets, and the exposures that records (see experiments).

Every marketing send the dispatcher decides on exposes its customer to the global control
group and, if the journey has one, to the journey's holdout; the first exposure per customer
and experiment is kept (`exposures`, unique on both), with its arm and the send that made it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from lifetide.experiments.holdouts import HELD_OUT, Holdout, global_holdout, journey_holdout
from lifetide.journeys.outbox import Claimed
from lifetide.journeys.store import JourneyNotFound, JourneyStore
from lifetide.ops.database import insert_for
from lifetide.ops.models import Exposure


def record_exposures(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert exposure rows; a customer's first arm per experiment stays. How many were given."""
    if not rows:
        return 0
    statement = insert_for(session)(Exposure).on_conflict_do_nothing(
        index_elements=["experiment", "profile_id"]
    )
    session.execute(statement, rows)
    return len(rows)


class Holdouts:
    """Decides who is held out of a send, and remembers the exposures until `record`."""

    def __init__(self, journeys: JourneyStore, global_percent: float) -> None:
        self._journeys = journeys
        self._global = global_holdout(global_percent)
        # Versions never change once written, so their holdouts are read once.
        self._by_version: dict[tuple[int, int], Holdout | None] = {}
        self._pending: list[dict[str, Any]] = []

    def held_out(self, send: Claimed, now: dt.datetime) -> str | None:
        """Why `send` is held out (None: it is not), noting its customer's exposures."""
        if not send.marketing:
            return None
        reason = None
        for holdout in (self._global, self._of_journey(send)):
            if holdout is None:
                continue
            arm = holdout.arm_of(send.profile_id)
            self._pending.append(
                {
                    "experiment": holdout.key,
                    "profile_id": send.profile_id,
                    "arm": arm,
                    "journey_id": send.journey_id or None,
                    "send_key": send.key,
                    "first_at": now,
                }
            )
            if arm == HELD_OUT and reason is None:
                reason = holdout.reason
        return reason

    @property
    def pending(self) -> bool:
        """Whether exposures wait to be recorded."""
        return bool(self._pending)

    def record(self, session: Session) -> int:
        """Write the exposures noted so far (a customer's first per experiment stays)."""
        rows, self._pending = self._pending, []
        return record_exposures(session, rows)

    def _of_journey(self, send: Claimed) -> Holdout | None:
        if not send.journey_id or send.instance_version is None:
            return None
        version = (send.journey_id, send.instance_version)
        if version not in self._by_version:
            try:
                percent = self._journeys.definition_of(*version).holdout
            except JourneyNotFound:
                percent = 0.0  # the journey was deleted: its sends are moot anyway
            self._by_version[version] = journey_holdout(send.journey_id, percent)
        return self._by_version[version]
