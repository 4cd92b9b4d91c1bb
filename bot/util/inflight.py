"""Work that goes on after Slack got its ack: counted, so shutdown, the console and the tests can
wait for it instead of sleeping; and kept behind the acks, so it cannot starve them.

Two measures, both measured in `benchmarks/ack.py` (numbers in benchmarks/README.md):
- a bound on how many acked commands do their Stream and Slack work at once; unbounded, a burst
  floods the one event loop (and httpx's pool) and the next acks wait behind it;
- a short yield to acks still being answered: work waits to start, and waits again before each
  Stream or Slack call it makes, until no Slack request has been between arrival and ack for
  `ACK_QUIET` (at most `ACK_PRIORITY_WAIT` each time, so a steady stream of requests cannot
  starve it). Waiting costs nothing Slack can see: the ack has left already. The quiet spell
  matters because a burst does not arrive at once: between its first acks and its last requests
  there are moments with no ack pending, and work let through then is still running when the
  rest arrives. A connection being accepted shuts the gate too, before its request is read.
  Python's garbage collector is held off for as long as the gate is shut
  (`bot/util/collector.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.util import collector

ACK_PRIORITY_WAIT = 0.5  # seconds post-ack work yields to pending acks, at most
ACK_QUIET = 0.02  # seconds with no ack pending before post-ack work goes on


class InFlight:
    def __init__(self, limit: int, *, quiet: float = ACK_QUIET) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._quiet = quiet
        self._reopening: asyncio.TimerHandle | None = None
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._acks_pending = 0
        self._no_acks_pending = asyncio.Event()
        self._no_acks_pending.set()

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
    async def awaiting_ack(self) -> AsyncIterator[None]:
        """Around a Slack request from arrival until its HTTP answer is ready."""
        self._acks_pending += 1
        if self._no_acks_pending.is_set():  # the first of a burst: close the gate
            self._no_acks_pending.clear()
            collector.hold()
        else:
            collector.check()
        if self._reopening is not None:
            self._reopening.cancel()
            self._reopening = None
        try:
            yield
        finally:
            self._acks_pending -= 1
            if self._acks_pending == 0:
                loop = asyncio.get_running_loop()
                self._reopening = loop.call_later(self._quiet, self._reopen)

    def connection_opened(self) -> None:
        """A connection was accepted (`bot/runtime/listen.py`): its request is on the way, so the
        gate shuts now (for the quiet spell, or until that request has its ack)."""
        if self._no_acks_pending.is_set():
            self._no_acks_pending.clear()
            collector.hold()
        else:
            collector.check()
        if self._acks_pending:
            return  # shut already; it reopens after the last pending ack
        if self._reopening is not None:
            self._reopening.cancel()
        self._reopening = asyncio.get_running_loop().call_later(self._quiet, self._reopen)

    def _reopen(self) -> None:
        self._reopening = None
        self._no_acks_pending.set()
        collector.release()

    async def yield_to_acks(self) -> None:
        """Let Slack requests that are waiting for their ack go first (bounded wait)."""
        if not self._no_acks_pending.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_acks_pending.wait(), ACK_PRIORITY_WAIT)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Where post-ack work runs: after pending acks (bounded wait), within the limit."""
        await self.yield_to_acks()
        async with self._slots:
            yield

    async def wait_idle(self) -> None:
        await self._idle.wait()
