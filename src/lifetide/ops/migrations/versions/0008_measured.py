"""Measurement: which settled sends and exposures the warehouse has copied.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)
# The outbox's final statuses: a send in one of these never changes again (bounces reported
# later arrive as events).
SETTLED = "status IN ('sent', 'skipped', 'failed', 'bounced')"


def upgrade() -> None:
    op.add_column("journey_sends", sa.Column("measured_at", Stamp))
    op.add_column("exposures", sa.Column("measured_at", Stamp))
    # Partial indexes: the copy finds what it has not taken yet without reading the rest, and
    # the index holds only the (few) rows waiting.
    op.create_index(
        "ix_journey_sends_unmeasured",
        "journey_sends",
        ["id"],
        sqlite_where=sa.text(f"measured_at IS NULL AND {SETTLED}"),
        postgresql_where=sa.text(f"measured_at IS NULL AND {SETTLED}"),
    )
    op.create_index(
        "ix_exposures_unmeasured",
        "exposures",
        ["id"],
        sqlite_where=sa.text("measured_at IS NULL"),
        postgresql_where=sa.text("measured_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_exposures_unmeasured", table_name="exposures")
    op.drop_index("ix_journey_sends_unmeasured", table_name="journey_sends")
    op.drop_column("exposures", "measured_at")
    op.drop_column("journey_sends", "measured_at")
