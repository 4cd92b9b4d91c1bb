"""Shared state in Redis (`REDIS_URL`), for two or more replicas; the `redis` package's asyncio
client.

Deadlines are kept as times on the injected clock inside the values (compared in Lua scripts,
so each operation is one atomic round trip), and every key also gets a Redis expiry so that
nothing outlives its use. A schedule is a sorted set scored by the time its item is next free:
its due time, or the end of its owner's lease once taken, with hashes for payload, due time and
owner beside it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from bot.shared.state import Due, Entry, SharedStateError, SharedStats
from bot.util.clock import Clock

T = TypeVar("T")

DEFAULT_PREFIX = "callmod:"
OP_TIMEOUT = 2.0  # seconds a round trip may take before the state counts as unreachable
MAX_CONNECTIONS = 32  # per replica; more requests at once wait for a free one
_MIN_EXPIRY_MS = 1_000

_CLAIM = """
local v = redis.call('GET', KEYS[1])
if v then
  local sep = string.find(v, '\\n', 1, true)
  if sep and tonumber(string.sub(v, sep + 1)) > tonumber(ARGV[2]) then
    return string.sub(v, 1, sep - 1)
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '\\n' .. ARGV[3], 'PX', ARGV[4])
return false
"""

_RELEASE = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local sep = string.find(v, '\\n', 1, true)
if sep and string.sub(v, 1, sep - 1) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# KEYS: zset, due hash, payload hash, owner hash. ARGV: item, owner, now, until.
# Returns nil (absent or not due), 0 (someone else's live lease) or {payload, due, previous}.
_TAKE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return false end
local held = redis.call('HGET', KEYS[4], ARGV[1])
if held ~= ARGV[2] and tonumber(score) > tonumber(ARGV[3]) then
  if held then return 0 end
  return false
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
return {redis.call('HGET', KEYS[3], ARGV[1]) or '', redis.call('HGET', KEYS[2], ARGV[1]) or '0',
        held or ''}
"""

# KEYS as _TAKE. ARGV: owner, now, until, limit. Returns item, payload, due, previous, ...
_TAKE_DUE = """
local names = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[4])
local out = {}
for _, name in ipairs(names) do
  local held = redis.call('HGET', KEYS[4], name)
  redis.call('ZADD', KEYS[1], ARGV[3], name)
  redis.call('HSET', KEYS[4], name, ARGV[1])
  table.insert(out, name)
  table.insert(out, redis.call('HGET', KEYS[3], name) or '')
  table.insert(out, redis.call('HGET', KEYS[2], name) or '0')
  table.insert(out, held or '')
end
return out
"""

# KEYS as _TAKE. ARGV: item, owner.
_FINISH = """
local held = redis.call('HGET', KEYS[4], ARGV[1])
if held ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
"""


