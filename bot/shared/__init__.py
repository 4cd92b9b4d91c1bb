"""State replicas share (issue 16): one small interface, kept in this process by default or in
Redis when `REDIS_URL` is set. Knows only bot/util."""

from __future__ import annotations

import os
import secrets
import socket

from bot.shared.memory import InProcessState
from bot.shared.state import Due, Entry, SharedState, SharedStateError, SharedStats
from bot.util.clock import Clock

__all__ = [
    "Due",
    "Entry",
    "InProcessState",
    "SharedState",
    "SharedStateError",
    "SharedStats",
    "open_shared_state",
    "replica_name",
]


def open_shared_state(
    redis_url: str | None, clock: Clock, *, prefix: str | None = None
) -> SharedState:
    """Redis when a URL is given (nothing is sent until the first operation), this process
    otherwise."""
    if redis_url is None:
        return InProcessState(clock)
    from bot.shared.redis_state import DEFAULT_PREFIX, RedisState  # only replicas load redis

    return RedisState.from_url(redis_url, clock, prefix=prefix or DEFAULT_PREFIX)


def replica_name() -> str:
    """This process's name as an owner of claims and leases: host, pid and a random tail (a
    restarted process on the same host and pid is another owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
