"""The Alembic migrations: shipped inside the package, idempotent, and creating exactly the tables
that `bot.cases.schema` describes, on both backends."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bot.cases import CaseStore, CaseStoreUnavailable
from bot.cases.database import MIGRATIONS
from bot.cases.schema import metadata
from bot.util.clock import ManualClock


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def run_sync_on(url: str, work: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def test_the_migrations_ship_inside_the_package() -> None:
    folder = resources.files("bot.cases") / "migrations"
    assert (folder / "env.py").is_file()
    assert (folder / "versions" / "r0001_case_store.py").is_file()
    assert (folder / "versions" / "r0002_counts_index.py").is_file()
    assert head() == "0002"


async def test_migrated_schema_matches_the_tables_the_store_uses(
    database_url: str, clock: ManualClock
) -> None:
    await (await CaseStore.open(database_url, clock=clock)).close()

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    assert await run_sync_on(database_url, differences) == []


async def test_migrating_again_changes_nothing(database_url: str, clock: ManualClock) -> None:
    async with await CaseStore.open(database_url, clock=clock) as store:
        await store.migrate()
        await store.migrate()

    def version(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    assert await run_sync_on(database_url, version) == head()


async def test_downgrade_to_nothing_and_up_again(database_url: str, clock: ManualClock) -> None:
    await (await CaseStore.open(database_url, clock=clock)).close()

    def down(connection: Connection) -> set[str]:
        command.downgrade(alembic_config(connection), "base")
        return set(sa.inspect(connection).get_table_names())

    assert await run_sync_on(database_url, down) <= {"alembic_version", "sqlite_sequence"}
    async with await CaseStore.open(database_url, clock=clock) as store:
        assert store.dialect in ("sqlite", "postgresql")


async def test_a_database_from_a_newer_callmod_is_refused(
    database_url: str, clock: ManualClock
) -> None:
    await (await CaseStore.open(database_url, clock=clock)).close()

    def from_the_future(connection: Connection) -> None:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))

    await run_sync_on(database_url, from_the_future)
    with pytest.raises(CaseStoreUnavailable, match=r"DATABASE_URL .*9999"):
        await CaseStore.open(database_url, clock=clock)
