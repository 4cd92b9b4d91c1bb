"""Reason presets and MOD_REQUIRE_REASON in typed commands (issue 14, point 2), and the
`callmod_case` message metadata on what callmod posts (point 3), end to end through the local
stack: signed slash commands, the Stream emulator and the fake Slack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.local.stack import ADMIN, LOG_CHANNEL, MODERATOR, LocalStack
from bot.util.clock import ManualClock

from .cmdtest import ban_notifications, slash

BY_MARIA = "(by @maria via Slack)"
BY_TOM = "(by @tom via Slack)"
PRESETS = [
    {"key": "spam", "label": "Spam", "reason": "Spamming the call", "duration": "2h"},
    {
        "key": "slur",
        "label": "Hate speech",
        "reason": "Slurs",
        "duration": "1h",
        "min_role": "admin",
    },
    {"key": "noise", "label": "Noise", "reason": "Loud background noise"},
]
REQUIRED = "A reason is required (MOD_REQUIRE_REASON); add one after the user, e.g. "


@pytest.fixture
def presets_file(tmp_path: Path) -> Path:
    path = tmp_path / "presets.json"
    path.write_text(json.dumps(PRESETS))
    return path


async def started(local: LocalStack) -> AsyncIterator[LocalStack]:
    await local.start()
    await local.idle()
    try:
        yield local
    finally:
        await local.stop()


@pytest.fixture
async def presets(clock: ManualClock, presets_file: Path) -> AsyncIterator[LocalStack]:
    async for local in started(LocalStack(clock=clock, mod_reason_presets=str(presets_file))):
        yield local


@pytest.fixture
async def strict(clock: ManualClock, presets_file: Path) -> AsyncIterator[LocalStack]:
    local = LocalStack(clock=clock, mod_reason_presets=str(presets_file), mod_require_reason=True)
    async for running in started(local):
        yield running


async def case_reason(stack: LocalStack, number: int) -> str | None:
    assert stack.store is not None
    case = await stack.store.get(number)
    assert case is not None
    return case.reason


# --- presets in typed commands ----------------------------------------------------------------


async def test_a_preset_gives_the_reason_of_a_ban(presets: LocalStack) -> None:
    out = await slash(presets, "/ban sara 30m #spam")

    ban = presets.emulator.state.bans["sara"]
    assert ban.reason == f"Spamming the call {BY_MARIA}"
    assert ban.expires_at is not None and ban.expires_at - ban.created_at == 30 * 60
    assert out.reply.startswith(":hammer: `sara` is banned for 30m")
    assert await case_reason(presets, 1) == "Spamming the call"
    [notification] = ban_notifications(presets, "sara")
    assert "Reason: Spamming the call" in json.dumps(notification.blocks)


async def test_a_presets_duration_applies_when_none_is_typed(presets: LocalStack) -> None:
    out = await slash(presets, "/ban sara #spam in the chat too", MODERATOR)

    ban = presets.emulator.state.bans["sara"]
    assert ban.expires_at is not None and ban.expires_at - ban.created_at == 2 * 3600
    assert ban.reason == f"Spamming the call — in the chat too {BY_TOM}"
    assert out.reply.startswith(":hammer: `sara` is banned for 2h")


async def test_a_preset_on_kick_and_block_is_recorded_and_audited(presets: LocalStack) -> None:
    out = await slash(presets, "/kick sara call-123 #noise", MODERATOR)
    assert out.reply.startswith(":boot: `sara` was kicked")
    assert out.log == [
        "<@U0MODER01> · kick `sara` from `default:call-123` · reason: Loud background noise · "
        ":white_check_mark: done · Case #1"
    ]
    assert await case_reason(presets, 1) == "Loud background noise"

    out = await slash(presets, "/block john call-123 swearing & <shouting>", MODERATOR)
    assert "reason: swearing &amp; &lt;shouting&gt;" in out.log[0]
    assert await case_reason(presets, 2) == "swearing & <shouting>"


async def test_an_unknown_preset_is_a_usage_sentence_listing_the_keys(presets: LocalStack) -> None:
    out = await slash(presets, "/ban sara 2h #nope")

    assert out.reply == (
        ":warning: `#nope` is not a reason preset (known: `#spam`, `#slur`, `#noise`).\n"
        "Usage: `/ban &lt;user&gt; [duration] [reason…] [--ip]`"
    )
    assert out.writes == [] and out.log == []
    assert "sara" not in presets.emulator.state.bans


async def test_an_admin_only_preset_is_denied_to_a_moderator(presets: LocalStack) -> None:
    out = await slash(presets, "/ban sara #slur", MODERATOR)

    assert out.reply.startswith(":lock: You need the *admin* role to ban `sara` for 1h;")
    assert out.writes == [] and out.log == []
    out = await slash(presets, "/kick sara call-123 #slur", MODERATOR)
    assert out.reply.startswith(":lock: You need the *admin* role to kick `sara`")
    assert out.writes == []

    out = await slash(presets, "/ban sara #slur", ADMIN)
    assert presets.emulator.state.bans["sara"].reason == f"Slurs {BY_MARIA}"


async def test_help_lists_the_presets_the_reader_may_use(presets: LocalStack) -> None:
    moderator = (await slash(presets, "/mod help", MODERATOR)).reply
    assert "Reason presets (type after the user, e.g. `/ban sara #spam`):" in moderator
    assert "`#spam` Spam, `#noise` Noise" in moderator and "#slur" not in moderator
    assert "`#slur` Hate speech" in (await slash(presets, "/mod help", ADMIN)).reply


async def test_without_presets_help_has_no_preset_line(stack: LocalStack) -> None:
    assert "Reason presets" not in (await slash(stack, "/mod help", ADMIN)).reply


# --- MOD_REQUIRE_REASON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "example", "usage"),
    [
        (
            "/ban sara 2h",
            "`/ban sara 2h spamming`",
            "/ban &lt;user&gt; [duration] [reason…] [--ip]",
        ),
        (
            "/ban sara --ip",
            "`/ban sara 2h spamming`",
            "/ban &lt;user&gt; [duration] [reason…] [--ip]",
        ),
        (
            "/kick sara call-123 --block",
            "`/kick sara call-123 spamming`",
            "/kick &lt;user&gt; &lt;call&gt; [reason…] [--block]",
        ),
        (
            "/block sara call-123",
            "`/block sara call-123 spamming`",
            "/block &lt;user&gt; &lt;call&gt; [reason…]",
        ),
    ],
)
async def test_a_required_reason_is_refused_without_one(
    strict: LocalStack, line: str, example: str, usage: str
) -> None:
    out = await slash(strict, line)

    assert out.reply == f":warning: {REQUIRED}{example} or `#spam`.\nUsage: `{usage}`"
    assert out.writes == [] and out.log == []


async def test_a_required_reason_typed_or_preset_is_accepted(strict: LocalStack) -> None:
    assert (await slash(strict, "/ban sara 2h spamming")).reply.startswith(":hammer:")
    assert (await slash(strict, "/ban john #spam")).reply.startswith(":hammer: `john` is banned")
    assert (await slash(strict, "/kick bob call-123 rude")).reply.startswith(":boot:")
    assert (await slash(strict, "/block alice call-123 #noise")).reply.startswith(":no_entry:")
    # Commands that are not bans, kicks or blocks need no reason.
    assert (await slash(strict, "/unblock alice call-123")).reply.startswith(":unlock:")


# --- message metadata -----------------------------------------------------------------------


async def test_the_audit_line_carries_callmod_case_metadata(presets: LocalStack) -> None:
    await slash(presets, "/kick sara call-123 #noise", MODERATOR)

    [line] = presets.slack.messages_in(LOG_CHANNEL)
    assert line.metadata == {
        "event_type": "callmod_case",
        "event_payload": {"user_id": "sara", "call_cid": "default:call-123", "case_number": 1},
    }


async def test_the_ban_notification_carries_metadata_through_its_edits(
    presets: LocalStack,
) -> None:
    await slash(presets, "/ban sara 30m #spam")
    [notification] = ban_notifications(presets, "sara")
    expected = {
        "event_type": "callmod_case",
        "event_payload": {"user_id": "sara", "case_number": 1},
    }
    assert notification.metadata == expected

    await slash(presets, "/unban sara")
    assert notification.history, "the notification was edited"
    assert notification.metadata == expected
    updates = presets.slack.calls_to("chat.update")
    assert updates and all(c.args.get("metadata") == expected for c in updates)
