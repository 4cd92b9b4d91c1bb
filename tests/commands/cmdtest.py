"""Helpers for the end-to-end command tests: run a slash command or click a button through the
whole local stack and collect what changed — replies, audit lines, Stream write requests."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from bot.local.emulator.server import RecordedRequest
from bot.local.fake_slack import PostedMessage
from bot.local.slack_driver import ClickResult, SlashResult
from bot.local.stack import ADMIN, LOG_CHANNEL, LocalStack, Person

CONFIRM = "callmod_confirm"
CANCEL = "callmod_cancel"
UNBAN = "callmod_unban"
CALL = "default:call-123"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

# What a Python failure leaking into a reply would look like.
_PYTHONISH = re.compile(
    r"Traceback|File \"|Error:|Exception|\bNone\b|<bot\.|object at 0x|\w+Error\(|"
    r"pydantic|httpx\.|aiohttp\."
)


def assert_clean(text: str) -> None:
    """A reply is sentences for a person: no tracebacks, exception names or reprs."""
    assert text.strip(), "empty reply"
    found = _PYTHONISH.search(text)
    assert found is None, f"python-ish text {found.group(0)!r} in reply: {text!r}"


@dataclass
class Mark:
    """Where the recordings stood before an action, to read only what it added."""

    requests: int
    messages: int
    responses: int


def mark(stack: LocalStack) -> Mark:
    return Mark(len(stack.emulator.requests), len(stack.slack.messages), len(stack.slack.responses))


def writes_since(stack: LocalStack, since: Mark) -> list[RecordedRequest]:
    return [r for r in stack.emulator.requests[since.requests :] if r.method in WRITE_METHODS]


def requests_to(stack: LocalStack, path_end: str) -> list[RecordedRequest]:
    """Every request the emulator received whose path ends with `path_end`."""
    return [r for r in stack.emulator.requests if r.path.endswith(path_end)]


def log_since(stack: LocalStack, since: Mark) -> list[str]:
    return [m.text for m in stack.slack.messages[since.messages :] if m.channel == LOG_CHANNEL]


@dataclass
class Outcome:
    result: SlashResult | ClickResult
    replies: list[str]
    response_blocks: list[list[dict[str, Any]]]
    log: list[str]
    writes: list[RecordedRequest]

    @property
    def reply(self) -> str:
        assert len(self.replies) == 1, f"expected one reply, got {self.replies!r}"
        return self.replies[0]

    @property
    def key(self) -> str:
        return self.result.response_key


def _collect(stack: LocalStack, result: SlashResult | ClickResult, since: Mark) -> Outcome:
    assert result.status == 200, f"Slack request answered HTTP {result.status}: {result.body}"
    posts = [
        r
        for r in stack.slack.responses[since.responses :]
        if r.key == result.response_key and r.status == 200
    ]
    for post in posts:
        assert post.response_type == "ephemeral", f"reply not ephemeral: {post.text!r}"
        assert_clean(post.text)
    return Outcome(
        result=result,
        replies=[p.text for p in posts],
        response_blocks=[p.blocks for p in posts],
        log=log_since(stack, since),
        writes=writes_since(stack, since),
    )


async def slash(
    stack: LocalStack, line: str, who: Person = ADMIN, *, trigger: bool = True
) -> Outcome:
    """`trigger=False`: without a trigger_id (`/ban sara` bans rather than opening the form)."""
    since = mark(stack)
    result = await stack.slash(line, who, trigger=trigger)
    return _collect(stack, result, since)


def button_value(outcome: Outcome, action_id: str) -> str:
    """The value of the `action_id` button in the last reply that carried blocks."""
    for blocks in reversed(outcome.response_blocks):
        value = find_button(blocks, action_id)
        if value is not None:
            return value
    raise AssertionError(f"no {action_id} button in {outcome.response_blocks!r}")


def find_button(blocks: list[dict[str, Any]], action_id: str) -> str | None:
    for block in blocks:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return str(element.get("value"))
    return None


async def click(
    stack: LocalStack,
    action_id: str,
    value: str,
    who: Person = ADMIN,
    *,
    response_key: str | None = None,
    message: PostedMessage | None = None,
    element: str = "button",
    trigger: bool = True,
) -> Outcome:
    """Click a button (inside an ephemeral reply when `response_key`, on a channel `message`
    otherwise), or with `element="overflow"` pick the option `value` of an overflow menu, and
    wait until callmod has finished the work it started."""
    assert stack.driver is not None
    since = mark(stack)
    result = await stack.driver.click(
        action_id=action_id,
        value=value,
        user_id=who.user_id,
        user_name=who.user_name,
        response_key=response_key,
        message=message,
        element=element,
        trigger=trigger,
    )
    await stack.idle()
    return _collect(stack, result, since)


async def confirm(stack: LocalStack, asked: Outcome, who: Person = ADMIN) -> Outcome:
    return await click(stack, CONFIRM, button_value(asked, CONFIRM), who, response_key=asked.key)


async def clicks_at_once(
    stack: LocalStack, action_id: str, value: str, who: list[Person], response_key: str
) -> list[ClickResult]:
    """Several people (or one impatient person) clicking the same button concurrently."""
    assert stack.driver is not None
    driver = stack.driver
    results = await asyncio.gather(
        *(
            driver.click(
                action_id=action_id,
                value=value,
                user_id=person.user_id,
                user_name=person.user_name,
                response_key=response_key,
            )
            for person in who
        )
    )
    await stack.idle()
    return list(results)


def ban_notifications(stack: LocalStack, user: str) -> list[PostedMessage]:
    return [
        m
        for m in stack.slack.messages_in(LOG_CHANNEL)
        if m.text.startswith(f":hammer: `{user}` was banned")
    ]


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    """Every mrkdwn/plain text in a message's blocks, joined: what a reader sees."""
    parts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            text = node.get("text")
            if isinstance(text, str):
                parts.append(text)
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(parts)
