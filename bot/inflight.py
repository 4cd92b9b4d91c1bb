"""Work that goes on after Slack got its ack: counted, so shutdown, the console and the tests can
wait for it instead of sleeping; and bounded, so it cannot starve the acks.

Unbounded, a burst of commands floods the one event loop (and httpx's connection pool) with Stream
and Slack calls, and the next acks wait behind them (benchmarks/README.md has the numbers). Work
beyond the limit queues in `slot()`, which costs nothing Slack can see: the ack has left already.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

POST_ACK_LIMIT = 4  # default of MOD_MAX_CONCURRENT_ACTIONS; benchmarks/README.md has the why


class InFlight:
    def __init__(self, limit: int = POST_ACK_LIMIT) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            yield

    async def wait_idle(self) -> None:
        await self._idle.wait()
