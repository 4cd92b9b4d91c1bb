"""The case store's own SQLite connections for its hot paths: the writes every command makes and
the `/cases` reads. Plain `sqlite3` connections with the engine's pragmas, running the statements
of `statements.py` (compiled from the same Core).

Why not SQLAlchemy's aiosqlite adapter here: it crosses to aiosqlite's thread about four times per
statement (cursor, execute, fetch, close), plus BEGIN, COMMIT and the pool's reset — 26 crossings
for one `/cases` lookup, ~10 per write transaction. And a crossing is dear when the event loop is
busy: the woken thread waits for the GIL until the loop blocks or the 5 ms switch interval runs
out (measured here: 0.06 ms per crossing on an idle loop, 3.3 ms on a busy one).

- Writes run on a connection of the event loop's own thread, one batch (`group.py`) at a time:
  a commit in WAL with `synchronous=NORMAL` writes to the page cache and does not sync (0.1–0.3 ms).
  That connection never waits: its busy timeout is 0 and it never checkpoints (a checkpoint syncs
  the file). When another connection holds the write lock, the batch goes to the writer thread,
  which waits up to the busy timeout as the store always did; that thread also checkpoints
  (PASSIVE, beside the writes) every `CHECKPOINT_EVERY` batches.
- Reads run on reader threads, one crossing per lookup: a page of history reads up to ~20
  scattered table pages, which may have to come from the disk.

With the logger `callmod.cases.sql` at DEBUG when a connection opens, it logs every statement it
runs (with its values), as SQLAlchemy's engine log does for the other queries.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from bot.cases.database import sqlite_pragmas
from bot.cases.models import Case
from bot.cases.rows import sqlite_case
from bot.cases.sqlite_batch import Busy, error, run_batch
from bot.cases.statements import Statement
from bot.cases.threads import ConnectionThreads
from bot.cases.writes import Result, Row, Write

READERS: Final = 2
CHECKPOINT_EVERY: Final = 300  # batches of ~3–6 pages: about SQLite's default of 1000 pages

log = logging.getLogger(__name__)
log_sql = logging.getLogger("callmod.cases.sql")

T = TypeVar("T")


class SqliteIO:
    """The store's own connections to one SQLite file. `connect_args` / `connect_kwargs` are what
    `sqlite3.connect` takes (the engine dialect's `create_connect_args`); `where` starts every
    error message ("case store sqlite+aiosqlite:///…")."""

    def __init__(
        self, connect_args: Sequence[Any], connect_kwargs: Mapping[str, Any], where: str
    ) -> None:
        self._args = tuple(connect_args)
        self._kwargs = {**connect_kwargs, "check_same_thread": False}
        self._where = where
        self._loop_db: sqlite3.Connection | None = None
        self._writer = ConnectionThreads(
            "callmod-cases-write", 1, self._connect_waiting, sqlite3.Connection.close
        )
        self._readers = ConnectionThreads(
            "callmod-cases-read", READERS, self._connect_reader, sqlite3.Connection.close
        )
        self._batches = 0
        self._checkpoint: asyncio.Task[None] | None = None

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` on a reader thread (a read-only connection, autocommit: one
        statement is one consistent snapshot)."""
        try:
            return await self._readers.run(work)
        except (sqlite3.Error, SQLAlchemyError) as exc:
            raise error(exc, None, self._where) from exc

    def write_now(self, writes: Sequence[Write]) -> list[Result] | None:
        """Commit `writes` in one transaction on the loop's connection (see `group.py`), one
        result per write; None, having done nothing, when another connection holds the lock."""
        try:
            if self._loop_db is None:
                self._loop_db = self._connect_now()
            results = run_batch(self._loop_db, writes, self._where, wait=False)
        except Busy:
            return None
        except (sqlite3.Error, SQLAlchemyError) as exc:  # could not connect
            return [error(exc, None, self._where) for _ in writes]
        self._batches += 1
        if self._batches % CHECKPOINT_EVERY == 0:
            self._start_checkpoint()
        return results

    async def write(self, writes: Sequence[Write]) -> list[Result]:
        """`write_now`, or on the writer thread (waiting for the lock) when it cannot."""
        results = self.write_now(writes)
        return results if results is not None else await self._write_waiting(writes)

    async def close(self) -> None:
        """Finish the checkpoint under way, stop the threads, close every connection (they open
        again if used again)."""
        if self._checkpoint is not None:
            await self._checkpoint
        await self._writer.stop()
        await self._readers.stop()
        if self._loop_db is not None:
            self._loop_db.close()
            self._loop_db = None

    async def _write_waiting(self, writes: Sequence[Write]) -> list[Result]:
        try:
            return await self._writer.run(lambda db: run_batch(db, writes, self._where))
        except (sqlite3.Error, SQLAlchemyError) as exc:  # could not connect
            return [error(exc, None, self._where) for _ in writes]

    def _start_checkpoint(self) -> None:
        if self._checkpoint is None or self._checkpoint.done():
            self._checkpoint = asyncio.create_task(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        try:
            await self._writer.run(_checkpoint)
        except (sqlite3.Error, SQLAlchemyError) as exc:  # the next one will try again
            log.warning("%s: WAL checkpoint failed: %s", self._where, exc)

    # -- connecting -------------------------------------------------------------------------

    def _connect_now(self) -> sqlite3.Connection:
        return self._connect("PRAGMA busy_timeout=0", "PRAGMA wal_autocheckpoint=0")

    def _connect_waiting(self) -> sqlite3.Connection:
        return self._connect()

    def _connect_reader(self) -> sqlite3.Connection:
        return self._connect("PRAGMA query_only=ON")

    def _connect(self, *pragmas: str) -> sqlite3.Connection:
        db: sqlite3.Connection = sqlite3.connect(*self._args, **self._kwargs)
        try:
            sqlite_pragmas(db)
            for pragma in pragmas:
                db.execute(pragma)
        except BaseException:
            db.close()
            raise
        if log_sql.isEnabledFor(logging.DEBUG):
            db.set_trace_callback(log_sql.debug)
        return db


def _checkpoint(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def fetch_rows(
    statement: Statement, params: Mapping[str, Any]
) -> Callable[[sqlite3.Connection], list[Row]]:
    """For `SqliteIO.read`: the statement's rows as tuples."""

    def fetch(db: sqlite3.Connection) -> list[Row]:
        return db.execute(statement.sqlite_sql, statement.sqlite_params(params)).fetchall()

    return fetch


def fetch_cases(
    statement: Statement, params: Mapping[str, Any]
) -> Callable[[sqlite3.Connection], list[Case]]:
    """For `SqliteIO.read`: rows of `cases` as `Case`s (made in the thread, off the loop)."""

    def fetch(db: sqlite3.Connection) -> list[Case]:
        cursor = db.execute(statement.sqlite_sql, statement.sqlite_params(params))
        return [sqlite_case(row) for row in cursor.fetchall()]

    return fetch
