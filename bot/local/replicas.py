"""Several callmod replicas behind one round-robin proxy, on loopback (issue 16).

The replicas share one Stream emulator, one fake Slack, one case store (PostgreSQL when a URL
is given, a shared SQLite file otherwise) and one shared state (Redis, or one in-process state
they all use), and run on one clock. Slack's requests and Stream's webhooks reach them through
`RoundRobinProxy`, each request to the next live replica, as a load balancer would; a replica
that refuses the connection is skipped. `kill` stops a replica as `kill -9` would (nothing it
held is given back), `restart` replaces one as a deploy does. The replica tests and
`make ha-demo` run on this.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.cases import CaseStore
from bot.local.slack_driver import SlackDriver
from bot.local.stack import LocalStack
from bot.runtime.callmod import Callmod
from bot.runtime.channels import resolve_channels
from bot.shared import SharedState
from bot.util.clock import Clock

_HOP_HEADERS = frozenset(
    ("host", "content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive")
)


class RoundRobinProxy:
    """Forwards each request to the next live backend; counts where each one went."""

    def __init__(self) -> None:
        self.backends: list[str] = []
        self.down: set[int] = set()
        self.sent: list[int] = []  # the backend index of every forwarded request
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application(client_max_size=8 << 20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._session = aiohttp.ClientSession(auto_decompress=False)
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()  # inflated by aiohttp when gzipped: sent on as it is
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        for _ in range(len(self.backends)):
            index = next(self._turn) % len(self.backends)
            if index in self.down:
                continue
            url = self.backends[index] + request.path_qs
            try:
                async with self._session.request(
                    request.method, url, headers=headers, data=body
                ) as answer:
                    payload = await answer.read()
                    kept = {
                        k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS
                    }
                    kept.pop("Date", None)
                    kept.pop("Server", None)
                    self.sent.append(index)
                    return web.Response(status=answer.status, body=payload, headers=kept)
            except aiohttp.ClientConnectionError:
                self.down.add(index)
        return web.json_response({"error": "no replica answered"}, status=502)


class ReplicaSet(LocalStack):
    """`count` replicas of callmod on one emulator, fake Slack, case store and shared state.

    `shared` makes each replica's shared state: a new Redis client per replica (as separate
    processes have), or the same in-process state for all."""

    def __init__(
        self,
        *,
        clock: Clock,
        shared: Callable[[str], SharedState],
        count: int = 3,
        **settings: Any,
    ) -> None:
        super().__init__(clock=clock, **settings)
        self.count = count
        self._shared_for = shared
        self.proxy = RoundRobinProxy()
        self.replicas: list[Callmod] = []
        self._stores: list[CaseStore] = []
        self._generation = itertools.count(1)

    async def start_callmod(self) -> Callmod:
        if not self.proxy.base_url:
            await self.proxy.start()
        for index in range(self.count):
            callmod, store = await self._start_replica(f"replica-{index}")
            self.replicas.append(callmod)
            self._stores.append(store)
            self.proxy.backends.append(callmod.base_url)
        self.callmod, self.store = self.replicas[0], self._stores[0]
        self.emulator.webhook_url = f"{self.proxy.base_url}/stream/webhook"
        if self.driver is not None:
            await self.driver.close()
        self.driver = SlackDriver(
            f"{self.proxy.base_url}/slack/events", self.signing_secret, self.slack
        )
        return self.callmod

    async def _start_replica(self, name: str) -> tuple[Callmod, CaseStore]:
        settings = await resolve_channels(self.settings())
        store = await CaseStore.open(settings.database_url.get_secret_value(), clock=self.clock)
        callmod = Callmod(
            settings,
            clock=self.clock,
            store=store,
            stream_clock=self.stream_clock,
            shared=self._shared_for(name),
            replica=name,
        )
        await callmod.start("127.0.0.1", 0, rehydrate=self._rehydrate)
        return callmod, store

    def live(self) -> list[Callmod]:
        return [r for i, r in enumerate(self.replicas) if i not in self.proxy.down]

    def kill(self, index: int) -> None:
        """Stop replica `index` as `kill -9` would: the proxy routes around it and its work
        stops mid-way; its claims and leases stay in the shared state until they expire."""
        self.proxy.down.add(index)
        self.replicas[index].halt()

    async def restart(self, index: int) -> Callmod:
        """Replace replica `index` as a rolling deploy does: no new requests reach it, it
        finishes what it acked and stops, and a new one takes its place."""
        self.proxy.down.add(index)
        old, store = self.replicas[index], self._stores[index]
        await old.stop()
        await old.shared.close()
        await store.close()
        callmod, store = await self._start_replica(f"replica-{index}.{next(self._generation)}")
        self.replicas[index], self._stores[index] = callmod, store
        self.proxy.backends[index] = callmod.base_url
        self.proxy.down.discard(index)
        return callmod

    async def idle(self) -> None:
        for _ in range(3):
            await self.emulator.wait_webhooks_idle()
            for replica in self.live():
                await replica.idle()

    async def stop_callmod(self) -> None:
        for replica in self.replicas:
            await replica.stop()
            await replica.shared.close()
        for store in self._stores:
            await store.close()
        self.replicas, self._stores = [], []
        self.callmod = self.store = None
        await self.proxy.stop()
