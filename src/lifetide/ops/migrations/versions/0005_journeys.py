"""Journeys: definitions and their versions, customers' places in them, and their sends.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("id", Id),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner_id", Id, _fk("journeys", "owner_id", "users", "SET NULL")),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journeys"),
        sa.UniqueConstraint("name", name="uq_journeys_name"),
    )
    op.create_table(
        "journey_versions",
        sa.Column("id", Id),
        sa.Column(
            "journey_id",
            Id,
            _fk("journey_versions", "journey_id", "journeys", "CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("author_id", Id, _fk("journey_versions", "author_id", "users", "SET NULL")),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journey_versions"),
        sa.UniqueConstraint("journey_id", "version", name="uq_journey_versions_journey_id"),
    )
    op.create_table(
        "journey_instances",
        sa.Column("id", Id),
        sa.Column(
            "journey_id",
            Id,
            _fk("journey_instances", "journey_id", "journeys", "CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("instance_key", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("visits", sa.JSON(), nullable=False),
        sa.Column("wake_at", Stamp),
        sa.Column("entered_at", Stamp, nullable=False),
        sa.Column("step_started_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp),
        sa.Column("outcome", sa.String(32)),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_until", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_journey_instances"),
    )
    op.create_index(
        "ix_journey_instances_status_wake_at", "journey_instances", ["status", "wake_at"]
    )
    op.create_index(
        "ix_journey_instances_journey_profile", "journey_instances", ["journey_id", "profile_id"]
    )
    op.create_table(
        "journey_sends",
        sa.Column("id", Id),
        sa.Column(
            "instance_id",
            Id,
            _fk("journey_sends", "instance_id", "journey_instances", "CASCADE"),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("template", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("sent_at", Stamp),
        sa.Column("provider_message_id", sa.String(255)),
        sa.PrimaryKeyConstraint("id", name="pk_journey_sends"),
        sa.UniqueConstraint("idempotency_key", name="uq_journey_sends_idempotency_key"),
    )
    op.create_index("ix_journey_sends_instance_id", "journey_sends", ["instance_id"])


def downgrade() -> None:
    op.drop_index("ix_journey_sends_instance_id", table_name="journey_sends")
    op.drop_table("journey_sends")
    op.drop_index("ix_journey_instances_journey_profile", table_name="journey_instances")
    op.drop_index("ix_journey_instances_status_wake_at", table_name="journey_instances")
    op.drop_table("journey_instances")
    op.drop_table("journey_versions")
    op.drop_table("journeys")
