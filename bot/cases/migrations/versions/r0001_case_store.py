"""The case store: cases, their notes and amendments, and the Slack messages that announced them.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite: INTEGER PRIMARY KEY AUTOINCREMENT; PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY.
NUMBER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("number", NUMBER, sa.Identity(always=True), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("moderator_id", sa.String(64), nullable=True),
        sa.Column("moderator_name", sa.String(255), nullable=True),
        sa.Column("target_user_id", sa.String(255), nullable=True),
        sa.Column("call_cid", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", UTC_TIME, nullable=True),
        sa.Column("voided_at", UTC_TIME, nullable=True),
        sa.Column("voided_by_id", sa.String(64), nullable=True),
        sa.Column("voided_by_name", sa.String(255), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("number", name="pk_cases"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_cases_created_at", "cases", ["created_at"])
    op.create_index(
        "ix_cases_target_user_id_number", "cases", ["target_user_id", sa.text("number DESC")]
    )
    op.create_index(
        "ix_cases_moderator_id_number", "cases", ["moderator_id", sa.text("number DESC")]
    )

    op.create_table(
        "case_notes",
        sa.Column("id", NUMBER, sa.Identity(always=True), nullable=False),
        sa.Column("case_number", NUMBER, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("author_name", sa.String(255), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_number"],
            ["cases.number"],
            name="fk_case_notes_case_number_cases",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_case_notes"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_case_notes_case_number_id", "case_notes", ["case_number", "id"])

    op.create_table(
        "case_messages",
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("case_number", NUMBER, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("linked_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_number"],
            ["cases.number"],
            name="fk_case_messages_case_number_cases",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", "ts", "case_number", name="pk_case_messages"),
    )
    op.create_index("ix_case_messages_case_number", "case_messages", ["case_number"])


def downgrade() -> None:
    op.drop_table("case_messages")
    op.drop_table("case_notes")
    op.drop_table("cases")
