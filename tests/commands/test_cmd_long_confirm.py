"""Confirmations whose command text would not fit a button value (Slack takes at most 2,000
characters, and the fake Slack refuses more with `invalid_blocks`, as Slack does): the text stays
in callmod, the buttons carry only the nonce, and a click still re-parses the command and
re-checks the clicker's role."""

from __future__ import annotations

from bot.core.confirmations import CONFIRMATION_TTL
from bot.local.stack import ADMIN, MODERATOR, LocalStack
from bot.util.clock import ManualClock

from .cmdtest import CALL, CANCEL, CONFIRM, button_value, click, confirm, requests_to, slash

LONG_MUTEALL = "/muteall call-123 " + " ".join(["audio"] * 400)
DEMO_PEOPLE = ("sara", "john", "alice", "bob")


async def test_a_long_muteall_asks_with_short_buttons_and_confirm_mutes(
    stack: LocalStack,
) -> None:
    asked = await slash(stack, LONG_MUTEALL)

    assert asked.reply == ":warning: Really mute audio of everyone in `default:call-123`?"
    assert [p.status for p in stack.slack.responses_for(asked.key)] == [200]
    for action_id in (CONFIRM, CANCEL):
        value = button_value(asked, action_id)
        assert len(value) <= 2000 and "audio" not in value
    assert asked.writes == [] and stack.emulator.state.calls[CALL].muted == {}

    done = await confirm(stack, asked)

    assert done.reply == ":mute: Muted audio of everyone in `default:call-123`.\n_Case #1_"
    assert stack.emulator.state.calls[CALL].muted == {p: {"audio"} for p in DEMO_PEOPLE}
    assert [w.body for w in done.writes] == [
        {"mute_all_users": True, "audio": True, "muted_by_id": "callmod-bot"}
    ]


async def test_a_long_confirmation_checks_the_clickers_role_again(stack: LocalStack) -> None:
    asked = await slash(stack, LONG_MUTEALL)

    denied = await confirm(stack, asked, MODERATOR)

    assert denied.reply.startswith(":lock: You need the *admin* role to use `/muteall`")
    assert denied.writes == [] and stack.emulator.state.calls[CALL].muted == {}
    done = await confirm(stack, asked, ADMIN)
    assert done.reply.startswith(":mute: Muted audio of everyone")


async def test_a_long_confirmation_is_handled_once(stack: LocalStack) -> None:
    asked = await slash(stack, LONG_MUTEALL)

    first = await confirm(stack, asked)
    second = await confirm(stack, asked)

    assert first.reply.startswith(":mute: Muted audio of everyone")
    assert second.reply == "This was already handled by <@U0ADMIN01>."
    assert len(requests_to(stack, "/mute_users")) == 1


async def test_a_long_confirmation_can_be_cancelled(stack: LocalStack) -> None:
    asked = await slash(stack, LONG_MUTEALL)

    cancelled = await click(
        stack, CANCEL, button_value(asked, CANCEL), ADMIN, response_key=asked.key
    )
    late = await confirm(stack, asked)

    assert cancelled.reply == "Cancelled; nothing was changed."
    assert late.reply == "This was already handled by <@U0ADMIN01>."
    assert requests_to(stack, "/mute_users") == []


async def test_a_long_confirmation_expires_on_the_clock(
    stack: LocalStack, clock: ManualClock
) -> None:
    asked = await slash(stack, LONG_MUTEALL)

    await clock.advance(CONFIRMATION_TTL + 1)
    late = await confirm(stack, asked)

    assert late.reply == (
        ":warning: This confirmation has expired; nothing was changed. Run the command again."
    )
    assert late.writes == [] and stack.emulator.state.calls[CALL].muted == {}


async def test_a_short_confirmation_still_carries_its_text(stack: LocalStack) -> None:
    asked = await slash(stack, "/muteall call-123 video")

    assert '"text":"call-123 video"' in button_value(asked, CONFIRM)
