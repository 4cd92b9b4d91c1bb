"""Answers the emulator does not give: non-JSON errors, `unrecoverable`, odd headers, bad JSON.

A small scripted aiohttp server on a loopback port plays each answer in turn.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from aiohttp import web

from bot.stream import CallRef, StreamAPIError
from bot.util.clock import ManualClock

from .conftest import MakeClient

CALL = CallRef("default", "call-123")


@dataclass
class Script:
    """Answers in order (each made fresh: aiohttp sends a response once), then `{}`."""

    answers: list[Callable[[], web.Response]] = field(default_factory=list)
    seen: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.seen += 1
        return self.answers.pop(0)() if self.answers else web.json_response({})


@pytest.fixture
async def script() -> AsyncIterator[tuple[Script, str]]:
    scripted = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", scripted.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield scripted, f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def stream_error(status: int, code: int, message: str, **extra: object) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "StatusCode": status,
        "duration": "0.01ms",
        "more_info": "https://getstream.io/chat/docs/api_errors_response",
        "details": [],
        **extra,
    }
    return web.json_response(body, status=status)


async def test_html_gateway_error_is_retried_and_described(
    script: tuple[Script, str], make_client: MakeClient
) -> None:
    scripted, url = script
    scripted.answers = [lambda: web.Response(status=502, text="<html>Bad Gateway</html>")] * 50
    client = make_client(base_url=url, deadline=2.0)

    with pytest.raises(StreamAPIError) as caught:
        await client.kick_user(CALL, "sara")

    error = caught.value
    assert error.sentence == "Stream is having trouble (HTTP 502); nothing was changed"
    assert (error.status, error.code, error.message) == (502, None, "<html>Bad Gateway</html>")
    assert scripted.seen > 1


async def test_non_json_client_error(script: tuple[Script, str], make_client: MakeClient) -> None:
    scripted, url = script
    scripted.answers = [lambda: web.Response(status=413, text="")]
    client = make_client(base_url=url)

    with pytest.raises(StreamAPIError) as caught:
        await client.ban("sara", banned_by_id="john", reason="x" * 10)

    assert caught.value.sentence == "Stream rejected the request (HTTP 413): HTTP 413"
    assert scripted.seen == 1


async def test_unrecoverable_is_never_retried(
    script: tuple[Script, str], make_client: MakeClient, clock: ManualClock
) -> None:
    scripted, url = script
    scripted.answers = [lambda: stream_error(503, -1, "maintenance", unrecoverable=True)]
    client = make_client(base_url=url)

    with pytest.raises(StreamAPIError) as caught:
        await client.block_user(CALL, "sara")

    assert caught.value.retryable is False
    assert scripted.seen == 1
    assert clock.slept == []


async def test_forbidden(script: tuple[Script, str], make_client: MakeClient) -> None:
    scripted, url = script
    scripted.answers = [
        lambda: stream_error(403, 17, "BlockUser failed: not allowed for this call type")
    ]
    client = make_client(base_url=url)

    with pytest.raises(StreamAPIError) as caught:
        await client.block_user(CALL, "sara")

    assert caught.value.sentence == (
        "Stream does not allow this: BlockUser failed: not allowed for this call type"
    )
    assert caught.value.more_info == "https://getstream.io/chat/docs/api_errors_response"


async def test_retry_after_as_an_http_date(
    script: tuple[Script, str], make_client: MakeClient, clock: ManualClock
) -> None:
    scripted, url = script
    when = format_datetime(datetime.fromtimestamp(clock.time() + 3, tz=UTC), usegmt=True)
    scripted.answers = [
        lambda: web.json_response(
            {"code": 9, "message": "slow down"}, status=429, headers={"Retry-After": when}
        )
    ]
    client = make_client(base_url=url)

    await client.unban("sara")

    assert clock.slept == [pytest.approx(3.0)]
    assert scripted.seen == 2


async def test_429_without_hints_backs_off(
    script: tuple[Script, str], make_client: MakeClient, clock: ManualClock
) -> None:
    scripted, url = script
    scripted.answers = [lambda: web.Response(status=429, text="Too Many Requests")]
    client = make_client(base_url=url)

    await client.unban("sara")

    assert len(clock.slept) == 1 and 0.2 <= clock.slept[0] <= 0.4


async def test_unreadable_success_on_a_read(
    script: tuple[Script, str], make_client: MakeClient
) -> None:
    scripted, url = script
    scripted.answers = [
        lambda: web.Response(status=200, text="not json"),
        lambda: web.json_response({"bans": {"user": {"id": "sara"}}}),
    ]
    client = make_client(base_url=url)

    with pytest.raises(StreamAPIError) as caught:
        await client.query_bans()
    assert "cannot read" in caught.value.sentence
    assert not caught.value.maybe_applied

    # A list that is not a list fails the answer; one bad entry in a list does not (see
    # test_unreadable_entries.py).
    with pytest.raises(StreamAPIError) as caught:
        await client.query_bans()
    assert "bans is not a list" in caught.value.sentence


async def test_blocked_users_leave_out_unreadable_entries(
    script: tuple[Script, str], make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    scripted, url = script
    blocks = [
        {"user_id": "sara", "blocked_user_id": "bob", "created_at": 1_800_000_000 * 10**9},
        {"user_id": "sara", "blocked_user": None, "created_at": "2027-01-15T08:00:00Z"},
        None,
    ]
    scripted.answers = [lambda: web.json_response({"blocks": blocks})]
    reports: list[tuple[str, str]] = []
    client = make_client(base_url=url, on_unreadable=lambda *seen: reports.append(seen))

    with caplog.at_level(logging.WARNING, logger="bot.stream.client"):
        found = await client.get_blocked_users("sara")

    assert [b.blocked_user_id for b in found] == ["bob"]
    assert reports == [
        ("blocked_users", "blocks[].blocked_user_id is missing"),
        ("blocked_users", "blocks[] is not an object"),
    ]
    [line, _] = [r.getMessage() for r in caplog.records if r.name == "bot.stream.client"]
    assert "left out entry 1 of the answer (user sara, blocked user ?, created " in line
    assert line.endswith("which cannot be read: blocks[].blocked_user_id is missing")


async def test_not_found_without_a_name_falls_back_to_streams_words(
    script: tuple[Script, str], make_client: MakeClient
) -> None:
    scripted, url = script
    scripted.answers = [lambda: stream_error(404, 16, "something is missing")]
    client = make_client(base_url=url)

    with pytest.raises(StreamAPIError) as caught:
        await client.mute_users(CALL, ["sara", "bob"], ["audio"], muted_by_id="john")

    assert caught.value.sentence == (
        "Stream could not find something mute needs: something is missing"
    )