_ADD_IF_ABSENT = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1
"""


def _expiry_ms(seconds: float) -> int:
    return max(_MIN_EXPIRY_MS, math.ceil(seconds * 1000))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisState:
    kind = "redis"

    def __init__(
        self,
        client: aioredis.Redis,
        clock: Clock,
        *,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self._redis = client
        self._clock = clock
        self._prefix = prefix
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._take = client.register_script(_TAKE)
        self._take_due = client.register_script(_TAKE_DUE)
        self._finish = client.register_script(_FINISH)
        self.stats = SharedStats()

    @classmethod
    def from_url(cls, url: str, clock: Clock, *, prefix: str = DEFAULT_PREFIX) -> RedisState:
        # A burst (hundreds of webhooks at once) waits for one of the pool's connections
        # instead of failing: the default pool refuses work past its size at once.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=OP_TIMEOUT,
            socket_timeout=OP_TIMEOUT,
            socket_connect_timeout=OP_TIMEOUT,
            health_check_interval=30,
        )
        return cls(aioredis.Redis(connection_pool=pool), clock, prefix=prefix)

    # -- once, claims, counters -----------------------------------------------------------------

    async def remember_once(self, key: str, ttl: float) -> bool:
        return await self._claim_key(f"once:{key}", "seen", ttl) is None

    async def claim(self, key: str, owner: str, lease: float) -> str | None:
        held = await self._claim_key(f"claim:{key}", owner, lease)
        if held is not None:
            self.stats.claim_conflicts += 1
        return held

    async def holder(self, key: str) -> str | None:
        value = await self._call("holder", lambda: self._redis.get(self._key(f"claim:{key}")))
        if value is None:
            return None
        owner, _, until = _text(value).partition("\n")
        return owner if float(until or 0) > self._clock.time() else None

    async def release(self, key: str, owner: str) -> bool:
        released = await self._call(
            "release", lambda: self._release(keys=[self._key(f"claim:{key}")], args=[owner])
        )
        return bool(released)

    async def put(self, key: str, value: str, ttl: float) -> None:
        until = repr(self._clock.time() + ttl)
        name = self._key(f"value:{key}")
        await self._call(
            "put", lambda: self._redis.set(name, f"{until}\n{value}", px=_expiry_ms(ttl))
        )

    async def get(self, key: str) -> str | None:
        found = await self._call("get", lambda: self._redis.get(self._key(f"value:{key}")))
        if found is None:
            return None
        until, _, value = _text(found).partition("\n")
        return value if float(until) > self._clock.time() else None

    async def hit(self, key: str, window: float) -> int:
        number = math.floor(self._clock.time() / window)
        name = self._key(f"hits:{key}:{number}")

        async def count() -> int:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.pexpire(name, _expiry_ms(2 * window))
                hits, _ = await pipe.execute()
            return int(hits)

        return await self._call("hit", count)

    # -- the schedule ----------------------------------------------------------------------------

    async def schedule(
        self, queue: str, item: str, due: float, payload: str, *, replace: bool = True
    ) -> None:
        zset, dues, payloads, owners = self._queue(queue)

        async def add() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                if replace:
                    pipe.zadd(zset, {item: due})
                    pipe.hset(dues, item, repr(due))
                    pipe.hset(payloads, item, payload)
                    pipe.hdel(owners, item)
                else:  # the sorted set decides: an item already there keeps its hashes too
                    pipe.eval(_ADD_IF_ABSENT, 3, zset, dues, payloads, item, repr(due), payload)
                await pipe.execute()

        await self._call("schedule", add)

    async def unschedule(self, queue: str, item: str) -> None:
        zset, dues, payloads, owners = self._queue(queue)

        async def remove() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(zset, item)
                for name in (dues, payloads, owners):
                    pipe.hdel(name, item)
                await pipe.execute()

        await self._call("unschedule", remove)

    async def take(self, queue: str, item: str, owner: str, lease: float) -> Due | None:
        now = self._clock.time()
        answer = await self._call(
            "take",
            lambda: self._take(
                keys=list(self._queue(queue)), args=[item, owner, repr(now), repr(now + lease)]
            ),
        )
        if answer is None:
            return None
        if isinstance(answer, int):
            self.stats.claim_conflicts += 1
            return None
        payload, due, before = (_text(part) for part in answer)
        return self._handed(item, payload, due, before, owner)

    async def take_due(self, queue: str, owner: str, lease: float, limit: int = 100) -> list[Due]:
        now = self._clock.time()
        answer = await self._call(
            "take_due",
            lambda: self._take_due(
                keys=list(self._queue(queue)), args=[owner, repr(now), repr(now + lease), limit]
            ),
        )
        parts = [_text(part) for part in answer]
        return [
            self._handed(parts[i], parts[i + 1], parts[i + 2], parts[i + 3], owner)
            for i in range(0, len(parts), 4)
        ]

    async def lookup(self, queue: str, item: str) -> Entry | None:
        zset, dues, _, owners = self._queue(queue)

        async def read() -> list[Any]:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zscore(zset, item)
                pipe.hget(dues, item)
                pipe.hget(owners, item)
                return list(await pipe.execute())

        score, due, owner = await self._call("lookup", read)
        if score is None:
            return None
        held = _text(owner) if owner is not None else None
        return Entry(float(_text(due or b"0")), held, float(score) if held else 0.0)

    async def finish(self, queue: str, item: str, owner: str) -> bool:
        done = await self._call(
            "finish", lambda: self._finish(keys=list(self._queue(queue)), args=[item, owner])
        )
        return bool(done)

    async def scheduled(self, queue: str) -> int:
        return int(await self._call("scheduled", lambda: self._redis.zcard(self._queue(queue)[0])))

    async def ping(self) -> None:
        await self._call("ping", self._redis.ping)

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)

    # -- internals -------------------------------------------------------------------------------

    async def _claim_key(self, name: str, owner: str, lease: float) -> str | None:
        now = self._clock.time()
        held = await self._call(
            "claim",
            lambda: self._claim(
                keys=[self._key(name)],
                args=[owner, repr(now), repr(now + lease), _expiry_ms(lease)],
            ),
        )
        return None if held is None else _text(held)

    def _handed(self, item: str, payload: str, due: str, before: str, owner: str) -> Due:
        previous = before if before and before != owner else None
        if previous is not None:
            self.stats.takeovers += 1
        return Due(item, payload, float(due), previous)

    def _key(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def _queue(self, queue: str) -> tuple[str, str, str, str]:
        base = self._key(f"sched:{queue}")
        return base, f"{base}:due", f"{base}:payload", f"{base}:owner"

    async def _call(self, name: str, operation: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        try:
            result = await operation()
        except (RedisError, OSError, TimeoutError) as error:
            self.stats.errors += 1
            raise SharedStateError(f"Redis {name} failed: {type(error).__name__}") from error
        observe = self.stats.on_latency
        if observe is not None:
            observe(name, time.perf_counter() - started)
        return result
