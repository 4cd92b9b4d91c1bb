"""Work that goes on after Slack got its ack: counted, so shutdown, the console and the tests can
wait for it instead of sleeping; and kept behind the acks, so it cannot starve them.

Two measures, both measured in `benchmarks/ack.py` (numbers in benchmarks/README.md):
- a bound on how many acked commands do their Stream and Slack work at once; unbounded, a burst
  floods the one event loop (and httpx's pool) and the next acks wait behind it;
- a short yield to acks still being answered: work waits to start, and waits again before each
  Stream or Slack call it makes, until no Slack request is between arrival and ack (at most
  `ACK_PRIORITY_WAIT` each time, so a steady stream of requests cannot starve it). Waiting costs
  nothing Slack can see: the ack has left already. Python's garbage collector is held off for as
  long as the gate is shut (`bot/util/collector.py`).

During a burst (`BURST_ARRIVALS` requests or accepted connections within `BURST_WINDOW`) the gate
also stays shut for `ACK_QUIET` after the last pending ack, and shuts as soon as a connection is
accepted (`bot/runtime/listen.py`), before its request is read: a burst does not arrive at once,
and work let through in its gaps was still running when the rest arrived (`python -m
benchmarks.replicas --part ack`: ack p99 1.3-1.4x the bare floor over keep-alive and on new
connections without the spell, 1.0-1.1x with it). Outside bursts there is no spell: a steady
trickle of commands would wait for it at every gate (with a spell always on, 6 moderators in
closed loops got half the commands/s).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.util import collector

ACK_PRIORITY_WAIT = collector.MAX_HOLD  # seconds post-ack work (and the collector) wait
ACK_QUIET = 0.02  # seconds with no ack pending, during a burst, before post-ack work goes on
BURST_ARRIVALS = 32  # requests or connections ...
BURST_WINDOW = 0.1  # ... within this many seconds: a burst (320/s; 50 busy moderators send ~120/s)


class InFlight:
    def __init__(
        self,
        limit: int,
        *,
        quiet: float = ACK_QUIET,
        burst: int = BURST_ARRIVALS,
        burst_window: float = BURST_WINDOW,
    ) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._quiet = quiet
        self._arrivals: deque[float] = deque(maxlen=burst)  # loop times of the latest
        self._burst_window = burst_window
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
        self._arrived()
        self._acks_pending += 1
        self._shut()
        try:
            yield
        finally:
            self._acks_pending -= 1
            if self._acks_pending == 0:
                if self._bursting():
                    self._reopen_later()
                else:
                    self._reopen()

    def connection_opened(self) -> None:
        """A connection was accepted (`bot/runtime/listen.py`); its request is on the way. During
        a burst the gate shuts now (for the quiet spell, or until that request has its ack)."""
        self._arrived()
        if self._bursting() and not self._acks_pending:
            self._shut()
            self._reopen_later()

    def _arrived(self) -> None:
        self._arrivals.append(asyncio.get_running_loop().time())

    def _bursting(self) -> bool:
        arrivals = self._arrivals
        return (
            len(arrivals) == arrivals.maxlen
            and asyncio.get_running_loop().time() - arrivals[0] <= self._burst_window
        )

    def _shut(self) -> None:
        if self._reopening is not None:
            self._reopening.cancel()
            self._reopening = None
        if self._no_acks_pending.is_set():
            self._no_acks_pending.clear()
            collector.hold()
        else:
            collector.check()

    def _reopen_later(self) -> None:
        self._reopening = asyncio.get_running_loop().call_later(self._quiet, self._reopen)

    def _reopen(self) -> None:
        self._reopening = None
        if not self._no_acks_pending.is_set():
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
