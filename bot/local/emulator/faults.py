"""Fault injection: queued misbehaviours the server applies to matching requests.

Each fault is consumed by the requests it matches (`times` of them; `None` = until cleared),
optionally only for one method and/or paths containing a substring. Latency faults add up and
combine with at most one answering fault (rate limit, server error, dropped connection), the
oldest matching one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["latency", "rate_limit", "server_error", "drop_connection"]
SERVER_ERROR_STATUSES = frozenset({500, 502, 503, 504})


@dataclass
class Fault:
    kind: FaultKind
    remaining: int | None
    path: str | None = None
    method: str | None = None
    seconds: float = 0.0
    status: int = 503
    reset_in: float = 2.0
    retry_after: float | None = None
    limit: int = 60
    after_apply: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or self.path in path

    def consume(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request."""

    delay: float = 0.0
    answer: Fault | None = None
    delay_after_apply: float = 0.0  # Stream applied the change; its answer is what is slow


class FaultInjector:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    @property
    def pending(self) -> list[Fault]:
        return [f for f in self._faults if f.remaining is None or f.remaining > 0]

    def latency(
        self, seconds: float, times: int | None = 1, path: str | None = None,
        method: str | None = None, after_apply: bool = False,
    ) -> Fault:
        """`after_apply`: the change is made (and its webhooks sent) first, the answer is late."""
        if seconds < 0:
            raise ValueError("latency must not be negative")
        return self._add(
            Fault("latency", times, path, method, seconds=seconds, after_apply=after_apply)
        )

    def rate_limit(
        self,
        times: int | None = 1,
        reset_in: float = 2.0,
        path: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        limit: int = 60,
    ) -> Fault:
        return self._add(
            Fault(
                "rate_limit", times, path, method,
                reset_in=reset_in, retry_after=retry_after, limit=limit,
            )
        )

    def server_error(
        self, status: int = 503, times: int | None = 1, path: str | None = None,
        method: str | None = None,
    ) -> Fault:
        if status not in SERVER_ERROR_STATUSES:
            raise ValueError(f"server_error status must be one of {sorted(SERVER_ERROR_STATUSES)}")
        return self._add(Fault("server_error", times, path, method, status=status))

    def drop_connection(
        self, times: int | None = 1, path: str | None = None, after_apply: bool = False,
        method: str | None = None,
    ) -> Fault:
        return self._add(Fault("drop_connection", times, path, method, after_apply=after_apply))

    def clear(self) -> None:
        self._faults.clear()

    def take(self, method: str, path: str) -> FaultPlan:
        """Consume the faults that apply to this request and say what to do."""
        delay = delay_after_apply = 0.0
        answer: Fault | None = None
        for fault in self._faults:
            if not fault.matches(method, path):
                continue
            if fault.kind == "latency":
                fault.consume()
                if fault.after_apply:
                    delay_after_apply += fault.seconds
                else:
                    delay += fault.seconds
            elif answer is None:
                fault.consume()
                answer = fault
        self._faults = self.pending
        return FaultPlan(delay=delay, answer=answer, delay_after_apply=delay_after_apply)

    def _add(self, fault: Fault) -> Fault:
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError("times must be at least 1 (or None for every request)")
        self._faults.append(fault)
        return fault
