"""Account commands end to end: /deactivate (confirm first), /reactivate, /userblock,
/userunblock, /blocked."""

from __future__ import annotations

from bot.local.stack import ADMIN, LocalStack

from .cmdtest import CANCEL, button_value, click, confirm, slash


async def test_deactivate_asks_first_then_deactivates(stack: LocalStack) -> None:
    asked = await slash(stack, "/deactivate sara")

    assert asked.reply == ":warning: Really deactivate `sara`?"
    assert asked.writes == [] and asked.log == []
    assert not stack.emulator.state.users["sara"].deactivated

    done = await confirm(stack, asked)

    assert stack.emulator.state.users["sara"].deactivated
    assert done.reply == ":zzz: `sara` is deactivated and can no longer connect.\n_Case #1_"
    assert done.log == ["<@U0ADMIN01> · deactivate `sara` · :white_check_mark: done · Case #1"]
    assert [w.path for w in done.writes] == ["/api/v2/users/sara/deactivate"]
    assert done.writes[0].body == {"created_by_id": "callmod-bot"}


async def test_deactivate_with_delete_messages(stack: LocalStack) -> None:
    asked = await slash(stack, "/deactivate sara --delete-messages")
    assert asked.reply == ":warning: Really deactivate `sara` and mark their messages deleted?"

    done = await confirm(stack, asked)

    assert stack.emulator.state.users["sara"].deactivated
    assert done.writes[0].body == {"created_by_id": "callmod-bot", "mark_messages_deleted": True}
    assert done.reply.endswith("Their messages are marked deleted.\n_Case #1_")
    assert done.log == [
        "<@U0ADMIN01> · deactivate `sara` and mark their messages deleted · :white_check_mark: done"
        " · Case #1"
    ]


async def test_deactivate_cancel_changes_nothing(stack: LocalStack) -> None:
    asked = await slash(stack, "/deactivate sara")

    out = await click(stack, CANCEL, button_value(asked, CANCEL), ADMIN, response_key=asked.key)

    assert out.reply == "Cancelled; nothing was changed."
    assert out.writes == [] and out.log == []
    assert not stack.emulator.state.users["sara"].deactivated


async def test_reactivate(stack: LocalStack) -> None:
    stack.emulator.state.deactivate("sara", created_by=None)

    out = await slash(stack, "/reactivate sara")

    assert not stack.emulator.state.users["sara"].deactivated
    assert out.reply == ":sunrise: `sara` is active again.\n_Case #1_"
    assert out.log == ["<@U0ADMIN01> · reactivate `sara` · :white_check_mark: done · Case #1"]
    assert out.writes[0].body == {"created_by_id": "callmod-bot"}


async def test_reactivate_with_restore_messages(stack: LocalStack) -> None:
    stack.emulator.state.deactivate("sara", created_by=None)

    out = await slash(stack, "/reactivate sara --restore-messages")

    assert not stack.emulator.state.users["sara"].deactivated
    assert out.writes[0].body == {"created_by_id": "callmod-bot", "restore_messages": True}
    assert out.reply == ":sunrise: `sara` is active again. Their messages are restored.\n_Case #1_"
    assert out.log == [
        "<@U0ADMIN01> · reactivate `sara` and restore their messages · :white_check_mark: done"
        " · Case #1"
    ]


async def test_userblock(stack: LocalStack) -> None:
    out = await slash(stack, "/userblock sara john")

    assert set(stack.emulator.state.blocked_by("sara")) == {"john"}
    assert out.reply.startswith(":no_bell: `sara` has blocked `john`")
    assert out.log == [
        "<@U0ADMIN01> · make `sara` block `john` · :white_check_mark: done · Case #1"
    ]
    assert out.writes[0].body == {"blocked_user_id": "john", "user_id": "sara"}


async def test_userunblock(stack: LocalStack) -> None:
    stack.emulator.state.block_user("sara", "john")

    out = await slash(stack, "/userunblock sara john")

    assert stack.emulator.state.blocked_by("sara") == {}
    assert out.reply == ":bell: `sara` no longer blocks `john`.\n_Case #1_"
    assert out.log == [
        "<@U0ADMIN01> · make `sara` unblock `john` · :white_check_mark: done · Case #1"
    ]


async def test_blocked_lists_a_users_blocks(stack: LocalStack) -> None:
    empty = await slash(stack, "/blocked sara")
    assert empty.reply == "`sara` has not blocked anyone."

    stack.emulator.state.block_user("sara", "john")
    stack.emulator.state.block_user("sara", "bob")
    out = await slash(stack, "/blocked sara")

    lines = out.reply.splitlines()
    assert lines[0] == "*`sara` blocks 2 users*"
    assert sorted(line.split("`")[1] for line in lines[1:]) == ["bob", "john"]
    assert all(" since <!date^1800000000^" in line for line in lines[1:])
    assert out.log == [] and out.writes == []  # read-only: no audit line
