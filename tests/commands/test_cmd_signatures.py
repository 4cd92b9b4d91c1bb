"""Requests not signed by Slack get HTTP 401 and do nothing: no Stream request, no Slack post."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.local.slack_driver import FORM
from bot.local.stack import ADMIN, LocalStack

from .cmdtest import CALL, Mark, mark, writes_since

FIVE_MINUTES = 5 * 60


def _kick_body(stack: LocalStack, text: str = "sara call-123") -> str:
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": "T0CALLMOD",
            "team_domain": "callmod-test",
            "channel_id": "C0MODS",
            "channel_name": "c0mods",
            "user_id": ADMIN.user_id,
            "user_name": ADMIN.user_name,
            "command": "/kick",
            "text": text,
            "api_app_id": "A0CALLMOD",
            "response_url": stack.slack.response_url(),
            "trigger_id": "1.2.3",
        }
    )


def _unban_click_body(stack: LocalStack) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": ADMIN.user_id, "username": ADMIN.user_name, "team_id": "T0CALLMOD"},
        "api_app_id": "A0CALLMOD",
        "team": {"id": "T0CALLMOD", "domain": "callmod-test"},
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0MODLOG"},
        "channel": {"id": "C0MODLOG", "name": "c0modlog"},
        "response_url": stack.slack.response_url(),
        "trigger_id": "1.2.3",
        "actions": [
            {
                "action_id": "callmod_unban",
                "block_id": "b",
                "value": "sara",
                "type": "button",
                "action_ts": "1.2",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


async def _assert_no_side_effect(stack: LocalStack, since: Mark, status: int) -> None:
    await stack.idle()
    assert status == 401
    assert writes_since(stack, since) == []
    assert stack.slack.messages[since.messages :] == []
    assert stack.slack.responses[since.responses :] == []
    assert "sara" in stack.emulator.state.calls[CALL].participants


async def test_a_correctly_signed_request_works(stack: LocalStack) -> None:
    """The control for the forgeries below: the same body, signed right, kicks."""
    assert stack.driver is not None
    status, _ = await stack.driver.post_signed(_kick_body(stack), content_type=FORM)
    await stack.idle()
    assert status == 200
    assert "sara" not in stack.emulator.state.calls[CALL].participants


async def test_signature_made_with_the_wrong_secret(stack: LocalStack) -> None:
    assert stack.driver is not None
    body, now = _kick_body(stack), int(time.time())
    forged = SignatureVerifier("not-the-signing-secret").generate_signature(
        timestamp=str(now), body=body
    )
    since = mark(stack)

    status, _ = await stack.driver.post_signed(
        body, content_type=FORM, timestamp=now, signature=forged
    )

    await _assert_no_side_effect(stack, since, status)


@pytest.mark.parametrize("age", [FIVE_MINUTES + 60, -(FIVE_MINUTES + 60)])
async def test_stale_or_future_timestamp(stack: LocalStack, age: int) -> None:
    assert stack.driver is not None
    since = mark(stack)

    # Signed with the right secret, but six minutes away from now: a replay.
    status, _ = await stack.driver.post_signed(
        _kick_body(stack), content_type=FORM, timestamp=int(time.time()) - age
    )

    await _assert_no_side_effect(stack, since, status)


async def test_tampered_body(stack: LocalStack) -> None:
    assert stack.driver is not None
    now = int(time.time())
    signed_for = _kick_body(stack, "bob call-123")
    signature = stack.driver.sign(signed_for, now)
    since = mark(stack)

    status, _ = await stack.driver.post_signed(
        signed_for.replace("bob", "sara"), content_type=FORM, timestamp=now, signature=signature
    )

    await _assert_no_side_effect(stack, since, status)
    assert "bob" in stack.emulator.state.calls[CALL].participants


@pytest.mark.parametrize("signature", ["", "v0=", "v1=" + "0" * 64, "garbage"])
async def test_missing_or_malformed_signature(stack: LocalStack, signature: str) -> None:
    assert stack.driver is not None
    since = mark(stack)

    status, _ = await stack.driver.post_signed(
        _kick_body(stack), content_type=FORM, signature=signature
    )

    await _assert_no_side_effect(stack, since, status)


async def test_forged_button_click(stack: LocalStack) -> None:
    assert stack.driver is not None
    stack.emulator.state.ban(
        "sara", banned_by="callmod-bot", reason=None, timeout_minutes=None, ip_ban=False
    )
    body, now = _unban_click_body(stack), int(time.time())
    forged = SignatureVerifier("not-the-signing-secret").generate_signature(
        timestamp=str(now), body=body
    )
    since = mark(stack)

    status, _ = await stack.driver.post_signed(
        body, content_type=FORM, timestamp=now, signature=forged
    )

    await _assert_no_side_effect(stack, since, status)
    assert stack.emulator.state.active_ban("sara") is not None
