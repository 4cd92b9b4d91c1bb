"""Three replicas behind the round-robin proxy, on one real Redis and, when
CALLMOD_TEST_POSTGRES_URL names a server, one real PostgreSQL (a shared SQLite file otherwise).

`replica_set` runs the tests on Redis (skipped locally without CALLMOD_TEST_REDIS_URL, failed
under CI=true) and on one in-process state shared by the three, which checks the same logic
without a server.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from bot.local.replicas import ReplicaSet
from bot.shared import InProcessState, SharedState
from bot.shared.redis_state import RedisState
from bot.util.clock import ManualClock
from tests.cases.conftest import POSTGRES_ENV, fresh_postgres_database
from tests.shared.redis_server import redis_prefix

LEASE = 30.0


@asynccontextmanager
async def replica_set(
    backend: str, clock: ManualClock, *, count: int = 3, **settings: Any
) -> AsyncIterator[ReplicaSet]:
    async with AsyncExitStack() as exits:
        if backend == "redis":
            url, prefix = await exits.enter_async_context(redis_prefix())

            def shared(_: str) -> SharedState:
                return RedisState.from_url(url, clock, prefix=prefix)

        else:
            one = InProcessState(clock)

            def shared(_: str) -> SharedState:
                return one

        if os.environ.get(POSTGRES_ENV, "").strip() or (backend == "redis" and _ci()):
            settings["database_url"] = await exits.enter_async_context(fresh_postgres_database())
        replicas = ReplicaSet(
            clock=clock, shared=shared, count=count, mod_lease_seconds=LEASE, **settings
        )
        await replicas.start()
        try:
            await replicas.idle()
            yield replicas
        finally:
            await replicas.stop()


def _ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"
