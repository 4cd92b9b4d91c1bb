"""Undo end to end: the private reply of a reversible command has an Undo button that runs the
inverse as the clicker (their role re-checked), once, within MOD_UNDO_SECONDS; the inverse is a
case linked to the original by notes, and the original's announcement is edited."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.cases import CaseStore
from bot.core.undo import UNDO_ACTION
from bot.local.fake_slack import PostedMessage
from bot.local.stack import ADMIN, LOG_CHANNEL, MODERATOR, LocalStack, Person
from bot.util.clock import ManualClock

from .cmdtest import (
    CALL,
    Outcome,
    ban_notifications,
    blocks_text,
    button_value,
    click,
    clicks_at_once,
    confirm,
    find_button,
    slash,
)


async def undo(stack: LocalStack, done: Outcome, who: Person = ADMIN) -> Outcome:
    value = button_value(done, UNDO_ACTION)
    return await click(stack, UNDO_ACTION, value, who, response_key=done.key)


def audit_message(stack: LocalStack, case: int) -> PostedMessage:
    [found] = [m for m in stack.slack.messages_in(LOG_CHANNEL) if m.text.endswith(f"Case #{case}")]
    return found


async def notes(stack: LocalStack, number: int) -> list[str]:
    store = stack.store
    assert isinstance(store, CaseStore)
    case = await store.get(number)
    assert case is not None
    return [note.text for note in case.notes]


async def assert_linked(stack: LocalStack, original: int, undone_by: int) -> None:
    assert f"Undone by #{undone_by}" in await notes(stack, original)
    assert f"Undoes #{original}" in await notes(stack, undone_by)
    line = audit_message(stack, original)
    assert line.history, "the original audit line was not edited"
    assert f"undone by <@U0ADMIN01> (Case #{undone_by})" in line.text


@pytest.mark.parametrize(
    ("line", "check_done", "inverse_word"),
    [
        (
            "/block john call-123",
            lambda s: "john" in s.emulator.state.calls[CALL].blocked,
            "unblock",
        ),
        (
            "/kick john call-123 --block",
            lambda s: "john" in s.emulator.state.calls[CALL].blocked,
            "unblock",
        ),
        (
            "/grant john call-123 screenshare",
            lambda s: "screenshare" in s.emulator.state.calls[CALL].permissions.get("john", set()),
            "stop `john`",
        ),
        (
            "/userblock sara bob",
            lambda s: "bob" in s.emulator.state.user_blocks.get("sara", {}),
            "unblock `bob`",
        ),
        (
            "/userunblock sara bob",
            lambda s: "bob" not in s.emulator.state.user_blocks.get("sara", {}),
            "block `bob`",
        ),
    ],
)
async def test_undo_runs_the_inverse_and_links_the_cases(
    stack: LocalStack, line: str, check_done: Callable[[LocalStack], bool], inverse_word: str
) -> None:
    if line.startswith("/userunblock"):
        await slash(stack, "/userblock sara bob")  # case #1, its own Undo not used
        first = 2
    else:
        first = 1
    done = await slash(stack, line)
    assert check_done(stack)
    assert find_button(done.response_blocks[-1], UNDO_ACTION) is not None

    undone = await undo(stack, done)

    assert not check_done(stack), "the inverse did not reach the emulator"
    assert undone.reply.endswith(f"_Case #{first + 1}_")
    assert len(undone.writes) == 1
    assert any(inverse_word in log for log in undone.log)
    await assert_linked(stack, first, first + 1)


async def test_revoke_undo_grants_again(stack: LocalStack) -> None:
    done = await slash(stack, "/revoke sara call-123 audio video")
    undone = await undo(stack, done)

    assert stack.emulator.state.calls[CALL].permissions["sara"] >= {"send-audio", "send-video"}
    assert undone.writes[0].body["grant_permissions"] == ["send-audio", "send-video"]
    await assert_linked(stack, 1, 2)


async def test_screenshare_undo_restores_the_previous_setting(stack: LocalStack) -> None:
    share = stack.emulator.state.calls[CALL].screensharing
    assert share.enabled and not share.access_request_enabled  # "on" to start with
    done = await slash(stack, "/screenshare call-123 request")
    assert share.access_request_enabled

    await undo(stack, done)

    assert share.enabled and not share.access_request_enabled
    await assert_linked(stack, 1, 2)
    again = await slash(stack, "/screenshare call-123 on")
    assert "Nothing to undo: it was already on" in blocks_text(again.response_blocks[-1])


async def test_deactivate_undo_reactivates_and_a_moderator_may_not(stack: LocalStack) -> None:
    asked = await slash(stack, "/deactivate bob")
    done = await confirm(stack, asked)
    assert stack.emulator.state.users["bob"].deactivated

    denied = await undo(stack, done, MODERATOR)
    assert denied.reply.startswith(":lock: You need the *admin* role to use `/reactivate`")
    assert denied.writes == []
    assert stack.emulator.state.users["bob"].deactivated

    undone = await undo(stack, done, ADMIN)  # the denial did not use the button up
    assert not stack.emulator.state.users["bob"].deactivated
    assert undone.reply.startswith(":sunrise: `bob` is active again.")
    await assert_linked(stack, 1, 2)


async def test_ban_undo_unbans_and_closes_the_notification(stack: LocalStack) -> None:
    done = await slash(stack, "/ban sara 2h spamming")
    [notification] = ban_notifications(stack, "sara")

    undone = await undo(stack, done)

    assert stack.emulator.state.active_ban("sara") is None
    assert undone.reply == ":dove_of_peace: `sara` is no longer banned.\n_Case #2_"
    assert "Unbanned by <@U0ADMIN01>" in blocks_text(notification.blocks)
    assert "Undone by #2" in await notes(stack, 1)
    assert "Undoes #1" in await notes(stack, 2)


async def test_a_moderators_ban_is_undone_only_by_an_admin(stack: LocalStack) -> None:
    done = await slash(stack, "/ban sara 1h", MODERATOR)
    denied = await undo(stack, done, MODERATOR)
    assert denied.reply.startswith(":lock: You need the *admin* role to use `/unban`")
    assert stack.emulator.state.active_ban("sara") is not None


async def test_undo_expires_after_mod_undo_seconds(stack: LocalStack, clock: ManualClock) -> None:
    done = await slash(stack, "/block john call-123")
    await clock.advance(1800 + 1)

    late = await undo(stack, done)

    assert late.reply == (
        ":hourglass: Undo is no longer available (30 minutes passed); "
        "use `/unblock john default:call-123`. Nothing was changed."
    )
    assert late.writes == []
    assert "john" in stack.emulator.state.calls[CALL].blocked


async def test_undo_window_follows_the_setting(clock: ManualClock) -> None:
    local = LocalStack(clock=clock, mod_undo_seconds=60)
    await local.start()
    try:
        done = await slash(local, "/ban sara 2h")
        await clock.advance(61)
        late = await undo(local, done)
        assert late.reply.startswith(
            ":hourglass: Undo is no longer available (1 minute passed); use `/unban sara`."
        )
    finally:
        await local.stop()


async def test_two_clicks_undo_once(stack: LocalStack) -> None:
    done = await slash(stack, "/block john call-123")
    value = button_value(done, UNDO_ACTION)

    await clicks_at_once(stack, UNDO_ACTION, value, [ADMIN, MODERATOR, ADMIN], done.key)

    unblocks = [r for r in stack.emulator.requests if r.path.endswith("/unblock")]
    assert len(unblocks) == 1
    later = await undo(stack, done, MODERATOR)
    assert later.reply.startswith("This was already undone by <@U0")
    assert later.writes == []


async def test_mute_has_no_undo_and_says_why(stack: LocalStack) -> None:
    done = await slash(stack, "/mute sara call-123 audio", MODERATOR)

    [shown] = done.response_blocks
    assert find_button(shown, UNDO_ACTION) is None
    assert "Stream has no unmute; the user can unmute themselves" in blocks_text(shown)


async def test_kick_without_block_has_nothing_to_undo(stack: LocalStack) -> None:
    done = await slash(stack, "/kick sara call-123")

    [shown] = done.response_blocks
    assert find_button(shown, UNDO_ACTION) is None
    assert "Nothing to undo" in blocks_text(shown)
