"""/endcall end to end: it asks first, then ends the call for everyone in the emulator (mark_ended),
recorded as a case with an audit line; Cancel, a moderator and an unknown call change nothing."""

from __future__ import annotations

from bot.cases import Kind, Outcome
from bot.local.stack import ADMIN, MODERATOR, LocalStack

from .cmdtest import CALL, CANCEL, button_value, click, confirm, slash


async def test_endcall_asks_first_then_ends_the_call_for_everyone(stack: LocalStack) -> None:
    asked = await slash(stack, "/endcall call-123 raid <!channel>")

    assert asked.reply == (":warning: Really end `default:call-123` for everyone (4 people in it)?")
    assert asked.writes == [] and asked.log == []
    assert stack.emulator.state.calls[CALL].ended_at is None

    done = await confirm(stack, asked)

    call = stack.emulator.state.calls[CALL]
    assert call.ended_at is not None and set(call.participants) == set()
    assert done.reply == (
        ":octagonal_sign: `default:call-123` has ended for everyone; their apps are told to "
        "leave the call.\n_Case #1_"
    )
    assert done.log == [
        "<@U0ADMIN01> · end `default:call-123` for everyone (4 people in it) · reason: raid "
        "&lt;!channel&gt; · :white_check_mark: done · Case #1"
    ]
    [write] = done.writes
    assert (write.method, write.path) == ("POST", "/api/v2/video/call/default/call-123/mark_ended")
    assert stack.store is not None
    case = await stack.store.get(1)
    assert case is not None
    assert (case.kind, case.outcome, case.call_cid) == (Kind.END_CALL, Outcome.DONE, CALL)
    assert (case.target_user_id, case.reason) == (None, "raid <!channel>")

    shown = await slash(stack, "/case 1")
    assert "What: end `default:call-123` for everyone (4 people in it)" in shown.reply
    assert "Reason: raid &lt;!channel&gt;" in shown.reply


async def test_an_ended_call_refuses_joins(stack: LocalStack) -> None:
    await confirm(stack, await slash(stack, "/endcall call-123"))

    out = await slash(stack, "/endcall call-123")

    assert out.reply == "`default:call-123` has already ended; nothing was changed."
    assert out.writes == [] and out.log == []


async def test_cancel_changes_nothing(stack: LocalStack) -> None:
    asked = await slash(stack, "/endcall call-123")

    out = await click(stack, CANCEL, button_value(asked, CANCEL), ADMIN, response_key=asked.key)

    assert out.reply == "Cancelled; nothing was changed."
    assert out.writes == [] and out.log == []
    assert stack.emulator.state.calls[CALL].ended_at is None
    assert len(stack.emulator.state.calls[CALL].participants) == 4


async def test_a_moderator_is_denied(stack: LocalStack) -> None:
    out = await slash(stack, "/endcall call-123", MODERATOR)

    assert out.reply == (
        ":lock: You need the *admin* role to use `/endcall`; you have the moderator role. "
        "Nothing was sent to Stream."
    )
    assert stack.emulator.state.calls[CALL].ended_at is None


async def test_a_moderator_cannot_confirm_an_admins_prompt(stack: LocalStack) -> None:
    asked = await slash(stack, "/endcall call-123")

    out = await confirm(stack, asked, MODERATOR)

    assert out.reply.startswith(":lock: You need the *admin* role to use `/endcall`")
    assert stack.emulator.state.calls[CALL].ended_at is None


async def test_unknown_call_is_a_sentence_and_the_usage(stack: LocalStack) -> None:
    out = await slash(stack, "/endcall call-999 raid")

    assert out.reply == (
        ":warning: call default:call-999 does not exist.\nUsage: `/endcall &lt;call&gt; [reason…]`"
    )
    assert out.writes == [] and out.log == []
    assert stack.store is not None and await stack.store.get(1) is None


async def test_bad_input_is_a_sentence_and_the_usage(stack: LocalStack) -> None:
    out = await slash(stack, "/endcall call.123")

    assert out.reply == (
        ":warning: `call.123` is not a call id (letters, digits, _ or -, at most 64; e.g. "
        "`call-123` or `livestream:call-123`).\nUsage: `/endcall &lt;call&gt; [reason…]`"
    )
    assert out.writes == []
