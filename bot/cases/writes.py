"""A write of the case store's hot paths (`Write`: one statement and its parameters), what a
backend answers for a batch of them (`Result` per write: its first row, None, or its error), the
errors a failed write means to its caller, and the batches of a SQLAlchemy engine (PostgreSQL).
`group.py` decides what goes in a batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.cases.database import describe
from bot.cases.errors import CaseNotFound, CaseStoreError, CaseStoreUnavailable
from bot.cases.statements import Statement

Row = tuple[Any, ...]
Result = Row | None | BaseException


@dataclass(frozen=True, slots=True)
class Write:
    """One statement of a batch. A foreign-key failure means case `case_number` is missing."""

    statement: Statement
    params: Mapping[str, Any]
    case_number: int | None = None


Batch = Callable[[Sequence[Write]], Awaitable[list[Result]]]
# Commit now, without waiting for anything, or return None when that is not possible.
BatchNow = Callable[[Sequence[Write]], list[Result] | None]


def integrity_error(exc: BaseException, write: Write | None, text: str) -> CaseStoreError:
    """What a constraint failure of `write` means to its caller."""
    if write is not None and write.case_number is not None and "foreign key" in text.lower():
        error: CaseStoreError = CaseNotFound(write.case_number)
    else:
        error = CaseStoreError(f"case store: {text}")
    error.__cause__ = exc
    return error


def unavailable(exc: BaseException, where: str, text: str) -> CaseStoreUnavailable:
    error = CaseStoreUnavailable(f"{where}: {text}")
    error.__cause__ = exc
    return error


class SqlAlchemyBatches:
    """Batches through a SQLAlchemy async engine (PostgreSQL): one connection, one transaction
    per batch."""

    def __init__(self, engine: AsyncEngine, where: str, password: str | None) -> None:
        self._engine = engine
        self._where = where
        self._password = password

    async def __call__(self, writes: Sequence[Write]) -> list[Result]:
        try:
            async with self._engine.connect() as conn:
                if len(writes) > 1:
                    transaction = await conn.begin()
                    try:
                        rows: list[Result] = [await self._execute(conn, w) for w in writes]
                    except Exception:
                        await transaction.rollback()
                    else:
                        await transaction.commit()
                        return rows
                return [await self._alone(conn, write) for write in writes]
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            return [self._error(exc, None) for _ in writes]

    async def _alone(self, conn: AsyncConnection, write: Write) -> Result:
        try:
            async with conn.begin():
                return await self._execute(conn, write)
        except Exception as exc:
            return self._error(exc, write)

    @staticmethod
    async def _execute(conn: AsyncConnection, write: Write) -> Row | None:
        row = (await conn.execute(write.statement.postgres, dict(write.params))).first()
        return None if row is None else tuple(row)

    def _error(self, exc: BaseException, write: Write | None) -> BaseException:
        text = describe(exc, self._password)
        if isinstance(exc, IntegrityError):
            return integrity_error(exc, write, text)
        if isinstance(exc, (SQLAlchemyError, OSError, TimeoutError)):
            return unavailable(exc, self._where, text)
        return exc
