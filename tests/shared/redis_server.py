"""Where the tests find Redis: CALLMOD_TEST_REDIS_URL (.ci/run starts a throwaway server).

Without it the Redis tests skip, except under CI=true, where they fail: CI must never pass by
quietly testing only the in-process state. Each test gets its own key prefix on the server and
removes its keys afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from bot.shared.redis_state import RedisState
from bot.util.clock import Clock

REDIS_ENV = "CALLMOD_TEST_REDIS_URL"


def redis_url() -> str:
    """The test server's URL, or skip / fail as the module docstring says."""
    url = os.environ.get(REDIS_ENV, "").strip()
    if url:
        return url
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(
            f"CI=true but {REDIS_ENV} is not set: shared state must be tested on Redis "
            "(.ci/run starts a throwaway server)",
            pytrace=False,
        )
    pytest.skip(f"Redis not tested: set {REDIS_ENV}=redis://127.0.0.1:6379/0")


@asynccontextmanager
async def redis_prefix() -> AsyncIterator[tuple[str, str]]:
    """(url, a fresh key prefix); the prefix's keys are deleted on exit."""
    url = redis_url()
    prefix = f"callmod-test:{secrets.token_hex(6)}:"
    client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        pytest.fail(f"{REDIS_ENV} is unusable: {type(error).__name__}: {error}", pytrace=False)
    try:
        yield url, prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@asynccontextmanager
async def redis_state(clock: Clock) -> AsyncIterator[RedisState]:
    async with redis_prefix() as (url, prefix):
        state = RedisState.from_url(url, clock, prefix=prefix)
        try:
            yield state
        finally:
            await state.close()
