"""A covering index for the counts by kind of `/cases <user>`: without it, counting a user's cases
read every one of them from the table (up to thousands of random reads) and sorted them by kind.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_cases_target_user_id_kind_outcome_voided_at"


def upgrade() -> None:
    op.create_index(NAME, "cases", ["target_user_id", "kind", "outcome", "voided_at"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="cases")
