"""Injectable time: the system clock in production, a manual clock in tests and the console."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Unix time in seconds."""

    async def sleep(self, seconds: float) -> None:
        """Wait until `seconds` of this clock's time have passed."""


class SystemClock:
    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told to.

    `sleep()` parks the caller until `advance()` moves time past its deadline. With
    `autoadvance=True`, `sleep()` instead moves time forward itself and returns at once, which
    suits code under test that only needs to *see* time pass (retry backoff).
    """

    def __init__(self, start: float = 1_800_000_000.0, *, autoadvance: bool = False) -> None:
        self._now = start
        self._autoadvance = autoadvance
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.slept: list[float] = []

    def time(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        if self._autoadvance:
            self._now += seconds
            self._wake_due()
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward and let every task whose sleep ended run until it blocks again."""
        await _settle()  # let tasks that are about to sleep register first
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            self._now = max(self._now, self._sleepers[0][0])
            self._wake_due()
            await _settle()
        self._now = target
        await _settle()

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)


async def _settle(rounds: int = 20) -> None:
    """Yield to the loop a few times so woken tasks run to their next await."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class OffsetClock:
    """Real time plus an offset that `advance()` moves forward: the console's clock, so a
    newcomer can jump 30 minutes ahead and watch a ban expire while everything else runs live."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._jumped = asyncio.Event()

    def time(self) -> float:
        return time.time() + self._offset

    async def sleep(self, seconds: float) -> None:
        deadline = self.time() + seconds
        while (left := deadline - self.time()) > 0:
            jumped = self._jumped
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(jumped.wait(), timeout=left)

    async def advance(self, seconds: float) -> None:
        self._offset += seconds
        jumped, self._jumped = self._jumped, asyncio.Event()
        jumped.set()
        await _settle()
