"""The benchmark backends in one child process: the Stream emulator and the recording fake Slack.

The emulator holds a call `default:bench` whose members are the targets `target-000`, ...; every
`/kick` and `/unblock` of a target succeeds, however often it is repeated. When asked to (`push`),
the fake Slack reports each response_url post to the parent as it arrives, stamped with
`time.monotonic()` — one system-wide clock on Linux, so the parent can subtract its own send time.

The process runs at a lower CPU priority (`BACKEND_NICENESS`): it stands in for Stream and Slack,
which in production run on other machines, and on a 2-core machine it shares its core with the
load generator (and, in `benchmarks/replicas.py`, with a second callmod replica). At the default
priority its work on the commands of an earlier burst took CPU time from the load generator and
that replica while they were timing acks (`python -m benchmarks.replicas --part ack`, two
processes one per core: 1.19x the bare floor, 1.03x with it niced; the bare side runs against the
same niced backend). It still gets every cycle nobody else wants.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from benchmarks.procs import Info, run_child
from bot.local.emulator import StreamEmulator
from bot.local.fake_slack import FakeSlack, ResponsePost, SlackEvent
from bot.util.clock import SystemClock

BENCH_CALL = "default:bench"
BOT_TOKEN = "xoxb-benchmark"
BOT_STREAM_USER = "callmod-bot"
LOG_CHANNEL = "C0MODLOG"
BACKEND_NICENESS = 10


def target(i: int) -> str:
    return f"target-{i:03d}"


@dataclass(frozen=True)
class Arrival:
    """One response_url post as the fake Slack received it."""

    key: str
    at: float  # time.monotonic() in the backend process
    status: int
    text: str


class Backend:
    def __init__(self, targets: int, arrivals: Connection) -> None:
        # A client that gives up mid-request makes aiohttp log a traceback per request; the
        # benchmarks count the failed commands instead.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        self._targets = targets
        self._arrivals = arrivals
        self._push = False
        self.emulator = StreamEmulator(
            api_key="bench-key", api_secret=secrets.token_hex(16), clock=SystemClock()
        )
        self.slack = FakeSlack(bot_token=BOT_TOKEN)
        self._cases_dir = tempfile.TemporaryDirectory(prefix="callmod-bench-cases-")

    async def start(self) -> Info:
        stream_url = await self.emulator.start("127.0.0.1", 0)
        self.emulator.add_user(BOT_STREAM_USER, "callmod", role="admin")
        self.emulator.add_call(BENCH_CALL, members=[target(i) for i in range(self._targets)])
        await self.slack.start()
        self.slack.subscribe(self._on_slack)
        return {
            "stream_base_url": stream_url,
            "stream_api_key": self.emulator.api_key,
            "stream_api_secret": self.emulator.api_secret,
            "slack_api_url": self.slack.api_url,
            "slack_base_url": self.slack.base_url,
            "database_url": f"sqlite+aiosqlite:///{self._cases_dir.name}/cases.db",
        }

    async def handle(self, command: str, args: Info) -> Info:
        if command == "push":
            self._push = bool(args["on"])
            return {}
        if command == "reset":
            # The fake's lists are scanned per request; keep them short between phases.
            counts = self.counts()
            self.slack.calls.clear()
            self.slack.messages.clear()
            self.slack.responses.clear()
            self.emulator.requests.clear()
            return counts
        if command == "counts":
            return self.counts()
        raise ValueError(f"unknown command {command!r}")

    def counts(self) -> Info:
        return {
            "stream_requests": len(self.emulator.requests),
            "slack_calls": len(self.slack.calls),
            "responses": len(self.slack.responses),
            "failed_replies": sum(
                1 for r in self.slack.responses if r.status != 200 or r.text.startswith(":x:")
            ),
            "auth_tests": len(self.slack.calls_to("auth.test")),
        }

    async def stop(self) -> None:
        await self.slack.stop()
        await self.emulator.stop()
        self._cases_dir.cleanup()

    def _on_slack(self, event: SlackEvent) -> None:
        if self._push and isinstance(event, ResponsePost):
            arrival = Arrival(event.key, time.monotonic(), event.status, event.text[:200])
            self._arrivals.send(arrival)


def main(conn: Connection, targets: int, arrivals: Connection, cpus: frozenset[int] | None) -> None:
    os.nice(BACKEND_NICENESS)
    run_child(conn, Backend(targets, arrivals), cpus)
