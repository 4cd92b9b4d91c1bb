"""What `/cases` reads and every command writes, as the store runs it: lean history pages, counts
from the covering index, the store's own SQLite connections (pragmas, statement log)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import bot.cases.sqlite_io
from bot.cases import (
    Actor,
    CaseStore,
    Kind,
    MessagePurpose,
    NewCase,
    Outcome,
    Source,
)
from bot.cases.statements import COUNTS, USER_PAGE
from bot.util.clock import ManualClock

from .conftest import sqlite_url

MARIA = Actor("U0MARIA01", "maria")


def ban(target: str = "sara", *, minutes: int | None = 30) -> NewCase:
    return NewCase(
        kind=Kind.BAN,
        source=Source.SLACK,
        outcome=Outcome.MAYBE_APPLIED,
        request_id="req-1",
        moderator=MARIA,
        target_user_id=target,
        reason="spam",
        duration_seconds=minutes * 60 if minutes else None,
        expires_at=datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes or 0)
        if minutes
        else None,
    )


async def test_history_pages_are_lean_and_get_has_the_notes_and_messages(
    store: CaseStore,
) -> None:
    case = await store.record(ban())
    await store.link_message(case.number, "C0LOG", "1.1", MessagePurpose.AUDIT)
    await store.add_note(case.number, MARIA, "warned")
    await store.void(case.number, MARIA, "wrong user")

    [listed] = (await store.history_for_user("sara")).cases
    [by_maria] = (await store.by_moderator(MARIA.id)).cases
    full = await store.get(case.number)

    assert listed == by_maria and listed.notes == () and listed.messages == ()
    assert full is not None and len(full.notes) == 2 and len(full.messages) == 1
    assert replace(full, notes=(), messages=()) == listed  # every field, times with their zone
    assert listed.expires_at == datetime(2030, 1, 1, 0, 30, tzinfo=UTC)
    assert listed.voided is not None and listed.voided.at.tzinfo is UTC


async def test_settle_and_link_answer_without_reading_back(store: CaseStore) -> None:
    case = await store.record(ban())
    await store.settle(case.number, Outcome.DONE)
    linked = await store.link_message(case.number, "C0LOG", "1.1", MessagePurpose.AUDIT)
    again = await store.link_message(case.number, "C0LOG", "1.1", MessagePurpose.AUDIT)

    stored = await store.get(case.number)
    assert stored is not None and stored.outcome is Outcome.DONE
    assert stored.messages == (linked,) and again == linked


async def test_counts_read_only_the_covering_index(tmp_path: Path, clock: ManualClock) -> None:
    async with await CaseStore.open(sqlite_url(tmp_path), clock=clock) as store:
        await store.record(ban())
    with sqlite3.connect(tmp_path / "cases.db") as db:
        counts = db.execute(f"EXPLAIN QUERY PLAN {COUNTS.sqlite_sql}", ("sara", "failed"))
        page = db.execute(f"EXPLAIN QUERY PLAN {USER_PAGE.sqlite_sql}", ("sara", 21, 0))
        counts_plan = [row[-1] for row in counts.fetchall()]
        page_plan = [row[-1] for row in page.fetchall()]
    assert counts_plan == [
        "SEARCH cases USING COVERING INDEX ix_cases_target_user_id_kind_outcome_voided_at "
        "(target_user_id=?)"
    ]  # no table rows read, no sort for the GROUP BY
    assert page_plan == [
        "SEARCH cases USING INDEX ix_cases_target_user_id_number (target_user_id=?)"
    ]


async def test_the_stores_own_sqlite_connections_use_the_engines_pragmas(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with await CaseStore.open(sqlite_url(tmp_path), clock=clock) as store:
        assert store._sqlite is not None
        await store.record(ban())  # opens the loop's connection
        loop_db = store._sqlite._loop_db
        assert loop_db is not None
        names = (
            "journal_mode",
            "foreign_keys",
            "synchronous",
            "busy_timeout",
            "wal_autocheckpoint",
        )
        pragmas = [loop_db.execute(f"PRAGMA {name}").fetchone()[0] for name in names]
        reader = await store._sqlite.read(
            lambda db: [db.execute(f"PRAGMA {name}").fetchone()[0] for name in names]
        )
    assert pragmas == ["wal", 1, 1, 0, 0]  # the loop's connection never waits, nor checkpoints
    assert reader == ["wal", 1, 1, 5000, 1000]


async def test_the_wal_is_checkpointed_on_the_writer_thread(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.cases.sqlite_io, "CHECKPOINT_EVERY", 3)
    threads: list[str] = []
    checkpoint = bot.cases.sqlite_io._checkpoint

    def recorded(db: sqlite3.Connection) -> None:
        threads.append(threading.current_thread().name)
        checkpoint(db)

    monkeypatch.setattr(bot.cases.sqlite_io, "_checkpoint", recorded)
    async with await CaseStore.open(sqlite_url(tmp_path), clock=clock) as store:
        for _ in range(7):
            await store.record(ban())
    # At batch 3, and at 6 unless the first was still under way (they never pile up).
    assert threads and set(threads) == {"callmod-cases-write-0"}
    with sqlite3.connect(tmp_path / "cases.db") as db:
        assert db.execute("SELECT count(*) FROM cases").fetchone() == (7,)


async def test_the_stores_sqlite_statements_are_logged_at_debug(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="callmod.cases.sql")
    async with await CaseStore.open(sqlite_url(tmp_path), clock=clock) as store:
        await store.record(ban())
        await store.counts_for_user("sara")
    logged = [r.getMessage() for r in caplog.records if r.name == "callmod.cases.sql"]
    assert any(line.startswith("INSERT INTO cases") and "'sara'" in line for line in logged)
    assert any(line.startswith("SELECT cases.kind, count(*)") for line in logged)
