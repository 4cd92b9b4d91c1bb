"""Case store fixtures: every store test runs on SQLite (a fresh file) and on PostgreSQL (a fresh
database, dropped afterwards) when CALLMOD_TEST_POSTGRES_URL names a server.

Without that variable the PostgreSQL half skips, except under CI=true, where it fails: CI must
never pass by quietly testing only SQLite. A server that is named but unreachable always fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.cases import CaseStore
from bot.util.clock import ManualClock

POSTGRES_ENV = "CALLMOD_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]


def postgres_admin_url() -> str:
    """The server to create test databases on, or skip / fail as the module docstring says."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if url:
        return url
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(
            f"CI=true but {POSTGRES_ENV} is not set: the case store must be tested on PostgreSQL "
            "(.ci/run starts a throwaway server)",
            pytrace=False,
        )
    pytest.skip(
        f"PostgreSQL not tested: set {POSTGRES_ENV}="
        "postgresql+asyncpg://user:password@host:port/db (a user allowed to CREATE DATABASE)"
    )


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new, uniquely named database on the test server; dropped on exit."""
    admin = make_url(postgres_admin_url())
    if admin.drivername in ("postgres", "postgresql"):
        admin = admin.set(drivername="postgresql+asyncpg")
    name = f"callmod_test_{uuid.uuid4().hex}"
    engine = create_async_engine(
        admin, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"timeout": 10}
    )
    problem = ""
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        problem = f"{type(exc).__name__}: {' '.join(str(exc).split()[:40])}"
    if problem:
        await engine.dispose()
        safe = admin.render_as_string(hide_password=True)
        pytest.fail(f"{POSTGRES_ENV} ({safe}) is unusable: {problem}", pytrace=False)
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'cases.db'}"


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL naming an empty database of each backend in turn."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        async with fresh_postgres_database() as url:
            yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database, for the few tests about PostgreSQL alone."""
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def store(database_url: str, clock: ManualClock) -> AsyncIterator[CaseStore]:
    opened = await CaseStore.open(database_url, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
