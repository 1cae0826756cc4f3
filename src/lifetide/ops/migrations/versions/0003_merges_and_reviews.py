"""Identity merges (reversible) and the review queue of possible duplicates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "merges",
        sa.Column("id", Id),
        sa.Column(
            "customer_id",
            Id,
            sa.ForeignKey(
                "customers.id", ondelete="CASCADE", name="fk_merges_customer_id_customers"
            ),
            nullable=False,
        ),
        sa.Column("record_a", sa.String(255), nullable=False),
        sa.Column("record_b", sa.String(255), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("evidence", sa.String(512)),
        sa.Column("score", sa.Float()),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("undone_at", Stamp),
        sa.Column("undone_by", sa.String(255)),
        sa.PrimaryKeyConstraint("id", name="pk_merges"),
    )
    op.create_index("ix_merges_customer_id", "merges", ["customer_id"])
    op.create_table(
        "identity_reviews",
        sa.Column("id", Id),
        sa.Column("record_a", sa.String(255), nullable=False),
        sa.Column("record_b", sa.String(255), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("decided_at", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_identity_reviews"),
        sa.UniqueConstraint("record_a", "record_b", name="uq_identity_reviews_record_a"),
    )


def downgrade() -> None:
    op.drop_table("identity_reviews")
    op.drop_index("ix_merges_customer_id", table_name="merges")
    op.drop_table("merges")
