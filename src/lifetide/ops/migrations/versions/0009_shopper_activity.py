"""Recent shopping activity: cart and view events by owner, for message contexts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shopper_activity",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String()),
        sa.Column("anonymous_id", sa.String()),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("product_id", sa.String(), nullable=False),
        sa.Column("cart_id", sa.String()),
        sa.Column("quantity", sa.Integer()),
        sa.Column("name", sa.Text()),
        sa.Column("category", sa.String()),
        sa.Column("brand", sa.String()),
        sa.Column("price", sa.Numeric(18, 2)),
        sa.Column("at", Stamp, nullable=False),
        sa.UniqueConstraint("message_id", name="uq_shopper_activity_message_id"),
    )
    op.create_index("ix_shopper_activity_user_id", "shopper_activity", ["user_id"])
    # No index on `at`: PostgreSQL without fresh statistics (after a large copy) chose it for
    # the window's range and read every row; the hourly expiry can afford a scan.
    # Devices are looked up only for events no one was signed in for.
    op.create_index(
        "ix_shopper_activity_anonymous_id",
        "shopper_activity",
        ["anonymous_id"],
        sqlite_where=sa.text("user_id IS NULL"),
        postgresql_where=sa.text("user_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_shopper_activity_anonymous_id", table_name="shopper_activity")
    op.drop_index("ix_shopper_activity_user_id", table_name="shopper_activity")
    op.drop_table("shopper_activity")
