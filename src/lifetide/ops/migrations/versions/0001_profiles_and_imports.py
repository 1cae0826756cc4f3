"""Profiles, identities, consents and the import log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", Id, primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(32)),
        sa.Column("first_name", sa.String(200)),
        sa.Column("last_name", sa.String(200)),
        sa.Column("time_zone", sa.String(64)),
        sa.Column("country", sa.String(2)),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column(
            "merged_into_id",
            Id,
            sa.ForeignKey(
                "customers.id",
                ondelete="SET NULL",
                name="fk_customers_merged_into_id_customers",
            ),
        ),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
    )
    op.create_index("ix_customers_merged_into_id", "customers", ["merged_into_id"])

    op.create_table(
        "identities",
        sa.Column("id", Id),
        sa.Column(
            "customer_id",
            Id,
            sa.ForeignKey(
                "customers.id", ondelete="CASCADE", name="fk_identities_customer_id_customers"
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("first_seen_at", Stamp, nullable=False),
        sa.Column("last_seen_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_identities"),
        sa.UniqueConstraint("kind", "value", name="uq_identities_kind"),
    )
    op.create_index("ix_identities_customer_id", "identities", ["customer_id"])

    op.create_table(
        "consents",
        sa.Column("id", Id),
        sa.Column(
            "customer_id",
            Id,
            sa.ForeignKey(
                "customers.id", ondelete="CASCADE", name="fk_consents_customer_id_customers"
            ),
            nullable=False,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
        sa.UniqueConstraint("customer_id", "channel", "purpose", name="uq_consents_customer_id"),
    )

    op.create_table(
        "import_runs",
        sa.Column("id", Id),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("file_format", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_in_file", sa.BigInteger(), nullable=False),
        sa.Column("inserted", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("unchanged", sa.BigInteger(), nullable=False),
        sa.Column("error_count", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_import_runs"),
    )
    op.create_index("ix_import_runs_table_sha", "import_runs", ["table_name", "file_sha256"])


def downgrade() -> None:
    op.drop_index("ix_import_runs_table_sha", table_name="import_runs")
    op.drop_table("import_runs")
    op.drop_table("consents")
    op.drop_index("ix_identities_customer_id", table_name="identities")
    op.drop_table("identities")
    op.drop_index("ix_customers_merged_into_id", table_name="customers")
    op.drop_table("customers")
