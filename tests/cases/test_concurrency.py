"""Case numbers under concurrency: many engines, many tasks, several processes — every number is
given once, and later cases always get larger numbers."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.cases import Actor, CaseStore, Kind, NewCase, Outcome, Source
from bot.util.clock import ManualClock

REPO = Path(__file__).resolve().parents[2]
ENGINES = 4
INSERTS = 200


def kick(i: int) -> NewCase:
    return NewCase(
        kind=Kind.KICK,
        source=Source.SLACK,
        outcome=Outcome.DONE,
        request_id=f"r{i}",
        moderator=Actor("U1", "m"),
        target_user_id=f"user{i % 7}",
    )


async def test_200_concurrent_inserts_from_several_engines_get_distinct_numbers(
    database_url: str, clock: ManualClock
) -> None:
    stores = [await CaseStore.open(database_url, clock=clock) for _ in range(ENGINES)]
    try:
        before = (await stores[0].record(kick(-1))).number
        cases = await asyncio.gather(*(stores[i % ENGINES].record(kick(i)) for i in range(INSERTS)))
        after = (await stores[-1].record(kick(-2))).number
    finally:
        for store in stores:
            await store.close()

    numbers = [case.number for case in cases]
    assert len(set(numbers)) == INSERTS
    assert before < min(numbers) and max(numbers) < after
    async with await CaseStore.open(database_url, clock=clock) as store:
        stored = {
            case.number
            for user in range(7)
            for case in (await store.history_for_user(f"user{user}", limit=200)).cases
        }
    assert stored == {before, after, *numbers}


async def test_writers_in_separate_processes_never_share_a_number(database_url: str) -> None:
    per_task, tasks, processes = 10, 2, 2
    await (await CaseStore.open(database_url, clock=ManualClock())).close()  # migrate once
    writers = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tests.cases.burst_writer"),
            *(database_url, str(per_task), str(tasks)),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    outputs = await asyncio.gather(*(writer.communicate() for writer in writers))
    assert [writer.returncode for writer in writers] == [0] * processes

    printed = [
        [tuple(map(int, line.split())) for line in out.decode().splitlines()] for out, _ in outputs
    ]
    numbers = [number for lines in printed for _, number in lines]
    assert len(numbers) == len(set(numbers)) == per_task * tasks * processes
    for lines in printed:  # one task's cases, one after the other, get growing numbers
        for task in range(tasks):
            mine = [number for who, number in lines if who == task]
            assert mine == sorted(mine) and len(mine) == per_task
