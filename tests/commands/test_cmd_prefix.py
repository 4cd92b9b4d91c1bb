"""`MOD_COMMAND_PREFIX=cm-`: the bot answers `/cm-kick` (the names `python -m bot manifest
--prefix cm-` declares) and still the plain `/kick`; `/mod` keeps its name and takes either
word; help, usage lines and denials name the prefixed commands."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.local.stack import ADMIN, MODERATOR, LocalStack
from bot.settings import ConfigError, load_settings
from bot.util.clock import ManualClock

from .cmdtest import CALL, confirm, slash


@pytest.fixture
async def prefixed(clock: ManualClock) -> AsyncIterator[LocalStack]:
    local = LocalStack(clock=clock, mod_command_prefix="cm-")
    await local.start()
    await local.idle()
    try:
        yield local
    finally:
        await local.stop()


async def test_the_prefixed_name_runs_the_command(prefixed: LocalStack) -> None:
    out = await slash(prefixed, "/cm-kick sara call-123", MODERATOR)

    assert "sara" not in prefixed.emulator.state.calls[CALL].participants
    assert out.reply == ":boot: `sara` was kicked from `default:call-123`.\n_Case #1_"


async def test_the_plain_name_is_still_answered(prefixed: LocalStack) -> None:
    out = await slash(prefixed, "/mute john call-123 video", MODERATOR)

    assert prefixed.emulator.state.calls[CALL].muted == {"john": {"video"}}
    assert out.reply.startswith(":mute: Muted video of `john`")


@pytest.mark.parametrize("word", ["mute", "cm-mute", "/cm-mute", "CM-MUTE"])
async def test_mod_takes_either_name(prefixed: LocalStack, word: str) -> None:
    out = await slash(prefixed, f"/mod {word} john call-123 video", MODERATOR)

    assert prefixed.emulator.state.calls[CALL].muted == {"john": {"video"}}
    assert out.reply.startswith(":mute: Muted video of `john`")


async def test_mod_help_lists_the_prefixed_names(prefixed: LocalStack) -> None:
    out = await slash(prefixed, "/mod help", MODERATOR)

    listed = [line for line in out.reply.splitlines() if line.startswith("`/")]
    assert listed and all(line.startswith("`/cm-") for line in listed)
    assert "`/cm-kick &lt;user&gt; &lt;call&gt; [reason…] [--block]` — " in out.reply
    assert "Every command also works as `/mod &lt;command&gt; …`." in out.reply


async def test_usage_and_denials_name_the_prefixed_command(prefixed: LocalStack) -> None:
    # Without a trigger_id: with one, `/cm-kick sara` opens the action form (issue 14).
    usage = await slash(prefixed, "/cm-kick sara", MODERATOR, trigger=False)
    denied = await slash(prefixed, "/cm-muteall call-123", MODERATOR)

    assert usage.reply == (
        ":warning: some arguments are missing.\n"
        "Usage: `/cm-kick &lt;user&gt; &lt;call&gt; [reason…] [--block]`"
    )
    assert denied.reply.startswith(":lock: You need the *admin* role to use `/cm-muteall`")


async def test_confirmations_work_under_the_prefixed_name(prefixed: LocalStack) -> None:
    asked = await slash(prefixed, "/cm-muteall call-123", ADMIN)
    await confirm(prefixed, asked)

    assert set(prefixed.emulator.state.calls[CALL].muted) == {"sara", "john", "alice", "bob"}


async def test_without_a_prefix_help_lists_the_plain_names(stack: LocalStack) -> None:
    out = await slash(stack, "/mod help", MODERATOR)

    assert "`/kick &lt;user&gt; &lt;call&gt; [reason…] [--block]` — " in out.reply
    assert "/cm-" not in out.reply


@pytest.mark.parametrize("prefix", ["CM-", "-cm", "cm!", "c" * 21])
def test_a_malformed_prefix_is_refused_with_one_line(prefix: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(mod_command_prefix=prefix, _env_file=None)

    assert str(refused.value).startswith("MOD_COMMAND_PREFIX: ")
    assert "\n" not in str(refused.value)
