"""Start-up rebuild: how long `BanBook.rehydrate` takes to page through N active bans in the
Stream emulator and rebuild every timer, beside bare paging of the same bans with the same client.

Run: `python -m benchmarks.rehydrate [--quick]`. Both sides read the same emulator, served in this
process on loopback, the same way; the ratio is what the ban book adds on top of the paging.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from benchmarks.report import Row, format_table, row
from bot.cases import CaseStore
from bot.local.emulator import Ban, StreamEmulator
from bot.moderation.bans.book import BanBook
from bot.moderation.history.book import CaseBook
from bot.slack.poster import SlackPoster
from bot.stream import StreamClient
from bot.util.clock import SystemClock

SIZE = 10_000
QUICK_SIZE = 500
GOAL_SECONDS = 5.0

NOTES = (
    f"Rehydration: BanBook.rehydrate over {SIZE:,} timed bans in the emulator (loopback, same "
    "process); baseline: StreamClient.iter_bans over the same bans."
)


def _plant(emulator: StreamEmulator, count: int, now: float) -> None:
    emulator.add_user("dashboard-admin")
    for n in range(count):
        user = f"user-{n:05d}"
        emulator.add_user(user)
        emulator.state.bans[user] = Ban(
            target=user,
            banned_by="dashboard-admin",
            reason=None,
            created_at=now - n,
            expires_at=now + 3600 * (1 + n % 48),
        )


async def _measure(count: int) -> tuple[float, float]:
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as folder:
        return await _measure_in(count, clock, folder)


async def _measure_in(count: int, clock: SystemClock, folder: str) -> tuple[float, float]:
    async with StreamEmulator(clock=clock) as emulator:
        _plant(emulator, count, clock.time())
        async with StreamClient(
            emulator.api_key, emulator.api_secret, emulator.base_url, clock=clock, deadline=60
        ) as stream:
            started = time.perf_counter()
            paged = [ban async for ban in stream.iter_bans(include_expired=True)]
            baseline = time.perf_counter() - started
            if len(paged) != count:
                raise RuntimeError(f"paged {len(paged)} of {count} bans")
            store = await CaseStore.open(f"sqlite+aiosqlite:///{folder}/cases.db", clock=clock)
            book = BanBook(
                stream=stream,
                cases=CaseBook(store, clock),
                poster=SlackPoster(_NoSlack()),  # type: ignore[arg-type]
                channel=None,
                clock=clock,
                bot_stream_user_id="callmod-bot",
            )
            started = time.perf_counter()
            await book.rehydrate()
            ours = time.perf_counter() - started
            if len(book.timers) != count:
                raise RuntimeError(f"rebuilt {len(book.timers)} of {count} timers")
            await book.stop()
            await store.close()
    return ours, baseline


class _NoSlack:
    """Rehydration posts nothing for bans still in force; any Slack call here is a bug."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"rehydration called Slack ({name})")


def run(quick: bool = False) -> list[Row]:
    count = QUICK_SIZE if quick else SIZE
    ours, baseline = asyncio.run(_measure(count))
    return [
        row(
            "rehydrate",
            count,
            ours * 1e3,
            baseline * 1e3,
            "ms",
            goal=f"≤ {GOAL_SECONDS:g} s" if not quick else None,
            met=ours <= GOAL_SECONDS if not quick else None,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rehydrate")
    parser.add_argument("--quick", action="store_true")
    rows = run(quick=parser.parse_args().quick)
    print(format_table(rows))


if __name__ == "__main__":
    main()
