"""Permission requests end to end: the emulator sends a signed `call.permission_request`, callmod
posts it to the requests channel, moderators click Approve / Deny through signed block_actions."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.local.emulator import events as emulator_events
from bot.local.fake_slack import PostedMessage
from bot.local.slack_driver import ClickResult
from bot.local.stack import (
    ADMIN,
    LOG_CHANNEL,
    MODERATOR,
    OUTSIDER,
    REQUESTS_CHANNEL,
    LocalStack,
    Person,
)
from bot.moderation.history.render import HISTORY_ACTION
from bot.moderation.permission_requests import APPROVE_ACTION, APPROVE_ONLY_ACTIONS, DENY_ACTION
from bot.slack.blocks import BUTTON_VALUE_LIMIT, MAX_ACTIONS, MAX_BLOCKS
from bot.util.clock import ManualClock

CALL = "default:call-123"
EVIL_NAME = "<!channel> *x* <http://evil|click>"


# -- helpers ---------------------------------------------------------------------------------------


def request_messages(stack: LocalStack) -> list[PostedMessage]:
    return [m for m in stack.slack.messages_in(REQUESTS_CHANNEL) if not m.ephemeral]


def only_message(stack: LocalStack) -> PostedMessage:
    messages = request_messages(stack)
    assert len(messages) == 1, [m.text for m in messages]
    return messages[0]


def block_text(block: dict[str, Any]) -> str:
    if block["type"] == "section":
        return str(block["text"]["text"])
    if block["type"] == "context":
        return " ".join(str(e.get("text", "")) for e in block["elements"])
    return ""


def all_text(message: PostedMessage) -> str:
    return "\n".join([message.text, *(block_text(b) for b in message.blocks)])


def request_blocks(message: PostedMessage, user_id: str) -> tuple[str, dict[str, Any]]:
    """The section naming `user_id` and the block after it (its buttons or its status)."""
    for section, after in zip(message.blocks, message.blocks[1:], strict=False):
        if section["type"] == "section" and f"(`{user_id}`)" in block_text(section):
            return block_text(section), after
    raise AssertionError(f"no request from {user_id} in {all_text(message)}")


def button_value(message: PostedMessage, user_id: str, action_id: str) -> str:
    _, after = request_blocks(message, user_id)
    assert after["type"] == "actions", f"{user_id}'s request has no buttons: {after}"
    for element in after["elements"]:
        if element["action_id"] == action_id:
            return str(element["value"])
    raise AssertionError(f"no {action_id} button for {user_id}")


def permission_writes(stack: LocalStack) -> int:
    return sum(1 for r in stack.emulator.requests if r.path.endswith("/user_permissions"))


async def click(
    stack: LocalStack, message: PostedMessage, user_id: str, action_id: str, who: Person
) -> ClickResult:
    assert stack.driver is not None
    return await stack.driver.click(
        action_id=action_id,
        value=button_value(message, user_id, action_id),
        user_id=who.user_id,
        user_name=who.user_name,
        message=message,
    )


def click_replies(stack: LocalStack, result: ClickResult) -> list[str]:
    return [r.text for r in stack.slack.responses_for(result.response_key) if r.status == 200]


async def request(stack: LocalStack, user_id: str, *permissions: str) -> None:
    asked = list(permissions or ["send-audio"])
    await stack.emulator.raise_permission_request(CALL, user_id, asked)
    await stack.idle()


def revoke(stack: LocalStack, user_id: str, *permissions: str) -> None:
    stack.emulator.state.calls[CALL].permissions[user_id].difference_update(permissions)


def held(stack: LocalStack, user_id: str) -> set[str]:
    return stack.emulator.state.calls[CALL].permissions[user_id]


def add_participant(stack: LocalStack, user_id: str, name: str) -> None:
    stack.emulator.add_user(user_id, name)
    call = stack.emulator.state.calls[CALL]
    call.members.add(user_id)
    call.participants.add(user_id)
    call.permissions[user_id] = set()


async def post_webhook(
    stack: LocalStack, body: bytes, *, headers: dict[str, str]
) -> int:
    assert stack.callmod is not None
    async with aiohttp.ClientSession() as session, session.post(
        stack.callmod.base_url + "/stream/webhook", data=body, headers=headers
    ) as response:
        await response.read()
        return response.status


def signed_headers(stack: LocalStack, body: bytes, webhook_id: str | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Api-Key": stack.emulator.api_key,
        "X-Signature": hmac.new(
            stack.emulator.api_secret.encode(), body, hashlib.sha256
        ).hexdigest(),
        "X-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Webhook-Attempt": "1",
    }


def event_body(stack: LocalStack, user_id: str = "sara") -> bytes:
    event = emulator_events.permission_request(stack.emulator.state, CALL, user_id, ["send-audio"])
    return json.dumps(event).encode()


# -- the request message ---------------------------------------------------------------------------


async def test_signed_webhook_posts_an_escaped_request_message(stack: LocalStack) -> None:
    add_participant(stack, "mallory", EVIL_NAME)

    await request(stack, "mallory", "send-audio", "screenshare")

    message = only_message(stack)
    text = all_text(message)
    assert "<!channel>" not in text and "<http://evil|click>" not in text
    assert "&lt;!channel&gt; *x* &lt;http://evil|click&gt;" in text
    section, buttons = request_blocks(message, "mallory")
    assert "`mallory`" in section
    assert "*speak and share screen*" in section
    assert "<!date^1800000000^" in section  # the emulator's clock time, as a Slack date token
    assert "`default:call-123`" in block_text(message.blocks[0])
    assert [(e["action_id"], e["text"]["text"]) for e in buttons["elements"]] == [
        (APPROVE_ACTION, "Approve"),
        (APPROVE_ONLY_ACTIONS["send-audio"], "Only speak"),
        (APPROVE_ONLY_ACTIONS["screenshare"], "Only share screen"),
        (DENY_ACTION, "Deny"),
        (HISTORY_ACTION, "History"),
    ]
    # the decision buttons all name one request; History names the user who asked
    assert len({e["value"] for e in buttons["elements"][:-1]}) == 1
    assert buttons["elements"][-1]["value"] == "mallory"


async def test_single_permission_request_has_approve_and_deny_only(stack: LocalStack) -> None:
    await request(stack, "sara", "send-video")

    message = only_message(stack)
    section, buttons = request_blocks(message, "sara")
    assert "Sara (`sara`) asks to *share video*" in section
    assert [e["action_id"] for e in buttons["elements"]] == [
        APPROVE_ACTION,
        DENY_ACTION,
        HISTORY_ACTION,
    ]


async def test_forged_webhooks_are_refused_and_post_nothing(stack: LocalStack) -> None:
    body = event_body(stack)
    tampered = body.replace(b"sara", b"john")
    wrong_key = {**signed_headers(stack, body), "X-Api-Key": "not-the-key"}
    unsigned = {k: v for k, v in signed_headers(stack, body).items() if k != "X-Signature"}

    statuses = [
        await post_webhook(stack, tampered, headers=signed_headers(stack, body)),
        await post_webhook(stack, body, headers=wrong_key),
        await post_webhook(stack, body, headers=unsigned),
    ]
    await stack.idle()

    assert statuses == [401, 401, 401]
    assert request_messages(stack) == []


async def test_a_redelivered_webhook_posts_one_message(stack: LocalStack) -> None:
    body = event_body(stack)
    headers = signed_headers(stack, body, webhook_id="wh-1")

    first = await post_webhook(stack, body, headers=headers)
    await stack.idle()
    second = await post_webhook(stack, body, headers={**headers, "X-Webhook-Attempt": "2"})
    await stack.idle()

    assert (first, second) == (200, 200)
    assert len(request_messages(stack)) == 1


async def test_gzip_webhooks_are_accepted(stack: LocalStack) -> None:
    stack.emulator.gzip_webhooks = True

    await request(stack, "sara")

    assert stack.emulator.webhooks_sent[-1].status == "delivered"
    request_blocks(only_message(stack), "sara")

    body = event_body(stack, "john")
    headers = {**signed_headers(stack, body), "Content-Encoding": "gzip"}
    assert await post_webhook(stack, gzip.compress(body), headers=headers) == 200
    await stack.idle()
    request_blocks(only_message(stack), "john")  # joined the open message for the call


# -- clicks --------------------------------------------------------------------------------------


async def test_approve_grants_exactly_the_request_and_updates_the_message(
    stack: LocalStack,
) -> None:
    revoke(stack, "sara", "send-audio", "send-video", "screenshare")
    await request(stack, "sara", "send-audio", "send-video")
    message = only_message(stack)

    result = await click(stack, message, "sara", APPROVE_ACTION, MODERATOR)
    await stack.idle()

    assert held(stack, "sara") == {"send-audio", "send-video"}
    assert click_replies(stack, result) == [
        ":white_check_mark: Sara (`sara`) may now speak and share video in `default:call-123`."
        "\n_Case #1_"
    ]
    _, status = request_blocks(message, "sara")
    assert status["type"] == "context"
    approved = f":white_check_mark: Approved by <@{MODERATOR.user_id}> at <!date^"
    assert block_text(status).startswith(approved)
    assert all(b["type"] != "actions" for b in message.blocks)
    assert len(message.history) >= 1  # updated in place, not reposted
    assert len(request_messages(stack)) == 1
    audit = [m.text for m in stack.slack.messages_in(LOG_CHANNEL)]
    assert any("approve `sara` to speak and share video" in line for line in audit)


async def test_approving_one_of_several_permissions_grants_only_that(stack: LocalStack) -> None:
    revoke(stack, "sara", "send-audio", "screenshare")
    await request(stack, "sara", "send-audio", "screenshare")
    message = only_message(stack)

    await click(stack, message, "sara", APPROVE_ONLY_ACTIONS["screenshare"], ADMIN)
    await stack.idle()

    assert "screenshare" in held(stack, "sara") and "send-audio" not in held(stack, "sara")
    _, status = request_blocks(message, "sara")
    assert "Approved to share screen only" in block_text(status)


async def test_deny_grants_nothing(stack: LocalStack) -> None:
    revoke(stack, "sara", "send-audio")
    await request(stack, "sara")
    message = only_message(stack)

    result = await click(stack, message, "sara", DENY_ACTION, MODERATOR)
    await stack.idle()

    assert "send-audio" not in held(stack, "sara")
    assert permission_writes(stack) == 0
    _, status = request_blocks(message, "sara")
    assert block_text(status).startswith(f":no_entry_sign: Denied by <@{MODERATOR.user_id}>")
    assert click_replies(stack, result)[0].startswith(":no_entry_sign: Denied")

    late = await click_on_old_version(stack, message, "sara", APPROVE_ACTION, ADMIN)
    assert click_replies(stack, late) == [
        f"This request was already denied by <@{MODERATOR.user_id}>."
    ]
    assert permission_writes(stack) == 0


async def click_on_old_version(
    stack: LocalStack, message: PostedMessage, user_id: str, action_id: str, who: Person
) -> ClickResult:
    """A click on the message as it looked before the update (another moderator's stale view)."""
    assert stack.driver is not None
    old = PostedMessage(message.channel, message.ts, message.text, message.history[0]["blocks"])
    result = await stack.driver.click(
        action_id=action_id,
        value=button_value(old, user_id, action_id),
        user_id=who.user_id,
        user_name=who.user_name,
        message=message,
    )
    await stack.idle()
    return result


async def test_concurrent_clicks_cause_one_grant(stack: LocalStack) -> None:
    revoke(stack, "sara", "send-audio")
    await request(stack, "sara")
    message = only_message(stack)

    results = await asyncio.gather(
        click(stack, message, "sara", APPROVE_ACTION, ADMIN),
        click(stack, message, "sara", APPROVE_ACTION, MODERATOR),
        click(stack, message, "sara", APPROVE_ACTION, MODERATOR),  # a double click
    )
    await stack.idle()

    assert permission_writes(stack) == 1
    assert "send-audio" in held(stack, "sara")
    replies = [text for result in results for text in click_replies(stack, result)]
    assert len(replies) == 3
    assert sum(r.startswith(":white_check_mark:") for r in replies) == 1
    others = [r for r in replies if not r.startswith(":white_check_mark:")]
    assert all("handling this request" in r or "already approved" in r for r in others)


async def test_non_moderators_are_refused_and_nothing_reaches_stream(stack: LocalStack) -> None:
    await request(stack, "sara")
    message = only_message(stack)

    result = await click(stack, message, "sara", APPROVE_ACTION, OUTSIDER)
    await stack.idle()

    assert permission_writes(stack) == 0
    [reply] = click_replies(stack, result)
    assert "*moderator* role" in reply and "Nothing was sent to Stream" in reply
    assert request_blocks(message, "sara")[1]["type"] == "actions"
    assert message.history == []


async def test_an_old_request_answers_expired(stack: LocalStack, clock: ManualClock) -> None:
    revoke(stack, "sara", "send-audio")
    await request(stack, "sara")
    message = only_message(stack)

    await clock.advance(16 * 60)
    result = await click(stack, message, "sara", APPROVE_ACTION, MODERATOR)
    await stack.idle()

    assert permission_writes(stack) == 0
    assert "send-audio" not in held(stack, "sara")
    [reply] = click_replies(stack, result)
    assert reply.startswith(":hourglass: This request expired")
    _, status = request_blocks(message, "sara")
    assert status["type"] == "context" and "Expired" in block_text(status)


async def test_a_request_just_inside_the_age_limit_still_works(
    stack: LocalStack, clock: ManualClock
) -> None:
    revoke(stack, "sara", "send-audio")
    await request(stack, "sara")
    await clock.advance(14 * 60)

    await click(stack, only_message(stack), "sara", APPROVE_ACTION, MODERATOR)
    await stack.idle()

    assert "send-audio" in held(stack, "sara")


async def test_stream_failure_on_approve_keeps_the_buttons(stack: LocalStack) -> None:
    revoke(stack, "sara", "send-audio")
    await request(stack, "sara")
    message = only_message(stack)
    stack.emulator.faults.server_error(status=503, times=50)

    result = await click(stack, message, "sara", APPROVE_ACTION, MODERATOR)
    await stack.idle()

    [reply] = click_replies(stack, result)
    assert reply.startswith(":x: Could not approve Sara (`sara`): ")
    assert "buttons are still there" in reply
    assert request_blocks(message, "sara")[1]["type"] == "actions"
    assert "send-audio" not in held(stack, "sara")

    stack.emulator.faults.clear()  # the claim was released: a second try goes through
    retry = await click(stack, message, "sara", APPROVE_ACTION, ADMIN)
    await stack.idle()
    assert "send-audio" in held(stack, "sara")
    assert click_replies(stack, retry)[0].startswith(":white_check_mark:")


async def test_buttons_from_before_a_restart_answer_clearly(stack: LocalStack) -> None:
    await request(stack, "sara")
    message = only_message(stack)
    await stack.stop_callmod()
    await stack.start_callmod()

    result = await click(stack, message, "sara", APPROVE_ACTION, MODERATOR)
    await stack.idle()

    assert "no longer knows this request" in click_replies(stack, result)[0]
    assert permission_writes(stack) == 0


async def test_a_failed_post_is_retried_on_the_clock(stack: LocalStack, clock: ManualClock) -> None:
    stack.slack.fail_next("chat.postMessage", error="internal_error")

    await stack.emulator.raise_permission_request(CALL, "sara", ["send-audio"])
    await stack.emulator.wait_webhooks_idle()
    await stack.slack.wait_for(lambda: bool(stack.slack.calls_to("chat.postMessage")))
    assert request_messages(stack) == []
    await settle_until(lambda: clock.pending_sleepers > 0)  # the retry waits on the clock
    await clock.advance(120)
    await stack.idle()

    request_blocks(only_message(stack), "sara")


async def settle_until(condition: Callable[[], bool]) -> None:
    """Let the loop run (loopback I/O included) until `condition` holds; no wall-clock waits."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


# -- floods --------------------------------------------------------------------------------------


async def test_a_burst_of_200_requests_is_coalesced(stack: LocalStack) -> None:
    users = [f"user{i:03d}" for i in range(200)]
    for user_id in users:
        add_participant(stack, user_id, f"User {user_id[4:]}")

    started = time.perf_counter()
    for user_id in users:
        await stack.emulator.raise_permission_request(CALL, user_id, ["send-audio"])
    await stack.idle()
    wall = time.perf_counter() - started

    messages = request_messages(stack)
    posts = [
        c for c in stack.slack.calls_to("chat.postMessage") if c.args["channel"] == REQUESTS_CHANNEL
    ]
    updates = stack.slack.calls_to("chat.update")
    shown = [user_id for m in messages for user_id in users if f"(`{user_id}`)" in all_text(m)]
    assert sorted(shown) == users  # every user, each exactly once
    assert len(posts) <= 10
    for message in messages:
        assert len(message.blocks) <= MAX_BLOCKS
        for block in message.blocks:
            if block["type"] == "actions":
                assert len(block["elements"]) <= MAX_ACTIONS
                assert all(len(e["value"]) <= BUTTON_VALUE_LIMIT for e in block["elements"])
    print(
        f"\nburst: {len(users)} requests -> {len(posts)} messages posted, "
        f"{len(updates)} updates, {wall:.2f}s wall"
    )

    # A request deep in the flood is as clickable as any.
    revoke(stack, "user150", "send-audio")
    holder = next(m for m in messages if "(`user150`)" in all_text(m))
    await click(stack, holder, "user150", APPROVE_ACTION, MODERATOR)
    await stack.idle()
    assert "send-audio" in held(stack, "user150")
    assert request_blocks(holder, "user149")[1]["type"] == "actions"


async def test_the_request_message_carries_callmod_case_metadata(stack: LocalStack) -> None:
    """Issue 14, point 3: the user and call, for shortcuts and other tools."""
    await request(stack, "john", "send-audio")
    [message] = request_messages(stack)
    assert message.metadata == {
        "event_type": "callmod_case",
        "event_payload": {"user_id": "john", "call_cid": "default:call-123"},
    }
    await request(stack, "sara", "send-video")
    [message] = request_messages(stack)  # the same message lists both: the call only
    assert message.metadata == {
        "event_type": "callmod_case",
        "event_payload": {"call_cid": "default:call-123"},
    }
