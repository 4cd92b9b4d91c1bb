"""Group commit: the writes every command makes (record, settle, link) are committed together
with whatever else is waiting — from all the commands in flight — in one transaction, and each
caller is answered. A batch is all or nothing; if one of its writes fails, the batch is rolled
back and each write runs again in a transaction of its own, so only the bad one fails.

Two kinds of write:
- `submit`: committed now, with everything waiting. With a backend that can commit without
  waiting (`now`: SQLite on the event loop's own connection, `sqlite_io.py`) and nothing under
  way, that happens inside the caller's step; otherwise the writer task commits the queue, one
  batch at a time (holding `lock`, the store's SQLite writer lock, around each).
- `later`: may wait up to `WRITE_BEHIND` for company — the next `submit` or the timer — so a
  command's settle and audit-line link ride in the next command's transaction instead of two of
  their own. The returned future says how it went; `flush` (the store runs it before every read
  and write of its own) commits everything waiting first, so the store's readers always see it.

Why commit inside the caller's step: handing a write to a task and back costs two turns of the
event loop, and a command holds one of the few post-ack slots (`bot/util/inflight.py`) through
its writes; on a busy loop a turn is milliseconds, and those slots bound the commands per second.
"""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from typing import Final

from bot.cases.writes import Batch, BatchNow, Result, Row, Write

MAX_BATCH: Final = 256
# How long a `later` write may wait for company. Also what a crash (kill -9) may lose of such
# writes: a case settled but still saying "may have been applied", an audit line not linked.
WRITE_BEHIND: Final = 0.02

_Item = tuple[Write, "asyncio.Future[Row | None]"]


class GroupWriter:
    def __init__(
        self, batch: Batch, lock: asyncio.Lock | None = None, now: BatchNow | None = None
    ) -> None:
        self._batch = batch
        self._lock = lock
        self._now = now
        self._pending: list[_Item] = []  # to commit as soon as possible
        self._behind: list[_Item] = []  # `later`: waiting for company
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, write: Write) -> Row | None:
        """Commit `write` with everything waiting; its first row, or its own failure."""
        future = self._queue(self._pending, write)
        self._go()
        return await future  # already settled when it went at once: no turn of the loop

    def later(self, write: Write) -> asyncio.Future[Row | None]:
        """Commit `write` with the next `submit`, or within `WRITE_BEHIND` seconds."""
        future = self._queue(self._behind, write)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(WRITE_BEHIND, self._go)
        return future

    async def flush(self) -> None:
        """Commit everything submitted or waiting so far (or see it fail)."""
        if self._behind or self._pending:
            self._go()
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        await self.flush()

    @staticmethod
    def _queue(into: list[_Item], write: Write) -> asyncio.Future[Row | None]:
        future: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        into.append((write, future))
        return future

    def _go(self) -> None:
        """Commit the waiting writes: at once if the backend can and nothing is under way, else
        through the writer task."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending[:0] = self._behind  # the older writes first
        self._behind.clear()
        if self._now is not None and self._free():
            taken = self._take()
            try:
                results = self._now([write for write, _ in taken])
            except Exception as exc:  # a bug in the backend; its callers hear of it
                results = [exc] * len(taken)
            if results is not None:
                _answer(taken, results)
                if not self._pending:
                    return
            else:  # the database is locked: the writer task waits for it
                self._pending[:0] = taken
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run(), name="callmod-case-writer")

    def _free(self) -> bool:
        return (self._task is None or self._task.done()) and not (
            self._lock is not None and self._lock.locked()
        )

    def _take(self) -> list[_Item]:
        taken = self._pending[:MAX_BATCH]
        del self._pending[:MAX_BATCH]
        return taken

    async def _run(self) -> None:
        while self._pending:
            taken: list[_Item] = []
            try:
                async with self._lock if self._lock is not None else nullcontext():
                    taken = self._take()  # once the lock is ours: what queued meanwhile joins
                    results = await self._batch([write for write, _ in taken])
            except Exception as exc:  # a bug in a backend; its callers hear of it
                results = [exc] * len(taken)
            _answer(taken, results)


def _answer(taken: list[_Item], results: list[Result]) -> None:
    for (_, future), result in zip(taken, results, strict=True):
        if future.done():  # its caller gave up waiting; the write stands
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
