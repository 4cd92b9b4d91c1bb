"""Stream down at start-up (issue 12, item 4): the bot's own Stream user is retried in the
background until Stream takes it, and `/readyz` says it is missing until then. Before, it was
tried once, and every `/kick`, `/mute`, `/ban` failed with "user callmod-bot was not found"
until a restart while the health check said ok."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.local.stack import LocalStack
from bot.runtime.bot_user import RETRY_MAX_SECONDS
from bot.util.clock import ManualClock

BOT = "callmod-bot"


def upserts(stack: LocalStack) -> int:
    return sum(
        1 for r in stack.emulator.requests if r.method == "POST" and r.path == "/api/v2/users"
    )


async def until(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait (bounded) for work in flight over real sockets; time itself moves only by the clock."""
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def ready(stack: LocalStack) -> tuple[int, dict[str, Any]]:
    assert stack.callmod is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.callmod.base_url + "/readyz") as response,
    ):
        return response.status, json.loads(await response.text())


async def test_stream_down_at_start_up_is_retried_until_the_bot_user_lands(
    clock: ManualClock,
) -> None:
    stack = LocalStack(clock=clock)
    # Stream answers 503 to the upsert of users, and only to that, until told otherwise.
    stack.emulator.faults.server_error(status=503, times=None, path="/api/v2/users", method="POST")
    await stack.start()
    try:
        assert stack.callmod is not None
        bot_user = stack.callmod.bot_user
        await asyncio.wait_for(stack.callmod.bans.rehydrated.wait(), 5)
        await until(lambda: bot_user.failures >= 2)  # at start-up, then the first retry
        assert BOT not in stack.emulator.state.users

        status, report = await ready(stack)
        assert status == 503 and report["not_ready"] == ["stream_user"]
        detail = report["checks"]["stream_user"]["detail"]
        assert detail.startswith(f"{BOT} is not created yet: "), detail
        failed = (await stack.slash("/kick sara call-123")).response_key
        assert any(BOT in text for text in [r.text for r in stack.slack.responses_for(failed)])

        # Still down: the retries keep going, on the clock, without a restart.
        tried, failures = upserts(stack), bot_user.failures
        await clock.advance(RETRY_MAX_SECONDS)
        await until(lambda: bot_user.failures > failures)
        assert upserts(stack) > tried and not bot_user.ready.is_set()

        stack.emulator.faults.clear()  # Stream recovers
        await clock.advance(RETRY_MAX_SECONDS)
        await asyncio.wait_for(bot_user.ready.wait(), 5)

        assert BOT in stack.emulator.state.users
        status, report = await ready(stack)
        assert status == 200, report
        assert report["checks"]["stream_user"] == {"ok": True, "detail": f"{BOT} is in place"}
        result = await stack.slash("/kick sara call-123")
        assert stack.replies(result)[0].startswith(":boot: `sara` was kicked")
        assert "sara" not in stack.emulator.state.calls["default:call-123"].participants
    finally:
        await stack.stop()


async def test_a_healthy_start_creates_the_bot_user_before_serving(stack: LocalStack) -> None:
    assert stack.callmod is not None
    assert stack.callmod.bot_user.ready.is_set()
    assert BOT in stack.emulator.state.users
    assert upserts(stack) == 1
