"""Readiness (`GET /readyz`): named checks, each saying whether its part is ready and why not.

Liveness (`/healthz`) asks nothing of anyone; readiness asks whether callmod can do its work:
Stream reachable, the bot's Stream user in place, the case store writable, ban timers rebuilt.
Checks that cost a request (Stream, the database) are cached for `CACHE_SECONDS` on the injected
clock, and concurrent callers share one run, so a probe every second costs Stream at most one
request per `CACHE_SECONDS`. The Stream probe reads one user's blocks (`GET /users/block`, not a
moderation endpoint) with a client of its own whose short deadline keeps the answer quick; a 429
means Stream is reachable but throttling, which is ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.cases import CaseStore, CaseStoreError
from bot.shared import SharedState, SharedStateError
from bot.stream import StreamAPIError, StreamClient
from bot.util.clock import Clock

log = logging.getLogger("callmod")

CACHE_SECONDS = 10.0
PROBE_DEADLINE = 3.0  # the probe client's whole budget, retries included
STORE_CHECK_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


CheckFn = Callable[[], Awaitable[Check]]


class Readiness:
    """The checks `/readyz` runs; other parts of callmod may `add` theirs."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckFn] = {}

    def add(self, name: str, check: CheckFn) -> None:
        self._checks[name] = check

    async def report(self) -> dict[str, Any]:
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(name) for name in names))
        not_ready = [name for name, result in zip(names, results, strict=True) if not result.ok]
        return {
            "ok": not not_ready,
            "not_ready": not_ready,
            "checks": {
                name: {"ok": result.ok, "detail": result.detail}
                for name, result in zip(names, results, strict=True)
            },
        }

    async def _run(self, name: str) -> Check:
        """A check that breaks is a part that is not ready, not a 500 from `/readyz`."""
        try:
            return await self._checks[name]()
        except Exception as error:
            log.exception("readiness check %s failed", name)
            return Check(False, f"the check failed: {type(error).__name__}")


class Cached:
    """`check` run at most once per `seconds` of `clock`; callers meanwhile get the last answer,
    and callers arriving while it runs wait for that run instead of starting another."""

    def __init__(self, check: CheckFn, *, clock: Clock, seconds: float = CACHE_SECONDS) -> None:
        self._check = check
        self._clock = clock
        self._seconds = seconds
        self._lock = asyncio.Lock()
        self._result: Check | None = None
        self._at = 0.0
        self.runs = 0

    async def __call__(self) -> Check:
        async with self._lock:
            if self._result is None or self._clock.time() - self._at >= self._seconds:
                self.runs += 1
                self._result = await self._check()
                self._at = self._clock.time()
            return self._result


def stream_probe(stream: StreamClient, user_id: str) -> CheckFn:
    """Whether Stream answers: any answer but a 5xx or a refusal of our credentials counts."""

    async def probe() -> Check:
        try:
            await stream.get_blocked_users(user_id)
        except StreamAPIError as error:
            if error.status == 429:
                return Check(True, "reachable, rate limited (429): not probing harder")
            if error.status == 401:
                return Check(False, f"refuses callmod's credentials: {error.sentence}")
            if error.status is not None and error.status < 500:
                return Check(True, "reachable")
            return Check(False, f"unreachable: {error.sentence}")
        return Check(True, "reachable")

    return probe


def store_writable(store: CaseStore) -> CheckFn:
    async def check() -> Check:
        try:
            async with asyncio.timeout(STORE_CHECK_SECONDS):
                await store.check_writable()
        except CaseStoreError as error:
            return Check(False, f"not writable: {error}")
        except TimeoutError:
            return Check(False, f"not writable: no write went through in {STORE_CHECK_SECONDS:g} s")
        return Check(True, "writable")

    return check


def shared_reachable(shared: SharedState) -> CheckFn:
    """Whether the state replicas share (Redis) answers a PING. Without it callmod still runs
    commands, but refuses clicks it cannot claim and webhooks it cannot dedupe."""

    async def check() -> Check:
        try:
            await shared.ping()
        except SharedStateError as error:
            return Check(False, f"unreachable: {error}")
        return Check(True, f"{shared.kind}: reachable")

    return check


def flag(is_set: Callable[[], bool], describe: Callable[[], str]) -> CheckFn:
    """A check read from in-memory state (no I/O)."""

    async def check() -> Check:
        return Check(is_set(), describe())

    return check
