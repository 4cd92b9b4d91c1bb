"""/metrics, /healthz (liveness), /readyz (readiness) and structured logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import bot.cases.database
from bot.local.stack import MODERATOR, OUTSIDER, LocalStack
from bot.runtime.logs import JsonFormatter, TextFormatter, new_request_id, request_id
from bot.util.clock import ManualClock


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_metrics_count_commands_stream_calls_timers_and_webhooks(stack: LocalStack) -> None:
    assert stack.callmod is not None
    await stack.slash("/kick sara call-123")
    await stack.slash("/kick sara call-123", OUTSIDER)
    await stack.slash("/ban bob 30m spam", MODERATOR)
    await stack.emulator.raise_permission_request("default:call-123", "alice", ["send-audio"])
    await stack.idle()
    status, text = await _get(stack.callmod.base_url + "/metrics")
    assert status == 200
    assert 'callmod_commands_total{command="kick",outcome="done"} 1.0' in text
    assert 'callmod_commands_total{command="kick",outcome="denied"} 1.0' in text
    assert 'callmod_stream_requests_total{operation="kick",status="200"} 1.0' in text
    assert 'callmod_stream_request_seconds_count{operation="kick"} 1.0' in text
    assert "callmod_pending_ban_timers 1.0" in text
    assert 'callmod_webhook_events_total{type="call.permission_request"} 1.0' in text
    assert 'callmod_command_seconds_count{command="ban"} 1.0' in text


def probes(stack: LocalStack) -> int:
    """Requests readiness sent to Stream (it reads the bot user's blocks; nothing else here
    does)."""
    return sum(1 for r in stack.emulator.requests if r.path == "/api/v2/users/block")


@pytest.fixture
async def rebuilt(stack: LocalStack) -> LocalStack:
    """The stack once its start-up work with Stream (the ban rebuild) is done."""
    assert stack.callmod is not None
    await asyncio.wait_for(stack.callmod.bans.rehydrated.wait(), 5)
    return stack


async def _ready(stack: LocalStack) -> tuple[int, dict[str, Any]]:
    assert stack.callmod is not None
    status, text = await _get(stack.callmod.base_url + "/readyz")
    return status, json.loads(text)


async def test_healthz_is_liveness_and_never_asks_stream(rebuilt: LocalStack) -> None:
    stack = rebuilt
    assert stack.callmod is not None
    stack.emulator.faults.server_error(status=503, times=None)  # Stream is down...
    before = len(stack.emulator.requests)
    for _ in range(5):
        status, text = await _get(stack.callmod.base_url + "/healthz")
        assert status == 200 and json.loads(text) == {"ok": True}  # ...the process is alive
    assert len(stack.emulator.requests) == before, "/healthz must not call Stream"


async def test_readyz_reports_each_part_and_probes_stream_at_most_every_10s(
    rebuilt: LocalStack, clock: ManualClock
) -> None:
    stack = rebuilt
    status, report = await _ready(stack)
    assert status == 200 and report["ok"] is True and report["not_ready"] == []
    assert set(report["checks"]) == {"stream", "stream_user", "case_store", "ban_timers"}
    assert report["checks"]["stream"] == {"ok": True, "detail": "reachable"}
    assert report["checks"]["stream_user"]["detail"] == "callmod-bot is in place"
    assert report["checks"]["case_store"]["detail"] == "writable"
    assert report["checks"]["ban_timers"]["detail"] == "rebuilt from Stream"
    assert probes(stack) == 1

    results = await asyncio.gather(*(_ready(stack) for _ in range(20)))  # a burst of probes
    assert {status for status, _ in results} == {200}
    assert probes(stack) == 1, "readiness probes Stream at most once per 10 s"

    stack.emulator.faults.server_error(status=503, times=None)
    assert (await _ready(stack))[0] == 200  # the cached answer, for up to 10 s
    await clock.advance(10)
    status, report = await _ready(stack)
    assert status == 503 and report["ok"] is False and report["not_ready"] == ["stream"]
    assert report["checks"]["stream"]["detail"].startswith("unreachable: ")
    stack.emulator.faults.clear()
    await clock.advance(10)
    assert (await _ready(stack))[0] == 200


async def test_a_rate_limited_stream_is_ready_and_the_probe_does_not_retry(
    rebuilt: LocalStack, clock: ManualClock
) -> None:
    stack = rebuilt
    await _ready(stack)
    stack.emulator.faults.rate_limit(times=None, reset_in=30)
    before = probes(stack)
    await clock.advance(10)
    status, report = await _ready(stack)
    assert status == 200, report
    assert report["checks"]["stream"]["detail"].startswith("reachable, rate limited (429)")
    assert probes(stack) == before + 1, "a 429 is not retried by the probe"


async def test_readyz_waits_for_the_ban_timers_to_be_rebuilt(clock: ManualClock) -> None:
    stack = LocalStack(clock=clock)
    stack.emulator.faults.server_error(status=503, times=None, path="/query_banned_users")
    await stack.start()
    try:
        status, report = await _ready(stack)
        assert status == 503 and report["not_ready"] == ["ban_timers"]
        assert report["checks"]["ban_timers"] == {"ok": False, "detail": "being rebuilt"}
        stack.emulator.faults.clear()
        assert stack.callmod is not None
        rebuilt = stack.callmod.bans.rehydrated
        for _ in range(20):  # the rebuild retries with backoff on the clock
            await clock.advance(60)
            # An attempt the advance woke makes HTTP calls, which may outlast the advance under
            # load: wait for its answer (bounded), not for a fixed number of advances.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rebuilt.wait(), 1)
            if rebuilt.is_set():
                break
        assert (await _ready(stack))[0] == 200
    finally:
        await stack.stop()


async def test_readyz_says_when_the_case_store_takes_no_writes(
    clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.cases.database, "SQLITE_BUSY_TIMEOUT_MS", 50)
    stack = LocalStack(clock=clock, database_url=f"sqlite+aiosqlite:///{tmp_path}/cases.db")
    await stack.start()
    holder = sqlite3.connect(tmp_path / "cases.db", isolation_level=None)
    try:
        assert stack.callmod is not None
        await asyncio.wait_for(stack.callmod.bans.rehydrated.wait(), 5)
        status, report = await _ready(stack)
        assert status == 200, report
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        await clock.advance(10)
        status, report = await _ready(stack)
        assert status == 503 and report["not_ready"] == ["case_store"]
        assert report["checks"]["case_store"]["detail"].startswith("not writable: ")
        holder.execute("ROLLBACK")
        await clock.advance(10)
        assert (await _ready(stack))[0] == 200
    finally:
        holder.close()
        await stack.stop()


def _record(message: str) -> logging.LogRecord:
    record = logging.LogRecord("callmod.test", logging.INFO, __file__, 1, message, None, None)
    record.request_id = request_id.get()
    return record


def test_json_logs_carry_the_request_id_and_mask_tokens() -> None:
    rid = new_request_id()
    line = JsonFormatter().format(_record("token xoxb-123-abc and jwt eyJa.eyJb.sig used"))
    entry = json.loads(line)
    assert entry["request_id"] == rid
    assert entry["level"] == "info" and entry["logger"] == "callmod.test"
    assert "xoxb-123" not in entry["message"] and "eyJa" not in entry["message"]
    assert "[redacted]" in entry["message"]
    assert rid in TextFormatter().format(_record("hello"))


async def test_a_command_and_its_stream_call_share_one_request_id(
    stack: LocalStack, clock: ManualClock, caplog: object
) -> None:
    import pytest

    assert isinstance(caplog, pytest.LogCaptureFixture)
    caplog.set_level(logging.INFO)
    captured: list[logging.LogRecord] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            record.request_id = request_id.get()
            captured.append(record)

    handler = Grab()
    logging.getLogger("callmod").addHandler(handler)
    try:
        await stack.slash("/kick john call-123")
    finally:
        logging.getLogger("callmod").removeHandler(handler)
    command = next(r for r in captured if r.getMessage().startswith("/kick from"))
    stream = next(r for r in captured if r.getMessage().startswith("stream kick"))
    assert command.request_id == stream.request_id != "-"
