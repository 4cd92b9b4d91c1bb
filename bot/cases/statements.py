"""The statements on the case store's hot paths — what every command writes (record, settle, link)
and what `/cases` reads (a page of history, the counts) — as SQLAlchemy Core, each compiled once
to SQLite's SQL for the store's own SQLite connections (`sqlite_io.py`). PostgreSQL runs the same
Core statements through SQLAlchemy. Parameters are named; values are plain Python (aware
datetimes, strings, ints) and `Statement.sqlite_params` turns them into what SQLite stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.cases.models import Outcome
from bot.cases.schema import UTCDateTime, case_messages, cases

_SQLITE: Final = sqlite.dialect()

Compilable = sa.Insert | sa.Update | sa.Select[Any]


def sqlite_value(value: object) -> object:
    """A parameter as SQLAlchemy's `UTCDateTime` keeps it in SQLite: datetimes as fixed-width
    naive UTC text (so they compare in order); everything else as it is."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetimes are not stored; give a timezone-aware one")
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def sqlite_time(text: str | None) -> datetime | None:
    """The inverse of `sqlite_value` for a stored time."""
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Statement:
    """A Core statement for SQLAlchemy (`core`; `postgres` when PostgreSQL needs its own
    spelling) and its SQLite text with the order of its positional parameters (`times`: the
    positions that take a time)."""

    core: Compilable
    postgres: sa.Executable
    sqlite_sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    times: tuple[int, ...] = ()

    @classmethod
    def of(cls, core: Compilable, postgres: sa.Executable | None = None) -> Statement:
        compiled = core.compile(dialect=_SQLITE)
        names = tuple(compiled.positiontup or ())
        binds = [compiled.binds[name] for name in names]
        defaults = {
            name: bind.effective_value
            for name, bind in zip(names, binds, strict=True)
            if bind.effective_value is not None
        }
        times = tuple(at for at, bind in enumerate(binds) if isinstance(bind.type, UTCDateTime))
        return cls(
            core, postgres if postgres is not None else core, str(compiled), names, defaults, times
        )

    def sqlite_params(self, params: Mapping[str, Any]) -> list[object]:
        defaults = self.defaults
        values = [params[name] if name in params else defaults[name] for name in self.names]
        for at in self.times:
            values[at] = sqlite_value(values[at])
        return values


CASE_COLUMNS: Final = tuple(column.name for column in cases.c)
# What a new case is written with: every column but its number (the database gives it) and the
# void, which only an amendment sets.
INSERT_COLUMNS: Final = tuple(
    name for name in CASE_COLUMNS if name != "number" and not name.startswith("void")
)
LINK_COLUMNS: Final = ("channel_id", "ts", "case_number", "purpose", "linked_at")

# -- writes --------------------------------------------------------------------------------------

RECORD = Statement.of(
    sa.insert(cases)
    .values({name: sa.bindparam(name) for name in INSERT_COLUMNS})
    .returning(cases.c.number)
)
# RETURNING tells a missing case (no row) without a SELECT first; the UPDATE locks the row.
SETTLE = Statement.of(
    sa.update(cases)
    .where(cases.c.number == sa.bindparam("case"))
    .values(outcome=sa.bindparam("new_outcome"))
    .returning(cases.c.number)
)
# No row back: the link existed already (the caller reads the first one). A missing case fails
# the foreign key.
_LINK_VALUES: Final[dict[str, sa.BindParameter[Any]]] = {
    name: sa.bindparam(name) for name in LINK_COLUMNS
}
_LINK_KEY: Final = ["channel_id", "ts", "case_number"]
LINK = Statement.of(
    sqlite.insert(case_messages)
    .values(_LINK_VALUES)
    .on_conflict_do_nothing(index_elements=_LINK_KEY)
    .returning(case_messages.c.linked_at),
    postgresql.insert(case_messages)
    .values(_LINK_VALUES)
    .on_conflict_do_nothing(index_elements=_LINK_KEY)
    .returning(case_messages.c.linked_at),
)

# -- /cases --------------------------------------------------------------------------------------


def _page(matches: sa.ColumnElement[bool], before: bool) -> Statement:
    """A page of cases, newest first (keyset by number), without notes or messages."""
    query = sa.select(cases).where(matches)
    if before:
        query = query.where(cases.c.number < sa.bindparam("before"))
    return Statement.of(query.order_by(cases.c.number.desc()).limit(sa.bindparam("limit")))


_BY_USER: Final = cases.c.target_user_id == sa.bindparam("who")
_BY_MODERATOR: Final = cases.c.moderator_id == sa.bindparam("who")
USER_PAGE = _page(_BY_USER, before=False)
USER_PAGE_BEFORE = _page(_BY_USER, before=True)
MODERATOR_PAGE = _page(_BY_MODERATOR, before=False)
MODERATOR_PAGE_BEFORE = _page(_BY_MODERATOR, before=True)

# Covered by ix_cases_target_user_id_kind_outcome_voided_at: no table reads, no sort.
COUNTS = Statement.of(
    sa.select(cases.c.kind, sa.func.count())
    .where(
        _BY_USER,
        cases.c.voided_at.is_(None),
        cases.c.outcome != sa.bindparam("failed", Outcome.FAILED.value),
    )
    .group_by(cases.c.kind)
)
