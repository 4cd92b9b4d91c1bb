"""`/mod <command> …` runs the same grammar as the command's own slash; `/mod help` lists only
what the caller may use."""

from __future__ import annotations

import pytest

from bot.local.stack import ADMIN, MODERATOR, OUTSIDER, LocalStack

from .cmdtest import CALL, confirm, slash

MODERATOR_COMMANDS = [
    "kick",
    "block",
    "unblock",
    "mute",
    "grant",
    "revoke",
    "ban",
    "bans",
    "cases",
    "case",
    "calls",
    "roster",
    "user",
    "queue",
    "report",  # anyone's
]
ADMIN_ONLY_COMMANDS = [
    "muteall",
    "screenshare",
    "unban",
    "deactivate",
    "reactivate",
    "userblock",
    "userunblock",
    "blocked",
    "endcall",
    "rename",
    "clearavatar",
]


def _listed(reply: str) -> list[str]:
    """The command names a help reply lists, in order."""
    return [
        line.split("`/")[1].split("`")[0].split(" ")[0]
        for line in reply.splitlines()
        if "`/" in line and not line.startswith("Every command")
    ]


async def test_mod_kick_acts_like_kick(stack: LocalStack) -> None:
    out = await slash(stack, "/mod kick sara call-123", MODERATOR)

    assert "sara" not in stack.emulator.state.calls[CALL].participants
    assert out.reply == ":boot: `sara` was kicked from `default:call-123`.\n_Case #1_"
    assert out.log == [
        "<@U0MODER01> · kick `sara` from `default:call-123` · :white_check_mark: done · Case #1"
    ]


@pytest.mark.parametrize(
    "line",
    [
        "/mod MUTE john call-123 video",
        "/mod /mute john call-123 video",
        "/mod   mute  john  call-123  video",
    ],
)
async def test_mod_accepts_the_command_word_loosely(stack: LocalStack, line: str) -> None:
    out = await slash(stack, line, MODERATOR)

    assert stack.emulator.state.calls[CALL].muted == {"john": {"video"}}
    assert out.reply.startswith(":mute: Muted video of `john`")
    assert len(out.log) == 1


async def test_mod_grant_and_ban(stack: LocalStack) -> None:
    stack.emulator.state.calls[CALL].permissions["bob"] = set()

    await slash(stack, "/mod grant bob call-123 audio", MODERATOR)
    ban = await slash(stack, "/mod ban alice 1h flooding", MODERATOR)

    assert stack.emulator.state.calls[CALL].permissions["bob"] == {"send-audio"}
    assert stack.emulator.state.bans["alice"].reason == "flooding (by @tom via Slack)"
    assert ban.reply.startswith(":hammer: `alice` is banned for 1h")


async def test_mod_muteall_still_asks_first(stack: LocalStack) -> None:
    asked = await slash(stack, "/mod muteall call-123")
    assert asked.reply.startswith(":warning: Really mute audio of everyone")
    assert stack.emulator.state.calls[CALL].muted == {}

    await confirm(stack, asked)

    assert set(stack.emulator.state.calls[CALL].muted) == {"sara", "john", "alice", "bob"}


async def test_mod_bad_input_shows_the_commands_usage(stack: LocalStack) -> None:
    out = await slash(stack, "/mod kick sara", MODERATOR)
    assert out.reply == (
        ":warning: some arguments are missing.\n"
        "Usage: `/kick &lt;user&gt; &lt;call&gt; [reason…] [--block]`"
    )
    assert out.writes == []


async def test_mod_help_for_an_admin_lists_everything(stack: LocalStack) -> None:
    out = await slash(stack, "/mod help", ADMIN)

    assert out.reply.startswith("*callmod commands for an admin*")
    assert sorted(_listed(out.reply)) == sorted(MODERATOR_COMMANDS + ADMIN_ONLY_COMMANDS)
    assert "Every command also works as `/mod &lt;command&gt; …`." in out.reply
    assert out.log == [] and out.writes == []


@pytest.mark.parametrize("line", ["/mod help", "/mod HELP", "/mod"])
async def test_mod_help_for_a_moderator_lists_only_their_commands(
    stack: LocalStack, line: str
) -> None:
    out = await slash(stack, line, MODERATOR)

    assert out.reply.startswith("*callmod commands for a moderator*")
    assert sorted(_listed(out.reply)) == sorted(MODERATOR_COMMANDS)
    # the usage is shown escaped, so `<user>` does not turn into a broken Slack link
    assert "`/kick &lt;user&gt; &lt;call&gt; [reason…] [--block]` — " in out.reply


async def test_mod_help_for_an_outsider_lists_nothing(stack: LocalStack) -> None:
    out = await slash(stack, "/mod help", OUTSIDER)

    assert out.reply.startswith(":lock: You have no callmod role")
    assert "/kick" not in out.reply
    assert "/report" in out.reply  # open to everyone
