"""Each server of a benchmark runs in its own interpreter (spawn), as DESIGN.md §7 asks: a load
generator sharing a server's event loop starves its accept loop and measures itself.

The parent talks to a child over a pipe: the child sends one `ready` message with its addresses,
then answers requests (`idle`, `reset`, ..., `stop`) one at a time.

CPU placement: with two or more CPUs the server under test gets one CPU to itself and everything
else (load generator, Stream emulator, fake Slack) shares the rest, so both sides of a comparison
run on the same dedicated core and callmod is not charged for the emulator's CPU time — in
production Stream and Slack run elsewhere. For the same reason the backend process runs niced
(`benchmarks/backend.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from bot.runtime.heap import settle

Info = dict[str, Any]

START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


class Service(Protocol):
    async def start(self) -> Info: ...

    async def handle(self, command: str, args: Info) -> Info: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Placement:
    server: frozenset[int] | None  # CPUs of the server under test
    others: frozenset[int] | None  # CPUs of the load generator and the backends

    def describe(self) -> str:
        if self.server is None or self.others is None:
            return "not pinned (fewer than 2 CPUs available)"
        return (
            f"server under test pinned to CPU {sorted(self.server)}; load generator, emulator "
            f"and fake Slack on CPU {sorted(self.others)}"
        )


def placement() -> Placement:
    if not hasattr(os, "sched_getaffinity"):
        return Placement(None, None)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return Placement(None, None)
    return Placement(frozenset(cpus[:1]), frozenset(cpus[1:]))


def pin(cpus: frozenset[int] | None) -> None:
    if cpus is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)


@contextlib.contextmanager
def pinned(cpus: frozenset[int] | None) -> Iterator[None]:
    """Pin this process (the load generator) for the duration, then put it back."""
    if cpus is None or not hasattr(os, "sched_getaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


class ChildError(RuntimeError):
    pass


class Child:
    """A service running in its own process; `await child.start()` returns its ready info."""

    def __init__(self, name: str, target: Callable[..., None], *args: object) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._child_end: Connection | None = child_end
        self._process = context.Process(
            target=target, args=(child_end, *args), name=name, daemon=True
        )
        self.name = name
        self.info: Info = {}

    async def start(self) -> Info:
        self._process.start()
        if self._child_end is not None:
            self._child_end.close()
            self._child_end = None
        self.info = await self._receive(START_TIMEOUT)
        return self.info

    async def request(self, command: str, **args: object) -> Info:
        self._conn.send((command, args))
        return await self._receive(REQUEST_TIMEOUT)

    async def stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(ChildError, OSError, EOFError):
                await self.request("stop")
        await asyncio.to_thread(self._process.join, STOP_TIMEOUT)
        if self._process.is_alive():
            self._process.terminate()
            await asyncio.to_thread(self._process.join, 5.0)
        self._conn.close()

    async def _receive(self, within: float) -> Info:
        ready = await asyncio.to_thread(self._conn.poll, within)
        if not ready:
            raise ChildError(f"{self.name}: no answer within {within:g} s")
        try:
            kind, payload = self._conn.recv()
        except EOFError:
            raise ChildError(f"{self.name}: the process ended without answering") from None
        if kind == "error":
            raise ChildError(f"{self.name}: {payload.get('error')}")
        return dict(payload)

    async def __aenter__(self) -> Child:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


# -- the child side -----


def run_child(conn: Connection, service: Service, cpus: frozenset[int] | None) -> None:
    """A child process's whole life: pin, start the service, answer requests until `stop`."""
    pin(cpus)
    asyncio.run(_serve(conn, service))


async def _serve(conn: Connection, service: Service) -> None:
    try:
        info = await service.start()
    except Exception as error:
        conn.send(("error", {"error": f"start-up failed: {error!r}"}))
        raise
    settle()  # as `python -m bot serve` does once started (bot/runtime/heap.py)
    conn.send(("ready", info))
    parent_waiting = False
    try:
        while True:
            try:
                command, args = await asyncio.to_thread(conn.recv)
            except EOFError:  # the parent went away
                return
            if command == "stop":
                parent_waiting = True
                return
            try:
                answer = await service.handle(command, args)
            except Exception as error:
                conn.send(("error", {"error": f"{command} failed: {error!r}"}))
            else:
                conn.send(("ok", answer))
    finally:
        await service.stop()
        if parent_waiting:
            conn.send(("ok", {}))
