"""Shared state kept in this process: the default, for one replica. Nothing to install.

Bounded like the caches it replaces: the ids `remember_once` has seen (per ttl, the oldest
evicted first at `max_keys`) and the claims (the oldest first at `max_claims`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cachetools import FIFOCache, TTLCache

from bot.shared.state import Due, Entry, SharedStats
from bot.util.clock import Clock

DEFAULT_MAX_KEYS = 100_000
DEFAULT_MAX_CLAIMS = 10_000


@dataclass
class _Item:
    due: float
    payload: str
    owner: str | None = None
    lease_until: float = 0.0

    def free_at(self) -> float:
        return self.lease_until if self.owner is not None else self.due


class InProcessState:
    kind = "in-process"

    def __init__(
        self,
        clock: Clock,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        max_claims: int = DEFAULT_MAX_CLAIMS,
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._seen: dict[float, TTLCache[str, bool]] = {}
        self._claims: FIFOCache[str, tuple[str, float]] = FIFOCache(max_claims)
        self._values: dict[float, TTLCache[str, str]] = {}  # by ttl, like `_seen`
        self._counts: dict[str, tuple[int, int]] = {}  # key -> (window number, hits)
        self._queues: dict[str, dict[str, _Item]] = {}
        self.stats = SharedStats()

    async def remember_once(self, key: str, ttl: float) -> bool:
        seen = self._seen.get(ttl)
        if seen is None:
            # `in` never refreshes an entry, so the least recently used one is the oldest.
            seen = TTLCache(maxsize=self._max_keys, ttl=ttl, timer=self._clock.time)
            self._seen[ttl] = seen
        if key in seen:
            return False
        seen[key] = True
        return True

    async def claim(self, key: str, owner: str, lease: float) -> str | None:
        held = self._live_holder(key)
        if held is not None:
            self.stats.claim_conflicts += 1
            return held
        self._claims[key] = (owner, self._clock.time() + lease)
        return None

    async def holder(self, key: str) -> str | None:
        return self._live_holder(key)

    async def release(self, key: str, owner: str) -> bool:
        if self._live_holder(key) != owner:
            return False
        self._claims.pop(key, None)
        return True

    async def put(self, key: str, value: str, ttl: float) -> None:
        values = self._values.get(ttl)
        if values is None:
            values = TTLCache(maxsize=self._max_keys, ttl=ttl, timer=self._clock.time)
            self._values[ttl] = values
        for other in self._values.values():
            other.pop(key, None)
        values[key] = value

    async def get(self, key: str) -> str | None:
        for values in self._values.values():
            found = values.get(key)
            if found is not None:
                return found
        return None

    async def hit(self, key: str, window: float) -> int:
        number = math.floor(self._clock.time() / window)
        seen_in, hits = self._counts.get(key, (number, 0))
        hits = hits + 1 if seen_in == number else 1
        self._counts[key] = (number, hits)
        if len(self._counts) > self._max_keys:  # forget the windows that have passed
            self._counts = {k: v for k, v in self._counts.items() if v[0] == number}
        return hits

    async def schedule(
        self, queue: str, item: str, due: float, payload: str, *, replace: bool = True
    ) -> None:
        items = self._queues.setdefault(queue, {})
        if replace or item not in items:
            items[item] = _Item(due, payload)

    async def unschedule(self, queue: str, item: str) -> None:
        self._queues.get(queue, {}).pop(item, None)

    async def take(self, queue: str, item: str, owner: str, lease: float) -> Due | None:
        entry = self._queues.get(queue, {}).get(item)
        if entry is None:
            return None
        now = self._clock.time()
        if entry.owner != owner and entry.free_at() > now:
            if entry.owner is not None:
                self.stats.claim_conflicts += 1
            return None
        return self._hand(item, entry, owner, now + lease)

    async def take_due(self, queue: str, owner: str, lease: float, limit: int = 100) -> list[Due]:
        now = self._clock.time()
        items = self._queues.get(queue, {})
        due = sorted(
            (entry.free_at(), name) for name, entry in items.items() if entry.free_at() <= now
        )
        return [self._hand(name, items[name], owner, now + lease) for _, name in due[:limit]]

    async def lookup(self, queue: str, item: str) -> Entry | None:
        entry = self._queues.get(queue, {}).get(item)
        if entry is None:
            return None
        return Entry(entry.due, entry.owner, entry.lease_until if entry.owner else 0.0)

    async def finish(self, queue: str, item: str, owner: str) -> bool:
        items = self._queues.get(queue, {})
        entry = items.get(item)
        if entry is None or entry.owner != owner:  # replaced since (a new item), or not ours
            return False
        del items[item]
        return True

    async def scheduled(self, queue: str) -> int:
        return len(self._queues.get(queue, {}))

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _hand(self, item: str, entry: _Item, owner: str, until: float) -> Due:
        before = entry.owner if entry.owner not in (None, owner) else None
        if before is not None:
            self.stats.takeovers += 1
        entry.owner, entry.lease_until = owner, until
        return Due(item, entry.payload, entry.due, before)

    def _live_holder(self, key: str) -> str | None:
        held = self._claims.get(key)
        if held is None:
            return None
        owner, until = held
        if until <= self._clock.time():
            self._claims.pop(key, None)
            return None
        return owner
