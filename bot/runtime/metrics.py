"""Prometheus metrics for one callmod process (`GET /metrics`).

Each `Metrics` owns its own `CollectorRegistry`, so several callmod instances (tests, the
console) never collide on the global one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from bot.shared import SharedStats

log = logging.getLogger("callmod.stream")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SHARED_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0)


class _SharedCounters(Collector):
    """The shared state's counters, read when /metrics is scraped."""

    def __init__(self, stats: SharedStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        for name, text, value in (
            ("callmod_lease_takeovers", "Timers taken over after their owner's lease ran out",
             self._stats.takeovers),
            ("callmod_claim_conflicts", "Claims refused because another click or replica held "
             "them", self._stats.claim_conflicts),
            ("callmod_shared_state_errors", "Shared-state operations that failed (Redis "
             "unreachable)", self._stats.errors),
        ):
            yield CounterMetricFamily(name, text, value=value)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "callmod_commands",
            "Slash commands and button clicks by name and outcome",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.command_seconds = Histogram(
            "callmod_command_seconds",
            "Time from the ack to the moderator's reply",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stream_requests = Counter(
            "callmod_stream_requests",
            "Stream API attempts by operation and HTTP status (none: no answer)",
            ["operation", "status"],
            registry=self.registry,
        )
        self.stream_seconds = Histogram(
            "callmod_stream_request_seconds",
            "Stream API attempt latency",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stream_unreadable = Counter(
            "callmod_stream_unreadable_entries",
            "Entries of Stream list answers left out because callmod cannot read them",
            ["operation"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "callmod_webhook_events",
            "Verified Stream webhook deliveries by event type",
            ["type"],
            registry=self.registry,
        )
        self.call_notices_failed = Counter(
            "callmod_call_notices_failed",
            "Notices to a call (MOD_NOTIFY_CALLS) that Stream did not take, by action",
            ["action"],
            registry=self.registry,
        )
        self.pending_timers = Gauge(
            "callmod_pending_ban_timers", "Timed bans waiting to expire", registry=self.registry
        )

    def watch_shared(self, stats: SharedStats) -> None:
        """Lease takeovers, claim conflicts, errors and round-trip latency of the shared state
        (Redis when several replicas run)."""
        seconds = Histogram(
            "callmod_shared_state_seconds",
            "Shared-state (Redis) round trips by operation",
            ["operation"],
            buckets=SHARED_BUCKETS,
            registry=self.registry,
        )
        stats.on_latency = lambda operation, took: seconds.labels(operation).observe(took)
        self.registry.register(_SharedCounters(stats))

    def watch_pending_timers(self, count: Callable[[], int]) -> None:
        self.pending_timers.set_function(lambda: float(count()))

    def stream_response(self, operation: str, status: int | None, seconds: float) -> None:
        self.stream_requests.labels(operation, str(status) if status else "none").inc()
        self.stream_seconds.labels(operation).observe(seconds)
        log.info("stream %s -> %s in %.0f ms", operation, status or "no answer", seconds * 1000)

    def stream_unreadable_entry(self, operation: str, reason: str) -> None:
        """The Stream client left out an entry it cannot read (it logs which, and why)."""
        self.stream_unreadable.labels(operation).inc()

    async def endpoint(self, _: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
