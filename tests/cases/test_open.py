"""Opening the store: a usable database migrates; an unusable one is one clear line naming
DATABASE_URL (the caller exits 2), never with the password in it or in the logs."""

from __future__ import annotations

import logging
import socket
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.cases import CaseStore, CaseStoreUnavailable, Kind, NewCase, Outcome, Source
from bot.util.clock import ManualClock

from .conftest import sqlite_url

SECRET = "s3cr3t-Pa55word"


async def open_fails(url: str, clock: ManualClock) -> str:
    with pytest.raises(CaseStoreUnavailable) as caught:
        await CaseStore.open(url, clock=clock)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("DATABASE_URL")
    return message


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "not a database URL"),
        ("mysql+aiomysql://u:p@localhost/db", "unsupported database 'mysql+aiomysql'"),
        ("sqlite+aiosqlite://", "in-memory"),
        ("sqlite+aiosqlite:///:memory:", "in-memory"),
    ],
)
async def test_unusable_urls_are_refused(url: str, says: str, clock: ManualClock) -> None:
    assert says in await open_fails(url, clock)


async def test_a_missing_folder_is_named(tmp_path: Path, clock: ManualClock) -> None:
    message = await open_fails(f"sqlite+aiosqlite:///{tmp_path}/nowhere/cases.db", clock)
    assert f"{tmp_path}/nowhere" in message


async def test_a_corrupt_sqlite_file_is_refused(tmp_path: Path, clock: ManualClock) -> None:
    (tmp_path / "cases.db").write_bytes(b"this is not SQLite\n" * 500)
    message = await open_fails(sqlite_url(tmp_path), clock)
    assert "file is not a database" in message and str(tmp_path) in message


async def test_a_read_only_sqlite_file_is_refused_at_open(
    tmp_path: Path, clock: ManualClock
) -> None:
    # Read-only by the SQLite URI rather than chmod, which root (CI) ignores.
    async with await CaseStore.open(sqlite_url(tmp_path), clock=clock):
        pass
    message = await open_fails(
        f"sqlite+aiosqlite:///file:{tmp_path / 'cases.db'}?mode=ro&uri=true", clock
    )
    assert "readonly database" in message


async def test_plain_sqlite_scheme_means_aiosqlite(tmp_path: Path, clock: ManualClock) -> None:
    async with await CaseStore.open(f"sqlite:///{tmp_path / 'x.db'}", clock=clock) as store:
        assert store.dialect == "sqlite" and store.url.startswith("sqlite+aiosqlite:///")


async def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with await CaseStore.open(sqlite_url(tmp_path), clock=clock):
        pass
    with sqlite3.connect(tmp_path / "cases.db") as raw:  # WAL is a property of the file
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    opened = await CaseStore.open(sqlite_url(tmp_path), clock=clock)
    async with opened, opened._engine.connect() as conn:  # the others are per connection
        pragmas = [
            (await conn.execute(sa.text(f"PRAGMA {name}"))).scalar_one()
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        ]
    assert pragmas == ["wal", 5000, 1, 1]  # synchronous=NORMAL: safe across kill -9 in WAL


async def test_an_unreachable_server_is_one_line_without_the_password(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"postgresql+asyncpg://callmod:{SECRET}@127.0.0.1:{closed_port()}/callmod"
    message = await open_fails(url, clock)
    assert "callmod:***@127.0.0.1" in message
    assert SECRET not in message and SECRET not in caplog.text


async def test_a_refused_login_is_named_without_the_password(
    postgres_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = make_url(postgres_url).set(password=SECRET)
    message = await open_fails(wrong.render_as_string(hide_password=False), clock)
    assert "password authentication failed" in message
    assert SECRET not in message and SECRET not in caplog.text


async def test_a_missing_database_is_named(postgres_url: str, clock: ManualClock) -> None:
    missing = make_url(postgres_url).set(database="callmod_no_such_db")
    message = await open_fails(missing.render_as_string(hide_password=False), clock)
    assert 'database "callmod_no_such_db" does not exist' in message


async def test_plain_postgresql_scheme_means_asyncpg(postgres_url: str, clock: ManualClock) -> None:
    plain = make_url(postgres_url).set(drivername="postgresql")
    async with await CaseStore.open(plain.render_as_string(False), clock=clock) as store:
        assert store.dialect == "postgresql" and store.url.startswith("postgresql+asyncpg://")
        assert "***" in store.url or make_url(postgres_url).password is None


async def test_open_logs_the_url_without_its_password(
    database_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with await CaseStore.open(database_url, clock=clock) as store:
        await store.record(
            NewCase(kind=Kind.BAN, source=Source.STREAM, outcome=Outcome.DONE, request_id="r")
        )
    assert "case store ready" in caplog.text
    password = make_url(database_url).password
    if password:
        assert password not in caplog.text
