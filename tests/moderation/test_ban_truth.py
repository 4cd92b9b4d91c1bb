"""callmod's view of bans agrees with Stream's: a ban whose answer was lost is still announced as
the moderator's, /bans answers from Stream, and what callmod knows is shown alongside."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.cases import Outcome
from bot.local.stack import MODERATOR, LocalStack
from bot.util.clock import ManualClock
from bot.util.timefmt import format_stream_time
from tests.commands.cmdtest import click, find_button


@pytest.fixture
async def stack(clock: ManualClock) -> AsyncIterator[LocalStack]:
    local = LocalStack(clock=clock, mod_reconcile_seconds=300)
    await local.start()
    await local.idle()
    try:
        yield local
    finally:
        await local.stop()


@pytest.fixture
async def slow_stack(clock: ManualClock) -> AsyncIterator[LocalStack]:
    local = LocalStack(clock=clock, stream_deadline=0.5)
    await local.start()
    await local.idle()
    try:
        yield local
    finally:
        local.emulator.faults.clear()
        await local.stop()


def notifications(stack: LocalStack, user: str) -> list[str]:
    return [
        m.text
        for m in stack.slack.messages_in("C0MODLOG")
        if m.text.startswith(f":hammer: `{user}`")
    ]


async def test_a_ban_whose_answer_was_lost_is_announced_timed_and_listed(
    slow_stack: LocalStack,
) -> None:
    stack = slow_stack
    # Stream bans at once and sends user.banned, but its answer comes after callmod's deadline.
    stack.emulator.faults.latency(1.0, times=1, path="/moderation/ban", after_apply=True)
    result = await stack.slash("/ban bob 2h spamming")
    [reply] = stack.replies(result)
    assert reply.startswith(":hammer: `bob` is banned for 2h")

    assert stack.emulator.state.active_ban("bob") is not None
    [notification] = notifications(stack, "bob")
    assert notification.startswith(":hammer: `bob` was banned by <@U0ADMIN01> for 2h")
    assert stack.callmod is not None
    assert stack.callmod.bans.timers.get("bob") is not None
    assert stack.store is not None
    case = await stack.store.get(1)
    assert case is not None and case.outcome is Outcome.DONE  # Stream showed it was applied
    listed = await stack.slash("/bans bob", MODERATOR)
    [answer] = stack.replies(listed)
    assert answer.startswith("*Active bans* (1)\n• `bob` — 2h left")
    assert (
        "— spamming — by <@U0ADMIN01> · <https://callmod-test.slack.com/archives/C0MODLOG/p"
        in answer
    )


async def test_bans_asks_stream_not_callmods_memory(stack: LocalStack) -> None:
    stack.emulator.webhook_url = None  # a ban callmod never hears of
    stack.emulator.state.ban(
        "alice", banned_by="john", reason="from the dashboard", timeout_minutes=None, ip_ban=False
    )
    out = await stack.slash("/bans", MODERATOR)
    [answer] = stack.replies(out)
    assert answer == (
        "*Active bans* (1)\n• `alice` — permanent — from the dashboard — by `john` in Stream"
    )


async def test_an_echo_after_the_lost_answer_is_the_moderators_ban_with_its_case(
    slow_stack: LocalStack, clock: ManualClock
) -> None:
    stack = slow_stack
    # The request times out before Stream acts; Stream applies it later (as the emulator's
    # state and webhook show), after callmod has told the moderator it may have been applied.
    stack.emulator.faults.server_error(status=504, times=None, path="/moderation/ban")
    result = await stack.slash("/ban bob 2h spamming")
    [reply] = stack.replies(result)
    assert "may have been applied" in reply
    assert notifications(stack, "bob") == []
    stack.emulator.faults.clear()
    ban = stack.emulator.state.ban(
        "bob", banned_by="callmod-bot", reason="spamming", timeout_minutes=120, ip_ban=False
    )
    await stack.emulator.send_event(
        {
            "type": "user.banned",
            "user": {"id": "bob"},
            "created_by": {"id": "callmod-bot"},
            "created_at": format_stream_time(ban.created_at),
            "expiration": format_stream_time(ban.created_at + 7200),
        }
    )
    await stack.idle()

    [notification] = notifications(stack, "bob")
    assert notification.startswith(":hammer: `bob` was banned by <@U0ADMIN01> for 2h")
    assert stack.store is not None
    case = await stack.store.get(1)
    assert case is not None and case.outcome is Outcome.DONE


def hourglass_lines(stack: LocalStack) -> list[str]:
    return [m.text for m in stack.slack.messages_in("C0MODLOG") if m.text.startswith(":hourglass:")]


async def reconcile_after(stack: LocalStack, clock: ManualClock, seconds: float) -> None:
    """Let the periodic reconciliation run once (it reads Stream for real)."""
    assert stack.callmod is not None
    book = stack.callmod.bans
    book.reconciled.clear()
    await clock.advance(seconds)
    await book.reconciled.wait()
    await stack.idle()


async def test_reconciliation_follows_a_ban_whose_webhook_never_came(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.callmod is not None
    await stack.callmod.bans.rehydrated.wait()  # known from here on only through reconciling
    stack.emulator.webhook_url = None
    stack.emulator.state.ban(
        "alice", banned_by="john", reason="dashboard", timeout_minutes=60, ip_ban=False
    )
    await reconcile_after(stack, clock, 300)

    [notification] = notifications(stack, "alice")
    assert notification.startswith(":hammer: `alice` was banned by `john` in Stream for 1h")
    assert stack.callmod is not None and stack.callmod.bans.timers.get("alice") is not None
    await reconcile_after(stack, clock, 300)
    assert len(notifications(stack, "alice")) == 1  # known now: not announced twice


async def test_reconciliation_closes_a_ban_lifted_without_a_webhook(
    stack: LocalStack, clock: ManualClock
) -> None:
    await stack.slash("/ban sara 2h spam")
    [message] = stack.slack.messages_in("C0MODLOG")
    stack.emulator.webhook_url = None
    stack.emulator.state.unban("sara", unbanned_by=None)

    await reconcile_after(stack, clock, 300)

    assert "Unbanned by Stream at" in message.text
    assert find_button(message.blocks, "callmod_unban") is None
    assert stack.store is not None
    history = await stack.store.history_for_user("sara")
    assert [c.kind.value for c in history.cases] == ["unban", "ban"]
    listed = await stack.slash("/bans", MODERATOR)
    assert stack.replies(listed) == ["No active bans."]


async def test_an_expiry_owed_across_a_restart_is_announced_once(
    stack: LocalStack, clock: ManualClock
) -> None:
    await stack.slash("/ban sara 30m spam")
    [message] = stack.slack.messages_in("C0MODLOG")
    # Slack fails while the ban expires: Stream lifts it, the announcement stays owed.
    stack.slack.fail_next("chat.update", error="internal_error", times=50)
    await clock.advance(30 * 60)
    await stack.idle()
    assert stack.emulator.state.active_ban("sara") is None
    assert find_button(message.blocks, "callmod_unban") == "sara"
    await stack.stop_callmod()
    stack.slack.clear_failures()

    callmod = await stack.start_callmod()
    await callmod.bans.rehydrated.wait()
    await reconcile_after(stack, clock, 300)

    assert "Expired at" in message.text and find_button(message.blocks, "callmod_unban") is None
    lines = [
        m.text for m in stack.slack.messages_in("C0MODLOG") if m.text.startswith(":hourglass:")
    ]
    assert lines == [":hourglass: The ban of `sara` has expired."]
    await reconcile_after(stack, clock, 300)
    lines = [
        m.text for m in stack.slack.messages_in("C0MODLOG") if m.text.startswith(":hourglass:")
    ]
    assert len(lines) == 1


async def test_a_notification_that_cannot_be_edited_does_not_hold_up_the_expiry(
    stack: LocalStack, clock: ManualClock
) -> None:
    await stack.slash("/ban sara 30m")
    [message] = stack.slack.messages_in("C0MODLOG")
    message.deleted = True  # someone deleted it: chat.update answers message_not_found

    await clock.advance(30 * 60)
    await stack.idle()

    lines = [
        m.text for m in stack.slack.messages_in("C0MODLOG") if m.text.startswith(":hourglass:")
    ]
    assert lines == [
        ":hourglass: The ban of `sara` has expired. Its notification could not be updated."
    ]
    assert stack.callmod is not None and len(stack.callmod.bans.timers) == 0
    assert len(stack.slack.calls_to("chat.update")) == 1  # not retried forever


async def test_an_unban_click_whose_edit_fails_is_still_audited(stack: LocalStack) -> None:
    await stack.slash("/ban sara 2h")
    [message] = stack.slack.messages_in("C0MODLOG")
    stack.slack.fail_next("chat.update", error="internal_error", times=10)

    out = await click(stack, "callmod_unban", "sara", message=message)

    assert out.reply.startswith(":dove_of_peace: You unbanned `sara`.")
    assert "The ban notification could not be updated." in out.reply
    assert stack.emulator.state.active_ban("sara") is None
    assert out.log == ["<@U0ADMIN01> · unban `sara` · :white_check_mark: done · Case #2"]
