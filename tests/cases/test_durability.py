"""kill -9 in the middle of a burst of writes leaves no half-written case: every write is one
transaction, and a reopened store carries on with larger numbers."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.cases import Case, CaseStore, Kind, MessagePurpose, NewCase, NoteKind, Outcome, Source
from bot.util.clock import ManualClock

from .burst_writer import message_ts

REPO = Path(__file__).resolve().parents[2]
KILL_AFTER = 40  # cases fully written before the kill
TASKS = 4


async def burst_then_kill(url: str) -> list[int]:
    """Run the writer until it has finished KILL_AFTER cases, SIGKILL it while its tasks are
    mid-write, and return the numbers of the cases it reported finished."""
    writer = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.cases.burst_writer", url, "0", str(TASKS)),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    assert writer.stdout is not None
    finished: list[int] = []
    try:
        async with asyncio.timeout(120):
            while len(finished) < KILL_AFTER:
                line = await writer.stdout.readline()
                assert line, f"the writer stopped on its own (exit {await writer.wait()})"
                finished.append(int(line.split()[1]))
    finally:
        writer.send_signal(signal.SIGKILL)
        await writer.wait()
    assert writer.returncode == -signal.SIGKILL
    rest = await writer.stdout.read()  # lines printed before the kill landed
    finished += [int(line.split()[1]) for line in rest.decode().splitlines()]
    return finished


def check_complete(case: Case, finished: bool) -> None:
    """What burst_writer writes, one transaction at a time: each step is there whole or not."""
    assert case.kind is Kind.BAN and case.source is Source.SLACK
    assert case.outcome is Outcome.DONE and case.request_id.startswith("w")
    assert case.moderator is not None and case.target_user_id is not None
    assert [m.ts for m in case.messages] in ([], [message_ts(case.number)])
    assert all(m.purpose is MessagePurpose.NOTIFICATION for m in case.messages)
    amendments = [n for n in case.notes if n.kind is NoteKind.REASON_CHANGED]
    voids = [n for n in case.notes if n.kind is NoteKind.VOIDED]
    assert len(case.notes) == len(amendments) + len(voids)
    if amendments:
        [amendment] = amendments
        assert amendment.old_value is not None and amendment.old_value.startswith("orig-")
        assert case.reason == amendment.text == f"amended-{case.number}"
    else:
        assert case.reason is not None and case.reason.startswith("orig-")
    assert len(voids) == (case.voided is not None)
    if case.voided is not None:
        assert case.number % 3 == 0 and amendments
        assert case.voided.why == voids[0].text == f"void-{case.number}"
    if finished:
        assert len(case.messages) == 1 and amendments
        assert (case.voided is not None) == (case.number % 3 == 0)


async def test_kill_9_mid_burst_leaves_only_whole_cases(
    database_url: str, clock: ManualClock
) -> None:
    await (await CaseStore.open(database_url, clock=clock)).close()  # migrated before the burst
    finished = await burst_then_kill(database_url)

    if database_url.startswith("sqlite"):
        path = make_url(database_url).database
        assert path is not None
        with sqlite3.connect(path) as raw:  # also replays the WAL the killed writer left
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert raw.execute("PRAGMA foreign_key_check").fetchall() == []

    async with await CaseStore.open(database_url, clock=clock) as store:
        cases: list[Case] = []
        for task in range(TASKS):
            page = await store.history_for_user(f"user{task}", limit=200)
            assert page.next_before is None
            for listed in page.cases:  # a page is lean: get() has the notes and messages
                case = await store.get(listed.number)
                assert case is not None
                cases.append(case)
        assert set(finished) <= {case.number for case in cases}
        for case in cases:
            check_complete(case, finished=case.number in finished)

        newest = max(case.number for case in cases)
        after = await store.record(
            NewCase(kind=Kind.KICK, source=Source.CALLMOD, outcome=Outcome.DONE, request_id="r")
        )
        assert after.number > newest
