"""The case store inside the running bot: a store that is down or locked never stops moderation,
retention, start-up refusals and the CSV export."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bot.cases.database
from bot.cases import Kind, MessagePurpose, Outcome
from bot.local.stack import LocalStack
from bot.util.clock import ManualClock

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400.0


@pytest.fixture
async def stack(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[LocalStack]:
    # A short busy timeout, so "the database is locked" is found in milliseconds, not seconds.
    monkeypatch.setattr(bot.cases.database, "SQLITE_BUSY_TIMEOUT_MS", 50)
    local = LocalStack(
        clock=clock,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/cases.db",
        mod_case_retention_days=30,
    )
    await local.start()
    await local.idle()
    try:
        yield local
    finally:
        await local.stop()


async def test_a_locked_database_does_not_stop_moderation_and_the_case_lands_later(
    stack: LocalStack, clock: ManualClock, tmp_path: Path
) -> None:
    assert stack.callmod is not None and stack.store is not None
    holder = sqlite3.connect(tmp_path / "cases.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        result = await stack.slash("/kick sara call-123")
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    [reply] = stack.replies(result)
    assert reply.startswith(":boot: `sara` was kicked")
    assert "The case could not be recorded" in reply and "keeps retrying" in reply
    assert "sara" not in stack.emulator.state.calls["default:call-123"].participants
    [audit] = stack.log_lines()
    assert audit.endswith(":white_check_mark: done")  # posted, without a case number yet
    assert stack.callmod.cases.pending == 1

    await clock.advance(1)
    await stack.callmod.cases.idle()

    assert stack.callmod.cases.pending == 0
    case = await stack.store.get(1)
    assert case is not None and (case.kind, case.outcome) == (Kind.KICK, Outcome.DONE)
    assert [m.purpose for m in case.messages] == [MessagePurpose.AUDIT]


async def days_pass(stack: LocalStack, clock: ManualClock, days: int) -> None:
    """Let `days` days go by, one pruning round each (a round reads the database for real)."""
    assert stack.callmod is not None
    for _ in range(days):
        stack.callmod.pruned.clear()
        await clock.advance(DAY)
        await stack.callmod.pruned.wait()


async def test_retention_prunes_old_cases_daily(stack: LocalStack, clock: ManualClock) -> None:
    assert stack.store is not None
    await stack.slash("/kick sara call-123")
    await days_pass(stack, clock, 29)
    await stack.slash("/kick john call-123")
    assert await stack.store.get(1) is not None

    await days_pass(stack, clock, 2)

    assert await stack.store.get(1) is None  # 31 days old
    assert await stack.store.get(2) is not None  # 2 days old
    await stack.slash("/kick alice call-123")
    assert await stack.store.get(3) is not None  # numbers keep growing after a prune


def _run_bot(
    args: list[str], env_extra: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(("MOD_", "SLACK_", "STREAM_")) and name != "DATABASE_URL"
    }
    env.update(env_extra, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


SLACK = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
    "SLACK_SIGNING_SECRET": "signing-secret",
    "MOD_LOG_CHANNEL": "C0MODLOG",
    "HOST": "127.0.0.1",
}


@pytest.mark.parametrize("damage", ["corrupt", "missing folder"])
def test_serve_refuses_an_unusable_database_with_one_line(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "cases.db"
    if damage == "corrupt":
        path.write_bytes(b"this is not a database" * 100)
    else:
        path = tmp_path / "nowhere" / "cases.db"
    done = _run_bot(["serve"], {**SLACK, "DATABASE_URL": f"sqlite+aiosqlite:///{path}"}, tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("callmod: DATABASE_URL") and "Traceback" not in done.stderr


def test_cases_export_writes_csv(tmp_path: Path) -> None:
    import asyncio

    from bot.cases import Actor, CaseStore, NewCase, Source
    from bot.util.clock import SystemClock

    url = f"sqlite+aiosqlite:///{tmp_path}/cases.db"

    async def plant() -> None:
        store = await CaseStore.open(url, clock=SystemClock())
        for user in ("sara", "bob"):
            await store.record(
                NewCase(
                    kind=Kind.KICK,
                    source=Source.SLACK,
                    outcome=Outcome.DONE,
                    request_id="r1",
                    moderator=Actor("U0ADMIN01", "maria"),
                    target_user_id=user,
                    reason="spam, again",
                )
            )
        await store.close()

    asyncio.run(plant())
    done = _run_bot(["cases", "export", "--since", "30d"], {"DATABASE_URL": url}, tmp_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["number"], r["kind"], r["target_user_id"], r["reason"]) for r in rows] == [
        ("1", "kick", "sara", "spam, again"),
        ("2", "kick", "bob", "spam, again"),
    ]
    assert done.stderr.startswith("callmod: exported 2 cases since")
    bad = _run_bot(["cases", "export", "--since", "soon"], {"DATABASE_URL": url}, tmp_path)
    assert bad.returncode == 2 and "--since" in bad.stderr
