"""Threads that each own a connection and run functions on it for the event loop.

`ThreadPoolExecutor` + `run_in_executor` cost ~115 µs of CPU per round trip on the benchmark
machine; a plain queue and `call_soon_threadsafe` ~50 µs. The case store makes two or three
round trips per command, on the core the whole server shares, so the difference shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

C = TypeVar("C")  # a connection
T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[Any], Any]]


class ConnectionThreads(Generic[C]):
    """`count` threads taking jobs from one queue. Each opens its connection (`connect()`) at its
    first job, and again at the next job if that failed; `close(connection)` ends it when the
    threads stop. Started at the first `run`; `stop` ends them, and a later `run` starts anew."""

    def __init__(
        self,
        name: str,
        count: int,
        connect: Callable[[], C],
        close: Callable[[C], None],
    ) -> None:
        self._name = name
        self._count = count
        self._connect = connect
        self._close = close
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    async def run(self, work: Callable[[C], T]) -> T:
        """`work(connection)` on one of the threads; its result or its exception."""
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, work))
        return await future

    async def stop(self) -> None:
        """Let the threads finish the jobs already queued, close their connections, end."""
        threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            await asyncio.to_thread(thread.join)

    def _start(self) -> None:
        self._jobs = queue.SimpleQueue()  # a fresh queue: stopped threads may still be draining
        self._threads = [
            threading.Thread(
                target=self._serve, args=(self._jobs,), name=f"{self._name}-{i}", daemon=True
            )
            for i in range(self._count)
        ]
        for thread in self._threads:
            thread.start()

    def _serve(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        connection: C | None = None
        try:
            while (job := jobs.get()) is not None:
                loop, future, work = job
                try:
                    if connection is None:
                        connection = self._connect()
                    result, failed = work(connection), False
                except BaseException as exc:  # handed to the caller, in its task
                    result, failed = exc, True
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                    loop.call_soon_threadsafe(_settle, future, result, failed)
        finally:
            if connection is not None:
                self._close(connection)


def _settle(future: asyncio.Future[Any], result: Any, failed: bool) -> None:
    if future.done():  # its caller was cancelled
        return
    if failed:
        future.set_exception(result)
    else:
        future.set_result(result)
