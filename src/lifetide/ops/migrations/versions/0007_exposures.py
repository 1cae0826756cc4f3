"""Exposures: which arm of which experiment or holdout each customer met, and when first.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exposures",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("experiment", sa.String(120), nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.Column("journey_id", Id),
        sa.Column("send_key", sa.String(200)),
        sa.Column("first_at", Stamp, nullable=False),
        # One arm per customer and experiment: the first exposure is the one that counts.
        sa.UniqueConstraint("experiment", "profile_id", name="uq_exposures_experiment_profile"),
    )
    op.create_index("ix_exposures_experiment_arm", "exposures", ["experiment", "arm"])


def downgrade() -> None:
    op.drop_index("ix_exposures_experiment_arm", table_name="exposures")
    op.drop_table("exposures")
