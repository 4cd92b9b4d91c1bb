"""Shortcuts (issue 14) end to end: signed `shortcut` and `message_action` payloads in Slack's
shapes open the action form through the fake Slack's views.open, pre-filled from callmod's own
messages (their `callmod_case` metadata, else the case the store links to the message)."""

from __future__ import annotations

from typing import Any

from bot.local.fake_slack import OpenedView, PostedMessage
from bot.local.stack import ADMIN, LOG_CHANNEL, MODERATOR, OUTSIDER, LocalStack, Person
from bot.slack.action_form import ACTION_FORM
from bot.slack.shortcuts import GLOBAL_SHORTCUT, MESSAGE_SHORTCUT

from .cmdtest import CALL, slash


def opened(stack: LocalStack) -> OpenedView:
    [call] = stack.slack.calls_to("views.open")
    assert call.error is None, call.error
    return stack.slack.views[-1]


def initial(view: OpenedView, block_id: str) -> str | None:
    for block in view.view["blocks"]:
        if block.get("block_id") == block_id:
            option = block["element"].get("initial_option")
            return str(option["value"]) if option else None
    return None


def about(view: OpenedView) -> str | None:
    for block in view.view["blocks"]:
        if block.get("block_id") == "about":
            return str(block["elements"][0]["text"])
    return None


async def on_message(
    stack: LocalStack,
    who: Person = MODERATOR,
    *,
    message: PostedMessage | None = None,
    other: dict[str, Any] | None = None,
) -> None:
    assert stack.driver is not None
    status, body, _ = await stack.driver.message_shortcut(
        MESSAGE_SHORTCUT, user_id=who.user_id, user_name=who.user_name,
        message=message, other=other,
    )
    assert status == 200 and body == ""
    await stack.idle()


def audit_line(stack: LocalStack, starts: str) -> PostedMessage:
    [found] = [m for m in stack.slack.messages_in(LOG_CHANNEL) if m.text.startswith(starts)]
    return found


async def test_the_global_shortcut_opens_an_empty_form(stack: LocalStack) -> None:
    assert stack.driver is not None
    status, body = await stack.driver.shortcut(GLOBAL_SHORTCUT, user_id=MODERATOR.user_id)
    await stack.idle()

    assert status == 200 and body == ""
    view = opened(stack)
    assert view.callback_id == ACTION_FORM and view.user_id == MODERATOR.user_id
    assert initial(view, "action") == "mute"
    assert initial(view, "user") is None and initial(view, "call") is None


async def test_moderate_on_an_audit_line_fills_in_the_user_call_and_case(
    stack: LocalStack,
) -> None:
    await slash(stack, "/mute sara call-123", MODERATOR)
    line = audit_line(stack, "<@U0MODER01> · mute audio of `sara`")
    assert line.metadata is not None and line.metadata["event_type"] == "callmod_case"

    await on_message(stack, message=line)

    view = opened(stack)
    assert initial(view, "user") == "sara" and initial(view, "call") == CALL
    assert initial(view, "action") == "mute"
    assert about(view) == "About case #1."
    assert "This will mute audio of `sara` in `default:call-123`." in str(view.view["blocks"])


async def test_moderate_on_a_ban_notification_offers_the_ban(stack: LocalStack) -> None:
    await slash(stack, "/ban bob 1h spam", ADMIN, trigger=False)
    notification = audit_line(stack, ":hammer: `bob` was banned")

    await on_message(stack, message=notification)

    view = opened(stack)
    assert initial(view, "action") == "ban" and initial(view, "user") == "bob"
    assert "call" not in [b.get("block_id") for b in view.view["blocks"]]
    assert "This will ban `bob` for 1h." in str(view.view["blocks"])  # the length shown chosen


async def test_without_metadata_the_case_store_names_the_message(stack: LocalStack) -> None:
    await slash(stack, "/kick john call-123", MODERATOR)
    line = audit_line(stack, "<@U0MODER01> · kick `john`")
    line.metadata = None  # as if Slack left it out of the payload

    await on_message(stack, message=line)

    view = opened(stack)
    assert initial(view, "user") == "john" and initial(view, "call") == CALL
    assert about(view) == "About case #1."


async def test_other_messages_open_it_empty_and_foreign_metadata_is_ignored(
    stack: LocalStack,
) -> None:
    foreign = {
        "type": "message",
        "user": "U0OTHERBOT",
        "app_id": "A0SOMEONE",
        "text": "not ours",
        "metadata": {
            "event_type": "callmod_case",
            "event_payload": {"user_id": "alice", "call_cid": CALL, "case_number": 9},
        },
    }
    await on_message(stack, other={"type": "message", "user": "U0PERSON", "text": "hello"})
    await on_message(stack, other=foreign)

    first, second = stack.slack.views[-2:]
    for view in (first, second):
        assert view.callback_id == ACTION_FORM
        assert initial(view, "user") is None and about(view) is None


async def test_outsiders_are_told_they_have_no_role(stack: LocalStack) -> None:
    assert stack.driver is not None
    await stack.driver.shortcut(GLOBAL_SHORTCUT, user_id=OUTSIDER.user_id)
    await stack.idle()

    view = opened(stack)
    assert view.callback_id != ACTION_FORM and "submit" not in view.view
    assert "You have no callmod role" in str(view.view["blocks"])


async def test_a_late_shortcut_says_to_try_again(stack: LocalStack) -> None:
    stack.slack.trigger_lag = 3.5
    await on_message(stack, other={"type": "message", "user": "U0PERSON", "text": "hello"})

    [call] = stack.slack.calls_to("views.open")
    assert call.error == "expired_trigger_id"
    [told] = [m.text for m in stack.slack.messages if m.ephemeral_user == MODERATOR.user_id]
    assert told.startswith(":hourglass: The form could not open in time")
