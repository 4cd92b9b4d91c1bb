"""The load generator's side: slash commands signed as Slack signs them, sent over one persistent
aiohttp connection pool, and the response_url arrivals pushed back by the backend process.

Connections: both sides of every comparison are driven through a persistent pool (keep-alive,
no per-host limit), opened during the warm-up, so the measured requests reuse open connections
and neither side pays for TCP set-up.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import multiprocessing
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from urllib.parse import urlencode

import aiohttp

from benchmarks import backend, servers
from benchmarks.backend import Arrival
from benchmarks.procs import Child
from benchmarks.servers import ADMIN_ID, ADMIN_NAME, ServerConfig

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Signed:
    body: bytes
    headers: dict[str, str]


def slash(
    command: str,
    text: str,
    *,
    response_url: str,
    signing_secret: str,
    user_id: str = ADMIN_ID,
    trigger_id: str | None = None,
) -> Signed:
    """A slash-command POST with the fields Slack sends, signed `v0` with the current time
    (`trigger_id`: one the fake Slack was told of, for views.open)."""
    fields = {
        "token": "legacy-verification-token",
        "team_id": "T0CALLMOD",
        "team_domain": "callmod-bench",
        "channel_id": "C0MODS",
        "channel_name": "mods",
        "user_id": user_id,
        "user_name": ADMIN_NAME,
        "command": command,
        "text": text,
        "api_app_id": "A0CALLMOD",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or f"1.{int(time.time())}.{secrets.token_hex(16)}",
    }
    body = urlencode(fields)
    timestamp = str(int(time.time()))
    digest = hmac.new(
        signing_secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    return Signed(body.encode(), headers)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The load generator's cyclic garbage collector kept out of the measured requests, as
    `timeit` keeps it out of its loops: a full collection of this process's heap takes 50-110 ms
    on the benchmark machine and was charged to whichever server was being measured (it set the
    p99 of a side in most runs)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@asynccontextmanager
async def pool() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=300)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


async def post(session: aiohttp.ClientSession, url: str, request: Signed) -> int:
    async with session.post(url, data=request.body, headers=request.headers) as response:
        await response.read()
        return response.status


class Arrivals:
    """response_url posts as the backend reports them; `await arrivals.wait(key)`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._seen: dict[str, Arrival] = {}
        self._waiting: dict[str, asyncio.Future[Arrival]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._conn.fileno(), self._drain)

    def detach(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._conn.fileno())
            self._loop = None

    async def wait(self, key: str) -> Arrival:
        if key in self._seen:
            return self._seen.pop(key)
        future: asyncio.Future[Arrival] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            return await future
        finally:
            self._waiting.pop(key, None)

    def _drain(self) -> None:
        while self._conn.poll():
            arrival: Arrival = self._conn.recv()
            future = self._waiting.get(arrival.key)
            if future is not None and not future.done():
                future.set_result(arrival)
            else:
                self._seen[arrival.key] = arrival


def backend_child(targets: int, cpus: frozenset[int] | None) -> tuple[Child, Arrivals]:
    """The emulator + fake Slack process (not started yet) and its response_url arrival feed."""
    reader, writer = multiprocessing.get_context("spawn").Pipe(duplex=False)
    return Child("backend", backend.main, targets, writer, cpus), Arrivals(reader)


def server_child(config: ServerConfig, cpus: frozenset[int] | None) -> Child:
    return Child(config.kind, servers.main, config, cpus)
