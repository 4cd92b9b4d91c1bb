"""Helpers for the alert tests: Stream's own event shapes, signed posts, card look-ups, clicks."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import aiohttp

from bot.local.fake_slack import PostedMessage
from bot.local.slack_driver import ClickResult
from bot.local.stack import REQUESTS_CHANNEL, LocalStack, Person

CALL = "default:call-123"
NOW = "2026-12-02T09:00:00Z"


def warning(
    user_id: str = "sara", message: str = "Please keep your video appropriate"
) -> dict[str, Any]:
    """`CallModerationWarningEvent`, as Stream sends it."""
    return {
        "type": "call.moderation_warning",
        "created_at": NOW,
        "call_cid": CALL,
        "user_id": user_id,
        "message": message,
        "custom": {},
    }


def rule_triggered(
    user_id: str = "sara", item_id: str | None = "rq-x1", **extra: Any
) -> dict[str, Any]:
    """`ModerationRulesTriggeredEvent` for a call rule."""
    event: dict[str, Any] = {
        "type": "moderation_rule.triggered",
        "created_at": NOW,
        "custom": {},
        "rule": {"id": "r1", "name": "Nudity on camera", "type": "call", "description": ""},
        "entity_id": "call-123",
        "entity_type": "stream:v1:call",
        "user_id": user_id,
        "triggered_actions": ["mute_video", "call_warning"],
        "violation_number": 2,
        "matched_contents": [
            {"type": "image", "id": "kf1", "classifications": {"nudity": 0.97}, "severity": "high"}
        ],
    }
    if item_id is not None:
        event["review_queue_item_id"] = item_id
    event.update(extra)
    return event


def review_item(
    item_id: str = "rq-x1",
    *,
    entity_type: str = "stream:v1:call",
    entity_id: str = "call-123",
    creator: str = "sara",
    texts: list[str] | None = None,
    images: list[Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """`ReviewQueueItemResponse`, with the fields Stream marks required."""
    item: dict[str, Any] = {
        "id": item_id,
        "created_at": NOW,
        "updated_at": NOW,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "entity_creator_id": creator,
        "status": "pending",
        "recommended_action": "flag",
        "reviewed_by": "",
        "languages": [],
        "severity": 3,
        "ai_text_severity": "",
        "latest_moderator_action": "",
        "bans": [],
        "flags": [{"type": "flag", "user_id": "automod", "entity_type": entity_type,
                   "entity_id": entity_id, "result": [], "reason": "caption rule",
                   "labels": ["hate_speech"]}],
        "actions": [],
        "flags_count": 1,
        "escalated": False,
        "moderation_payload": {"texts": texts or [], "images": images or [], "custom": {}},
    }
    if entity_type == "stream:v1:call":
        item["call"] = {"cid": CALL, "id": "call-123", "type": "default"}
    item.update(extra)
    return item


def item_event(kind: str = "review_queue_item.new", **item: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "created_at": NOW,
        "custom": {},
        "review_queue_item": review_item(**item),
        "flags": [],
    }


def signed(
    stack: LocalStack, payload: dict[str, Any], webhook_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    secret = stack.emulator.api_secret.encode()
    headers = {
        "Content-Type": "application/json",
        "X-Api-Key": stack.emulator.api_key,
        "X-Signature": hmac.new(secret, body, hashlib.sha256).hexdigest(),
        "X-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Webhook-Attempt": "1",
    }
    return body, headers


async def post(
    stack: LocalStack,
    payload: dict[str, Any],
    *,
    path: str = "/stream/webhook",
    webhook_id: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> int:
    assert stack.callmod is not None
    signed_body, signed_headers = signed(stack, payload, webhook_id)
    async with aiohttp.ClientSession() as session, session.post(
        stack.callmod.base_url + path,
        data=body if body is not None else signed_body,
        headers=headers if headers is not None else signed_headers,
    ) as response:
        await response.read()
        status = response.status
    await stack.idle()
    return status


def cards(stack: LocalStack) -> list[PostedMessage]:
    return [
        m
        for m in stack.slack.messages_in(REQUESTS_CHANNEL)
        if not m.ephemeral and m.thread_ts is None and "Stream alert" in m.text
    ]


def only_card(stack: LocalStack) -> PostedMessage:
    found = cards(stack)
    assert len(found) == 1, [m.text for m in found]
    return found[0]


def text_of(message: PostedMessage) -> str:
    parts = [message.text]
    for block in message.blocks:
        if block["type"] == "section":
            parts.append(str(block["text"]["text"]))
        elif block["type"] == "context":
            parts += [str(e.get("text", "")) for e in block["elements"]]
    return "\n".join(parts)


def elements(message: PostedMessage) -> list[dict[str, Any]]:
    return [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def button(message: PostedMessage, action_id: str, label: str | None = None) -> dict[str, Any]:
    for element in elements(message):
        if element["action_id"] == action_id and (
            label is None or element.get("text", {}).get("text") == label
        ):
            return element
    raise AssertionError(f"no {action_id} on {text_of(message)}")


async def click(
    stack: LocalStack,
    message: PostedMessage,
    action_id: str,
    who: Person,
    *,
    option: str | None = None,
    label: str | None = None,
) -> ClickResult:
    """Press a card's button (or pick the overflow option whose label is `option`)."""
    assert stack.driver is not None
    element = button(message, action_id, label)
    if element["type"] == "overflow":
        choice = next(o for o in element["options"] if o["text"]["text"] == option)
        result = await stack.driver.click(
            action_id=action_id, value=choice["value"], user_id=who.user_id,
            user_name=who.user_name, message=message, element="overflow",
            text=choice["text"]["text"],
        )
    else:
        result = await stack.driver.click(
            action_id=action_id, value=element["value"], user_id=who.user_id,
            user_name=who.user_name, message=message,
        )
    await stack.idle()
    return result


def replies(stack: LocalStack, result: ClickResult) -> list[str]:
    return [r.text for r in stack.slack.responses_for(result.response_key) if r.status == 200]


def submitted(stack: LocalStack) -> list[dict[str, Any]]:
    """The submit_action bodies Stream received, in order."""
    return [
        r.body for r in stack.emulator.requests
        if r.path == "/api/v2/moderation/submit_action"
    ]
