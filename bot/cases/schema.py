"""The case store's tables (SQLAlchemy Core). The migrations in `migrations/versions/` create
exactly this; a test compares the two on every backend.

`cases.number` is `INTEGER PRIMARY KEY AUTOINCREMENT` on SQLite and `BIGINT GENERATED ALWAYS AS
IDENTITY` on PostgreSQL: both hand out numbers that only grow and are never given twice, not even
after the newest case is pruned or its transaction rolled back (a gap is possible, a repeat is not).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both backends. PostgreSQL keeps `timestamptz`; SQLite
    keeps fixed-width UTC text (so comparisons order correctly) and gets its zone back on read."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetimes are not stored; give a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


CaseNumber = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: a rowid alias

metadata = sa.MetaData(naming_convention=NAMING)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("number", CaseNumber, sa.Identity(always=True), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("moderator_id", sa.String(64)),
    sa.Column("moderator_name", sa.String(255)),
    sa.Column("target_user_id", sa.String(255)),
    sa.Column("call_cid", sa.String(200)),
    sa.Column("reason", sa.Text()),
    sa.Column("detail", sa.Text()),
    sa.Column("duration_seconds", sa.BigInteger()),
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("voided_at", UTCDateTime()),
    sa.Column("voided_by_id", sa.String(64)),
    sa.Column("voided_by_name", sa.String(255)),
    sa.Column("void_reason", sa.Text()),
    sa.Index("ix_cases_created_at", "created_at"),
    sqlite_autoincrement=True,
)
# The two history queries: one user's (or one moderator's) cases, newest first, keyset by number.
sa.Index("ix_cases_target_user_id_number", cases.c.target_user_id, cases.c.number.desc())
sa.Index("ix_cases_moderator_id_number", cases.c.moderator_id, cases.c.number.desc())
# `counts_for_user` reads this index alone, already grouped by kind (migration 0002).
sa.Index(
    "ix_cases_target_user_id_kind_outcome_voided_at",
    cases.c.target_user_id,
    cases.c.kind,
    cases.c.outcome,
    cases.c.voided_at,
)

case_notes = sa.Table(
    "case_notes",
    metadata,
    sa.Column("id", CaseNumber, sa.Identity(always=True), primary_key=True),
    sa.Column(
        "case_number",
        CaseNumber,
        sa.ForeignKey("cases.number", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("author_id", sa.String(64), nullable=False),
    sa.Column("author_name", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("old_value", sa.Text()),
    sa.Index("ix_case_notes_case_number_id", "case_number", "id"),
    sqlite_autoincrement=True,
)

case_messages = sa.Table(
    "case_messages",
    metadata,
    sa.Column("channel_id", sa.String(64), primary_key=True),
    sa.Column("ts", sa.String(32), primary_key=True),
    sa.Column(
        "case_number",
        CaseNumber,
        sa.ForeignKey("cases.number", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("linked_at", UTCDateTime(), nullable=False),
    sa.Index("ix_case_messages_case_number", "case_number"),
)
