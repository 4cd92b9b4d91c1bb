"""MOD_NOTIFY_CALLS: each action on a call is also told to the call as a `callmod.notice` custom
event, which never delays or fails the action."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.local.stack import MODERATOR, LocalStack
from bot.moderation.notices import MAX_NOTICE_BYTES, NOTICE_TEXT, notice
from bot.util.clock import ManualClock

CALL = "default:call-123"


@pytest.fixture
async def notifying(clock: ManualClock) -> AsyncIterator[LocalStack]:
    local = LocalStack(clock=clock, mod_notify_calls=True)
    await local.start()
    await local.idle()
    try:
        yield local
    finally:
        await local.stop()


def notices(stack: LocalStack) -> list[dict[str, object]]:
    return [e.custom for e in stack.emulator.state.calls[CALL].events]


async def test_a_mute_tells_the_call_who_was_muted(notifying: LocalStack) -> None:
    await notifying.slash("/mute sara,john call-123 audio", MODERATOR)

    assert notices(notifying) == [
        {
            "type": "callmod.notice",
            "action": "mute",
            "target_user_id": user,
            "text": "You were muted by a moderator.",
        }
        for user in ("sara", "john")
    ]
    assert {e.user_id for e in notifying.emulator.state.calls[CALL].events} == {"callmod-bot"}


async def test_notices_are_off_by_default(stack: LocalStack) -> None:
    await stack.slash("/kick sara call-123", MODERATOR)

    assert notices(stack) == []


async def test_a_failed_notice_does_not_fail_the_action_and_is_counted(
    notifying: LocalStack,
) -> None:
    notifying.emulator.faults.server_error(503, times=None, path="/event")
    await notifying.slash("/kick sara call-123", MODERATOR)

    assert [k.user_id for k in notifying.emulator.state.calls[CALL].kicked] == ["sara"]
    assert notifying.log_lines()[-1].endswith("done · Case #1")
    assert notices(notifying) == []
    callmod = notifying.callmod
    assert callmod is not None and callmod.notices is not None
    assert callmod.notices.stats.failed == 1
    metric = callmod.metrics.call_notices_failed.labels("kick")._value.get()
    assert metric == 1


async def test_a_refused_action_sends_no_notice(notifying: LocalStack) -> None:
    await notifying.slash("/kick nobody call-123", MODERATOR)

    assert notices(notifying) == []


def test_every_notice_fits_streams_5kb() -> None:
    for kind in NOTICE_TEXT:
        assert len(json.dumps(notice(kind, "u" * 255)).encode()) < MAX_NOTICE_BYTES
