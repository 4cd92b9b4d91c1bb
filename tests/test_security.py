"""Hostile input: fuzzed command text never breaks the server or leaks a ping or link into Slack;
tampered Slack requests are refused; secrets never reach the logs."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.local.stack import ADMIN, MODERATOR, OUTSIDER, LocalStack
from bot.util.clock import ManualClock
from commands import build_registry

T = TypeVar("T")

# What callmod itself may put inside <…> in mrkdwn: mentions of our people and date tokens.
ALLOWED_TOKENS = re.compile(r"<@U0[A-Z0-9]+>|<!date\^\d+\^[^|<>]*\|[^<>]*>")
ADVERSARIAL = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<http://evil.example|click>",
    "<@U0ADMIN01>",
    "*bold*",
    "`code`",
    "&amp;",
    "&lt;!channel&gt;",
    "\u202e",
    "\x00",
    "\x1b[31m",
    "sara",
    "call-123",
    "--block",
    "--ip",
    "2h",
    "0m",
    "-1h",
    "99999d",
    "x" * 300,
]


class BackgroundStack:
    """A LocalStack on its own event loop thread, so synchronous hypothesis tests can drive it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = LocalStack(clock=ManualClock())
        self.run(self.stack.start())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def close(self) -> None:
        self.run(self.stack.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def background() -> Iterator[BackgroundStack]:
    stack = BackgroundStack()
    try:
        yield stack
    finally:
        stack.close()


def assert_no_raw_markup(text: str) -> None:
    leftover = ALLOWED_TOKENS.sub("", text)
    assert "<" not in leftover and ">" not in leftover, text


COMMAND_NAMES = [c.name for c in build_registry()] + ["mod"]
words = st.one_of(st.sampled_from(ADVERSARIAL), st.text(max_size=40))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(COMMAND_NAMES),
    parts=st.lists(words, max_size=6),
    who=st.sampled_from([ADMIN, MODERATOR, OUTSIDER]),
)
def test_fuzzed_commands_never_fail_the_server_nor_leak_markup(
    background: BackgroundStack, name: str, parts: list[str], who: Any
) -> None:
    stack = background.stack
    text = " ".join(parts)
    before = len(stack.slack.messages)
    forms_before = len(stack.slack.views)
    result = background.run(stack.slash(f"/{name} {text}", who))
    assert result.status == 200
    replies = stack.slack.responses_for(result.response_key)
    # `/ban` with nothing or only a user answers with the ban form (a modal) instead.
    assert replies or len(stack.slack.views) > forms_before, "every command gets an answer"
    for reply in replies:
        assert "Traceback" not in reply.text
        assert_no_raw_markup(reply.text)
        for block in reply.blocks:
            assert_no_raw_markup(str(block))
    for message in stack.slack.messages[before:]:
        assert_no_raw_markup(message.text)
        for block in message.blocks:
            assert_no_raw_markup(str(block))
    # Confirmation prompts are never executed by the fuzzer, so nothing irreversible lingers.
    background.run(stack.emulator.wait_webhooks_idle())


def test_ten_thousand_characters_get_a_sentence(background: BackgroundStack) -> None:
    stack = background.stack
    result = background.run(stack.slash("/kick " + "<!channel>" * 1000 + " call-123"))
    (reply,) = [r.text for r in stack.slack.responses_for(result.response_key)]
    assert reply.startswith(":warning:") and "Usage:" in reply
    assert len(reply) < 1000
    assert_no_raw_markup(reply)


def _form(text: str) -> str:
    return urlencode(
        {
            "command": "/kick",
            "text": text,
            "user_id": ADMIN.user_id,
            "user_name": ADMIN.user_name,
            "team_id": "T0CALLMOD",
            "channel_id": "C0MODS",
            "response_url": "http://127.0.0.1:9/none",
            "trigger_id": "1.2.3",
        }
    )


@pytest.mark.parametrize(
    "tamper",
    ["body", "timestamp", "version", "stale", "missing"],
)
async def test_tampered_slack_requests_are_refused_with_no_side_effect(
    stack: LocalStack, tamper: str
) -> None:
    assert stack.driver is not None
    body = _form("sara call-123")
    now = int(time.time())
    signature = stack.driver.sign(body, now)
    kwargs: dict[str, Any] = {"timestamp": now, "signature": signature}
    if tamper == "body":
        body = _form("john call-123")
    elif tamper == "timestamp":
        kwargs["timestamp"] = now - 1
    elif tamper == "version":
        kwargs["signature"] = "v1=" + signature.split("=", 1)[1]
    elif tamper == "stale":
        kwargs["timestamp"] = now - 301
        kwargs["signature"] = stack.driver.sign(body, now - 301)
    elif tamper == "missing":
        kwargs["signature"] = ""
    writes_before = len(stack.emulator.requests)
    status, _ = await stack.driver.post_signed(
        body, content_type="application/x-www-form-urlencoded", **kwargs
    )
    await stack.idle()
    assert status == 401
    assert len(stack.emulator.requests) == writes_before
    assert stack.slack.messages == []


async def test_secrets_never_reach_the_logs(
    stack: LocalStack, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await stack.slash("/kick sara call-123")
    await stack.slash("/ban bob 30m spam")
    await stack.slash("/kick nobody call-123")
    stack.emulator.faults.server_error(status=503, times=50)
    await stack.slash("/block john call-123")
    stack.emulator.faults.clear()
    await stack.emulator.raise_permission_request("default:call-123", "alice", ["send-audio"])
    await clock.advance(31 * 60)
    await stack.idle()
    settings_ = stack.settings()
    secrets = [
        stack.signing_secret,
        stack.emulator.api_secret,
        stack.emulator.server_token(),
        settings_.slack_bot_token.get_secret_value() if settings_.slack_bot_token else "",
    ]
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert caplog.records, "the flow above logs something"
    for secret in secrets:
        assert secret and secret not in logged
    assert "stream kick -> 200" in logged  # the request log ties the command to its Stream call
    assert stack.callmod is not None
    assert stack.emulator.api_secret not in repr(stack.callmod.stream)
