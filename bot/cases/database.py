"""Connecting to the case store's database: the URL, the engine, SQLite's pragmas, migrations,
and failures told in one line without the password.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.cases.errors import CaseStoreUnavailable

DEFAULT_DATABASE_URL: Final = "sqlite+aiosqlite:///callmod.db"
SQLITE_BUSY_TIMEOUT_MS: Final = 5000
POSTGRES_CONNECT_TIMEOUT_S: Final = 10.0
MIGRATIONS: Final = Path(__file__).with_name("migrations")
BEGIN_OPTION: Final = "callmod_sqlite_begin"  # execution option: the BEGIN our SQLite hook emits

# Accepted spellings → the async driver we use.
_DRIVERS: Final[Mapping[str, str]] = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def parse_url(url: str) -> URL:
    """DATABASE_URL checked and set to its async driver (plain `sqlite://`, `postgres://` and
    `postgresql://` are accepted). Raises `CaseStoreUnavailable` saying what is wrong."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise CaseStoreUnavailable(
            "DATABASE_URL is not a database URL; expected sqlite+aiosqlite:///path/to/file.db "
            "or postgresql+asyncpg://user:password@host:5432/database"
        ) from None
    safe = parsed.render_as_string(hide_password=True)
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise CaseStoreUnavailable(
            f"DATABASE_URL {safe}: unsupported database {parsed.drivername!r}; use "
            "sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user:password@host/db"
        )
    parsed = parsed.set(drivername=driver)
    if driver.startswith("sqlite"):
        database = parsed.database or ""
        if database in ("", ":memory:") or "mode=memory" in database:
            raise CaseStoreUnavailable(
                f"DATABASE_URL {safe}: an in-memory SQLite database would lose every case; "
                "name a file, e.g. sqlite+aiosqlite:///callmod.db"
            )
        if not database.startswith("file:"):  # a plain path, not a SQLite URI
            folder = Path(database).parent
            if not folder.is_dir():
                raise CaseStoreUnavailable(
                    f"DATABASE_URL {safe}: the folder {str(folder)!r} does not exist"
                )
    return parsed


def create_engine(url: URL) -> AsyncEngine:
    """The engine for a `parse_url` result. SQLite connections get WAL, a busy timeout, foreign
    keys and full fsync, and let SQLAlchemy emit BEGIN (`BEGIN_OPTION` picks which)."""
    if url.get_backend_name() == "postgresql":
        return create_async_engine(
            url,
            pool_pre_ping=True,
            connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_S},
        )
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    sqlite_pragmas(dbapi_connection)


def sqlite_pragmas(dbapi_connection: Any) -> None:
    """Set up a new SQLite connection (the engine's, or one of `sqlite_io.py`): WAL, the
    busy timeout, foreign keys, `synchronous=NORMAL`, and BEGIN left to the caller."""
    # Let SQLAlchemy (or the store's threads), not the sqlite3 module, emit BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        mode = cursor.fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise sa.exc.OperationalError(
                "PRAGMA journal_mode=WAL", None, Exception(f"cannot use WAL (journal {mode})")
            )
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL: a commit survives the process dying (kill -9) but may be lost with the
        # machine (power loss); FULL added an fsync to every commit, doubling command latency.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get(BEGIN_OPTION, "BEGIN"))


def upgrade_to_head(connection: Connection) -> None:
    """Run the Alembic migrations on `connection`, inside its transaction (migrations/env.py)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


_DRIVER_PREFIX = re.compile(r"^(?:\(.*?\)\s*)?(?:<class '[\w.]+'>:\s*)?")


def describe(exc: BaseException, password: str | None) -> str:
    """One line saying what went wrong, from the driver's own words, without the password."""
    cause: BaseException = getattr(exc, "orig", None) or exc
    text = " ".join(str(cause).split()) or type(cause).__name__
    text = _DRIVER_PREFIX.sub("", text) or type(cause).__name__
    if password:
        text = text.replace(password, "***")
    if isinstance(cause, TimeoutError):
        return "timed out waiting for the database"
    if isinstance(cause, OSError):
        return f"cannot reach the database server: {text}"
    return text
