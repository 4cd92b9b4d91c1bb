"""What replicas of callmod share, behind one small interface (issue 16).

Four kinds of state, each a few operations:

- **once**: `remember_once(key, ttl)` is true the first time a key is seen within `ttl` (webhook
  ids; Redis `SET NX`).
- **claims**: `claim(key, owner, lease)` takes a key for `owner` until `lease` seconds pass or
  `release` gives it back, and otherwise names who holds it (clicks, confirmations, Undo).
- **counters**: `hit(key, window)` counts hits in the current fixed window (rate limits).
- **values**: `put(key, value, ttl)` / `get(key)` keep what another replica may need to act
  on a click (a permission request's details, its decision).
- **schedule**: items due at a time (ban expiries). `take_due` hands each due item to one owner
  with a lease; an item whose owner's lease runs out before `finish` is handed to the next taker
  (a takeover), so an owner that dies mid-work is replaced, never doubled while alive.

Every deadline is on the injected clock, so tests move time instead of sleeping. Operations raise
`SharedStateError` when the state cannot be reached; callers decide what is safe without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class SharedStateError(Exception):
    """The shared state could not be reached or answered wrongly (Redis down)."""


@dataclass(frozen=True)
class Due:
    """A schedule item handed to an owner: its key, payload and due time. `taken_over_from` is
    the previous owner whose lease ran out, when this is a takeover."""

    item: str
    payload: str
    due: float
    taken_over_from: str | None = None


@dataclass(frozen=True)
class Entry:
    """A schedule item as it stands: due at `due`; held by `owner` until `lease_until`."""

    due: float
    owner: str | None
    lease_until: float


@dataclass
class SharedStats:
    claim_conflicts: int = 0  # claims refused because someone else holds the key
    takeovers: int = 0  # schedule items taken after their owner's lease ran out
    errors: int = 0  # operations that raised SharedStateError
    # Told the name and latency in seconds of each round trip (the Redis latency histogram).
    on_latency: Callable[[str, float], None] | None = None


class SharedState(Protocol):
    """The state replicas share. `kind` is "in-process" or "redis"."""

    kind: str
    stats: SharedStats

    async def remember_once(self, key: str, ttl: float) -> bool:
        """True the first time `key` is seen within `ttl` seconds, False after."""

    async def claim(self, key: str, owner: str, lease: float) -> str | None:
        """Take `key` for `owner` for `lease` seconds; None when taken now, otherwise who holds
        it (which may be `owner` itself: a second take is refused too)."""

    async def holder(self, key: str) -> str | None:
        """Who holds `key`, if anyone."""

    async def release(self, key: str, owner: str) -> bool:
        """Give `key` back, if `owner` holds it; returns whether it did."""

    async def put(self, key: str, value: str, ttl: float) -> None:
        """Keep `value` under `key` for `ttl` seconds (records another replica may need)."""

    async def get(self, key: str) -> str | None:
        """The value kept under `key`, or None once it expired (or was never kept)."""

    async def hit(self, key: str, window: float) -> int:
        """Count a hit on `key` in the current `window`-second window; returns the count."""

    async def schedule(
        self, queue: str, item: str, due: float, payload: str, *, replace: bool = True
    ) -> None:
        """Add `item` to be due at `due`. An item already there is replaced (its owner dropped)
        when `replace`, and left as it is otherwise."""

    async def unschedule(self, queue: str, item: str) -> None:
        """Remove `item`, whoever owns it."""

    async def take(self, queue: str, item: str, owner: str, lease: float) -> Due | None:
        """Take one item when it is due and nobody else holds a live lease on it (or `owner`
        already holds it: the lease is extended)."""

    async def take_due(self, queue: str, owner: str, lease: float, limit: int = 100) -> list[Due]:
        """Take every due item nobody holds a live lease on, at most `limit`."""

    async def lookup(self, queue: str, item: str) -> Entry | None:
        """The item as it stands, or None when it is not scheduled (finished or removed)."""

    async def finish(self, queue: str, item: str, owner: str) -> bool:
        """Remove a taken item once its work is done; False when `owner` no longer holds it
        (taken over, or replaced by a new item under the same key)."""

    async def scheduled(self, queue: str) -> int:
        """How many items the queue holds."""

    async def ping(self) -> None:
        """Raise SharedStateError unless the state answers."""

    async def close(self) -> None: ...
