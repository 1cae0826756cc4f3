"""Studio accounts (users, sessions, API tokens, sign-in attempts) and saved segments.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("last_login_at", Stamp),
        sa.Column("disabled_at", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", Id),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "user_id", Id, _fk("user_sessions", "user_id", "users", "CASCADE"), nullable=False
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("expires_at", Stamp, nullable=False),
        sa.Column("last_seen_at", Stamp, nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(512)),
        sa.PrimaryKeyConstraint("id", name="pk_user_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_user_sessions_token_hash"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", Id),
        sa.Column("user_id", Id, _fk("api_tokens", "user_id", "users", "CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("token_hint", sa.String(16), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("last_used_at", Stamp),
        sa.Column("revoked_at", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", Id),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("at", Stamp, nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
    )
    op.create_index("ix_login_attempts_email_at", "login_attempts", ["email", "at"])
    op.create_index("ix_login_attempts_ip_at", "login_attempts", ["ip", "at"])
    op.create_table(
        "segments",
        sa.Column("id", Id),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("definition", sa.JSON()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner_id", Id, _fk("segments", "owner_id", "users", "SET NULL")),
        sa.Column("refresh_minutes", sa.Integer()),
        sa.Column("size", sa.BigInteger()),
        sa.Column("last_refreshed_at", Stamp),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.Column("archived_at", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_segments"),
        sa.UniqueConstraint("name", name="uq_segments_name"),
    )
    op.create_table(
        "segment_versions",
        sa.Column("id", Id),
        sa.Column(
            "segment_id",
            Id,
            _fk("segment_versions", "segment_id", "segments", "CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("definition", sa.JSON()),
        sa.Column("author_id", Id, _fk("segment_versions", "author_id", "users", "SET NULL")),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_segment_versions"),
        sa.UniqueConstraint("segment_id", "version", name="uq_segment_versions_segment_id"),
    )
    op.create_table(
        "segment_refreshes",
        sa.Column("id", Id),
        sa.Column(
            "segment_id",
            Id,
            _fk("segment_refreshes", "segment_id", "segments", "CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("user_id", Id, _fk("segment_refreshes", "user_id", "users", "SET NULL")),
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp),
        sa.Column("size", sa.BigInteger()),
        sa.Column("entered", sa.BigInteger()),
        sa.Column("exited", sa.BigInteger()),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_segment_refreshes"),
    )
    op.create_index(
        "ix_segment_refreshes_segment_started", "segment_refreshes", ["segment_id", "started_at"]
    )
    op.create_table(
        "destinations",
        sa.Column("id", Id),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("created_by_id", Id, _fk("destinations", "created_by_id", "users", "SET NULL")),
        sa.PrimaryKeyConstraint("id", name="pk_destinations"),
        sa.UniqueConstraint("name", name="uq_destinations_name"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", Id),
        sa.Column(
            "segment_id", Id, _fk("deliveries", "segment_id", "segments", "CASCADE"), nullable=False
        ),
        sa.Column(
            "destination_id",
            Id,
            _fk("deliveries", "destination_id", "destinations", "CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", Id, _fk("deliveries", "user_id", "users", "SET NULL")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("pages_sent", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
    )


def downgrade() -> None:
    for name in ("deliveries", "destinations", "segment_refreshes", "segment_versions"):
        op.drop_table(name)
    op.drop_table("segments")
    op.drop_index("ix_login_attempts_ip_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_email_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_user_sessions_user_id", table_name="user_sessions")
    op.drop_table("user_sessions")
    op.drop_table("users")
