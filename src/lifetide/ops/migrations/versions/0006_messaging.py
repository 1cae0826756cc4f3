"""Messaging: the send outbox, journey inputs and cursors, suppressions, templates, promo codes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


# A send row is the outbox: written with the instance that produced it, claimed and delivered
# by a dispatcher, and later marked opened, clicked and converted.
def _send_columns() -> list[sa.Column[object]]:
    """New Column objects each time: a Column belongs to one table once added."""
    return [
        sa.Column("journey_id", Id),
        sa.Column("profile_id", sa.BigInteger()),
        sa.Column("marketing", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("offer", sa.JSON()),
        sa.Column("due_at", Stamp),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_until", Stamp),
        sa.Column("address", sa.String(320)),
        sa.Column("promo_code", sa.String(32)),
        sa.Column("opened_at", Stamp),
        sa.Column("clicked_at", Stamp),
        sa.Column("bounced_at", Stamp),
        sa.Column("order_id", sa.String(255)),
        sa.Column("revenue", sa.Float()),
        sa.Column("converted_at", Stamp),
    ]


def upgrade() -> None:
    with op.batch_alter_table("journey_sends") as batch:
        for column in _send_columns():
            batch.add_column(column)
    op.create_index("ix_journey_sends_status_due_at", "journey_sends", ["status", "due_at"])
    op.create_index(
        "ix_journey_sends_profile_id_sent_at", "journey_sends", ["profile_id", "sent_at"]
    )
    # A bounce report names the message by its Message-ID.
    op.create_index(
        "ix_journey_sends_provider_message_id", "journey_sends", ["provider_message_id"]
    )
    op.create_table(
        "journey_inputs",
        sa.Column("id", Id),
        sa.Column(
            "instance_id",
            Id,
            sa.ForeignKey(
                "journey_instances.id",
                ondelete="CASCADE",
                name="fk_journey_inputs_instance_id_journey_instances",
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event", sa.String(200)),
        sa.Column("properties", sa.JSON()),
        sa.Column("at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journey_inputs"),
    )
    op.create_index("ix_journey_inputs_instance_id", "journey_inputs", ["instance_id"])
    op.create_table(
        "journey_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_journey_cursors"),
    )
    op.create_table(
        "suppressions",
        sa.Column("id", Id),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("profile_id", sa.BigInteger()),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("source", sa.String(64)),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
        sa.UniqueConstraint("channel", "address", "reason", name="uq_suppressions_channel"),
    )
    op.create_index("ix_suppressions_profile_id", "suppressions", ["profile_id"])
    op.create_table(
        "message_templates",
        sa.Column("id", Id),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(500)),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_templates"),
        sa.UniqueConstraint("name", name="uq_message_templates_name"),
    )
    op.create_table(
        "promo_codes",
        sa.Column("id", Id),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("profile_id", sa.BigInteger()),
        sa.Column("send_key", sa.String(200)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("expires_at", Stamp, nullable=False),
        sa.Column("redeemed_at", Stamp),
        sa.Column("order_id", sa.String(255)),
        sa.PrimaryKeyConstraint("id", name="pk_promo_codes"),
        sa.UniqueConstraint("code", name="uq_promo_codes_code"),
        sa.UniqueConstraint("send_key", name="uq_promo_codes_send_key"),
    )


def downgrade() -> None:
    op.drop_table("promo_codes")
    op.drop_table("message_templates")
    op.drop_index("ix_suppressions_profile_id", table_name="suppressions")
    op.drop_table("suppressions")
    op.drop_table("journey_cursors")
    op.drop_index("ix_journey_inputs_instance_id", table_name="journey_inputs")
    op.drop_table("journey_inputs")
    op.drop_index("ix_journey_sends_provider_message_id", table_name="journey_sends")
    op.drop_index("ix_journey_sends_profile_id_sent_at", table_name="journey_sends")
    op.drop_index("ix_journey_sends_status_due_at", table_name="journey_sends")
    with op.batch_alter_table("journey_sends") as batch:
        for column in reversed(_send_columns()):
            batch.drop_column(column.name)
