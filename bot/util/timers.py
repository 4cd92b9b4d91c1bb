"""A keyed, in-memory timer registry on an injectable clock.

One runner task sleeps until the earliest deadline in a heap. Entries are keyed (one live timer per
key); cancelled or replaced entries stay in the heap marked dead and are skipped when they reach
the top, and the heap is rebuilt when the dead outnumber the live. Expiry callbacks run as their own
tasks, bounded by a semaphore; a callback that raises is logged and retried with capped, jittered
exponential backoff unless the key was scheduled again or cancelled in the meantime.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bot.util.clock import Clock

T = TypeVar("T")

logger = logging.getLogger("callmod.timers")

# Rebuild the heap only once it holds this many more dead entries than live ones, so that small
# registries are not rebuilt on every cancel.
_COMPACT_SLACK = 64


@dataclass(slots=True)
class TimerEntry(Generic[T]):
    key: str
    deadline: float
    payload: T
    attempts: int = 0
    seq: int = field(default=0, repr=False, compare=False)
    # Set when the entry is cancelled or superseded by a newer schedule() of the same key; a dead
    # entry left in the heap is skipped, and a dead in-flight entry is not retried.
    cancelled: bool = field(default=False, repr=False, compare=False)


def backoff_delay(attempt: int, base: float, cap: float, jitter: float, rand: float) -> float:
    """Delay before retry number `attempt` (1-based): base * 2**(attempt-1), capped, then
    shortened by up to `jitter` (a fraction) using `rand` in [0, 1), so a retry never comes later
    than the nominal delay.
    """
    nominal = cap if attempt > 62 else min(cap, base * 2 ** (attempt - 1))
    return nominal * (1.0 - jitter * rand)


class TimerRegistry(Generic[T]):
    def __init__(
        self,
        clock: Clock,
        on_expire: Callable[[str, T], Awaitable[None]],
        *,
        retry_base: float = 5.0,
        retry_cap: float = 300.0,
        max_concurrent_fires: int = 16,
        on_failure: Callable[[str, T, BaseException, int], None] | None = None,
        jitter: float = 0.1,
    ) -> None:
        if retry_base <= 0 or retry_cap < retry_base:
            raise ValueError("need 0 < retry_base <= retry_cap")
        if max_concurrent_fires < 1:
            raise ValueError("max_concurrent_fires must be at least 1")
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        self._clock = clock
        self._on_expire = on_expire
        self._on_failure = on_failure
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._jitter = jitter
        self._max_concurrent_fires = max_concurrent_fires

        self._entries: dict[str, TimerEntry[T]] = {}
        self._heap: list[tuple[float, int, TimerEntry[T]]] = []
        self._seq = itertools.count()

        self._in_flight: dict[str, TimerEntry[T]] = {}
        self._fires: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None

        self._runner: asyncio.Task[None] | None = None
        # Resolved to wake the parked runner when a deadline earlier than the one it sleeps
        # towards is scheduled.
        self._wake: asyncio.Future[None] | None = None
        self._parked_until = math.inf

    # -- queries ---------------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> TimerEntry[T] | None:
        return self._entries.get(key)

    def pending(self) -> list[TimerEntry[T]]:
        return sorted(self._entries.values(), key=lambda e: (e.deadline, e.seq))

    def next_deadline(self) -> float | None:
        head = self._head()
        return None if head is None else head.deadline

    @property
    def heap_size(self) -> int:
        """Live plus not-yet-discarded dead heap entries (for tests and metrics)."""
        return len(self._heap)

    @property
    def in_flight(self) -> int:
        return len(self._fires)

    # -- mutations -------------------------------------------------------------------------------

    def schedule(self, key: str, deadline: float, payload: T) -> None:
        if not math.isfinite(deadline):
            raise ValueError(f"deadline must be finite, got {deadline!r}")
        self._push(TimerEntry(key, float(deadline), payload))

    def cancel(self, key: str) -> bool:
        flying = self._in_flight.get(key)
        if flying is not None:
            flying.cancelled = True  # a failing fire of this key must not come back as a retry
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        entry.cancelled = True
        self._maybe_compact()
        return True

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._runner is not None and not self._runner.done():
            return
        self._runner = asyncio.get_running_loop().create_task(
            self._run(), name="callmod-timer-runner"
        )
        self._runner.add_done_callback(_log_runner_exit)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            # asyncio.wait never raises the task's outcome, so a cancellation of stop() itself
            # still propagates instead of being mistaken for the runner's.
            await asyncio.wait({runner})
        await self._wait_fires()

    def halt(self) -> None:
        """Stop at once, as a crash would: the runner and every running expiry callback are
        cancelled, and nothing is awaited (the replica tests' hard stop)."""
        runner, self._runner = self._runner, None
        for task in [*([runner] if runner is not None else []), *self._fires]:
            task.cancel()

    async def wait_idle(self) -> None:
        """Wait until no expiry callback is running and none is due but not yet started."""
        while True:
            if self._fires:
                await self._wait_fires()
            elif self._runner_has_due_work():
                await asyncio.sleep(0)
            else:
                return

    # -- internals -------------------------------------------------------------------------------

    def _push(self, entry: TimerEntry[T]) -> None:
        key = entry.key
        flying = self._in_flight.get(key)
        if flying is not None:
            flying.cancelled = True  # the newer state wins over a retry of the in-flight fire
        entry.seq = next(self._seq)
        old = self._entries.get(key)
        self._entries[key] = entry
        heapq.heappush(self._heap, (entry.deadline, entry.seq, entry))
        if old is not None:
            old.cancelled = True
            self._maybe_compact()
        wake = self._wake
        if wake is not None and not wake.done() and entry.deadline < self._parked_until:
            wake.set_result(None)

    def _head(self) -> TimerEntry[T] | None:
        heap = self._heap
        while heap:
            entry = heap[0][2]
            if not entry.cancelled:
                return entry
            heapq.heappop(heap)
        return None

    def _maybe_compact(self) -> None:
        if len(self._heap) > 2 * len(self._entries) + _COMPACT_SLACK:
            self._heap = [(e.deadline, e.seq, e) for e in self._entries.values()]
            heapq.heapify(self._heap)

    def _runner_has_due_work(self) -> bool:
        if self._runner is None or self._runner.done():
            return False
        head = self._head()
        return head is not None and head.deadline <= self._clock.time()

    async def _wait_fires(self) -> None:
        while self._fires:
            await asyncio.wait(set(self._fires))

    async def _run(self) -> None:
        slots = self._slots = asyncio.Semaphore(self._max_concurrent_fires)
        while True:
            head = self._head()
            now = self._clock.time()
            if head is None:
                await self._park(math.inf, now)
                continue
            if head.deadline > now:
                await self._park(head.deadline, now)
                continue
            await slots.acquire()
            # Waiting for a free slot may have let the head be cancelled or replaced.
            head = self._head()
            if head is None or head.deadline > self._clock.time():
                slots.release()
                continue
            self._launch(head, slots)

    async def _park(self, until: float, now: float) -> None:
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wake = wake
        self._parked_until = until
        try:
            if math.isinf(until):
                await wake
                return
            sleeper = asyncio.ensure_future(self._clock.sleep(until - now))
            try:
                await asyncio.wait((sleeper, wake), return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
            if sleeper.done():
                sleeper.result()  # a clock that fails must stop the runner, not make it spin
        finally:
            self._wake = None
            self._parked_until = math.inf

    def _launch(self, entry: TimerEntry[T], slots: asyncio.Semaphore) -> None:
        heapq.heappop(self._heap)
        del self._entries[entry.key]
        self._in_flight[entry.key] = entry
        task = asyncio.get_running_loop().create_task(
            self._fire(entry), name=f"callmod-timer-fire:{entry.key}"
        )
        self._fires.add(task)

        # Cleanup lives in a done-callback, not a finally, so it also runs for a fire task that
        # is cancelled before its first step.
        def done(finished: asyncio.Task[None]) -> None:
            self._fires.discard(finished)
            slots.release()
            if self._in_flight.get(entry.key) is entry:
                del self._in_flight[entry.key]
            if finished.cancelled():
                logger.warning("timer %s: expiry callback cancelled; not retried", entry.key)
            elif (exc := finished.exception()) is not None:
                logger.error("timer %s: failure handling crashed", entry.key, exc_info=exc)

        task.add_done_callback(done)

    async def _fire(self, entry: TimerEntry[T]) -> None:
        try:
            await self._on_expire(entry.key, entry.payload)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this fire itself is being cancelled (shutdown); the done-callback logs it
            self._after_failure(entry, exc)  # a cancellation leaking out of the callback
        except Exception as exc:
            self._after_failure(entry, exc)

    def _after_failure(self, entry: TimerEntry[T], exc: BaseException) -> None:
        attempt = entry.attempts + 1
        if self._on_failure is not None:
            try:
                self._on_failure(entry.key, entry.payload, exc, attempt)
            except Exception:
                logger.exception("timer %s: on_failure hook raised", entry.key)
        if entry.cancelled:
            logger.error(
                "timer %s: expiry failed (attempt %d); not retried, the key was rescheduled or "
                "cancelled meanwhile",
                entry.key,
                attempt,
                exc_info=exc,
            )
            return
        delay = backoff_delay(
            attempt, self._retry_base, self._retry_cap, self._jitter, random.random()
        )
        logger.error(
            "timer %s: expiry failed (attempt %d); retrying in %.1fs",
            entry.key,
            attempt,
            delay,
            exc_info=exc,
        )
        self._push(TimerEntry(entry.key, self._clock.time() + delay, entry.payload, attempt))


def _log_runner_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("timer runner stopped unexpectedly; timers will not fire", exc_info=exc)
