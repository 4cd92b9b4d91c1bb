"""/metrics, /healthz and structured logs."""

from __future__ import annotations

import json
import logging

import aiohttp

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


async def test_healthz_reports_whether_stream_is_reachable(stack: LocalStack) -> None:
    assert stack.callmod is not None
    status, text = await _get(stack.callmod.base_url + "/healthz")
    assert status == 200
    assert json.loads(text)["stream"] == "reachable"
    stack.emulator.faults.server_error(status=503, times=None)
    status, text = await _get(stack.callmod.base_url + "/healthz")
    stack.emulator.faults.clear()
    assert status == 503
    report = json.loads(text)
    assert report["ok"] is False and report["stream"].startswith("unreachable")


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
