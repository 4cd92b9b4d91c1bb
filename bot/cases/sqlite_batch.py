"""A batch of writes (`writes.py`) committed on one plain `sqlite3` connection: one transaction
for all; if a write fails, the batch is rolled back and each write runs in a transaction of its
own, so only the bad one fails. Errors come back as the store's exceptions, one per write."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from bot.cases.database import describe
from bot.cases.writes import Result, Row, Write, integrity_error, unavailable


class Busy(Exception):
    """Another connection holds the write lock, and the caller would rather not wait here."""


def run_batch(
    db: sqlite3.Connection, writes: Sequence[Write], where: str, *, wait: bool = True
) -> list[Result]:
    """Commit `writes`: per write, its first row (None if it returned none) or its error. With
    `wait` False (`db` has no busy timeout), raises `Busy`, having done nothing, when another
    connection holds the write lock."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        if not wait and exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            raise Busy from exc
        return [error(exc, None, where) for _ in writes]
    if len(writes) == 1:
        return [_finish_alone(db, writes[0], where)]
    try:
        rows: list[Result] = [_execute(db, write) for write in writes]
    except Exception:
        _rollback(db)
        return [_alone(db, write, where) for write in writes]
    try:
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(db)
        return [error(exc, None, where) for _ in writes]
    return rows


def error(exc: BaseException, write: Write | None, where: str) -> BaseException:
    """`exc`, raised by SQLite for `write` (None: for the whole batch), as the store's error."""
    if isinstance(exc, sqlite3.IntegrityError):
        return integrity_error(exc, write, describe(exc, None))
    if isinstance(exc, (sqlite3.Error, SQLAlchemyError)):
        return unavailable(exc, where, describe(exc, None))
    return exc


def _alone(db: sqlite3.Connection, write: Write, where: str) -> Result:
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return error(exc, write, where)
    return _finish_alone(db, write, where)


def _finish_alone(db: sqlite3.Connection, write: Write, where: str) -> Result:
    try:
        row = _execute(db, write)
        db.execute("COMMIT")
    except Exception as exc:
        _rollback(db)
        return error(exc, write, where)
    return row


def _execute(db: sqlite3.Connection, write: Write) -> Row | None:
    statement = write.statement
    # fetchall: a RETURNING statement is finished only once its rows are read.
    rows = db.execute(statement.sqlite_sql, statement.sqlite_params(write.params)).fetchall()
    return tuple(rows[0]) if rows else None


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        # It may fail when SQLite has rolled back already (after an I/O error, say).
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
