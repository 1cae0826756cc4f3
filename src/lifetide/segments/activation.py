"""Using a saved segment: its insights, its members as CSV, and pushes to destinations.

What the web routes call: each method checks the segment exists (SegmentNotFound otherwise),
reads its members from `segment_members` (kept by the segment service's refreshes), and hands
the work to insights, export or delivery.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import ibis.expr.types as ir

from lifetide.context import Lifetide
from lifetide.ops.models import Delivery, User
from lifetide.segments.delivery import Deliveries, member_rows
from lifetide.segments.export import (
    EXPORT_COLUMNS,
    allowed_columns,
    checked_columns,
    closing_stream,
    export_csv,
    export_query,
    export_tables,
)
from lifetide.segments.insights import Insights, insights
from lifetide.segments.store import SegmentStore
from lifetide.segments.tables import Tables, ensure_segment_tables, segment_tables


def members_of(tables: Tables, segment_id: int) -> ir.Table:
    """The profile ids of a segment as of its last refresh."""
    rows = tables.members
    return rows.filter(rows.segment_id == segment_id).select("profile_id")


class SegmentActivation:
    """Insights, CSV exports and webhook pushes of saved segments."""

    def __init__(self, lifetide: Lifetide, deliveries: Deliveries | None = None) -> None:
        self.lifetide = lifetide
        self.store = SegmentStore(lifetide.sessions, lifetide.clock)
        self.deliveries = deliveries or Deliveries(
            lifetide.sessions,
            lifetide.clock,
            allow_private=lifetide.settings.allow_private_destinations,
        )

    def _tables(self) -> Tables:
        backend: Any = self.lifetide.warehouse.thread_backend()
        ensure_segment_tables(backend)
        return segment_tables(backend)

    def insights(self, segment_id: int, compare_id: int | None = None) -> Insights:
        """The insights of a segment, with its overlap with `compare_id` if given."""
        self.store.get(segment_id)
        if compare_id is not None:
            self.store.get(compare_id)
        tables = self._tables()
        compare = members_of(tables, compare_id) if compare_id is not None else None
        now = self.lifetide.clock.now()
        return insights(tables, members_of(tables, segment_id), now, compare)

    def export_columns(self) -> list[str]:
        """The columns a CSV export may have now (predictions columns once scored)."""
        return allowed_columns(self._tables())

    def export(self, segment_id: int, columns: Sequence[str] | None) -> Iterator[bytes]:
        """The segment's members as CSV chunks; SegmentNotFound or ExportError at once."""
        self.store.get(segment_id)
        # Checked on this thread's tables so a bad request fails before any connection opens.
        checked_columns(self._tables(), columns)
        tables, connection = export_tables(self.lifetide.warehouse)
        try:
            chunks = export_csv(tables, members_of(tables, segment_id), columns)
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        return closing_stream(chunks, connection)

    def start_push(self, segment_id: int, destination_id: int, user: User | None) -> Delivery:
        """A running delivery of the segment; NotFound (delivery) or SegmentNotFound if missing."""
        self.store.get(segment_id)
        return self.deliveries.start(segment_id, destination_id, user)

    def deliver(self, delivery_id: int) -> Delivery:
        """Send a started delivery's members, page by page; the delivery as it ended."""
        delivery = self.deliveries.get_delivery(delivery_id)
        try:
            tables = self._tables()
            query = export_query(tables, members_of(tables, delivery.segment_id), EXPORT_COLUMNS)
            # One consistent snapshot of the members: its size fixes the number of pages.
            members = query.to_pyarrow()
        except Exception as err:
            return self.deliveries.fail(delivery_id, f"reading the members failed: {err}")
        try:
            return self.deliveries.send(delivery_id, member_rows(members), total=members.num_rows)
        # Runs after the answer, where nobody sees an exception: record it on the delivery,
        # or it would stay "running" for ever.
        except Exception as err:
            return self.deliveries.fail(delivery_id, f"{type(err).__name__}: {err}")
