"""A case store writer for the crash and multi-process tests (not a test module).

    python -m tests.cases.burst_writer URL [COUNT] [TASKS]

Each of TASKS concurrent tasks loops: record a ban with reason "orig-…", link its notification
message, amend the reason to "amended-<number>", void every third case — four transactions — and
then prints "<task> <case number>". COUNT cases per task (0: until killed).
"""

from __future__ import annotations

import asyncio
import sys

from bot.cases import Actor, CaseStore, Kind, MessagePurpose, NewCase, Outcome, Source
from bot.util.clock import SystemClock

MODERATOR = Actor("U0WRITER1", "writer")


def message_ts(number: int) -> str:
    return f"{number}.000100"


async def write(url: str, count: int, tasks: int) -> None:
    store = await CaseStore.open(url, clock=SystemClock())

    async def worker(task: int) -> None:
        done = 0
        while count == 0 or done < count:
            case = await store.record(
                NewCase(
                    kind=Kind.BAN,
                    source=Source.SLACK,
                    outcome=Outcome.DONE,
                    request_id=f"w{task}-{done}",
                    moderator=MODERATOR,
                    target_user_id=f"user{task}",
                    reason=f"orig-{task}-{done}",
                )
            )
            await store.link_message(
                case.number, "C0LOG", message_ts(case.number), MessagePurpose.NOTIFICATION
            )
            await store.amend_reason(case.number, MODERATOR, f"amended-{case.number}")
            if case.number % 3 == 0:
                await store.void(case.number, MODERATOR, f"void-{case.number}")
            print(task, case.number, flush=True)
            done += 1

    try:
        await asyncio.gather(*(worker(task) for task in range(tasks)))
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(
        write(
            sys.argv[1],
            int(sys.argv[2]) if len(sys.argv) > 2 else 0,
            int(sys.argv[3]) if len(sys.argv) > 3 else 4,
        )
    )
