"""Slack rendering: mrkdwn escaping, date tokens and the few Block Kit shapes callmod posts.

Block Kit objects come from `slack_sdk.models.blocks`; this module only composes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.messages import DateLink

SECTION_TEXT_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
MAX_BLOCKS = 50
MAX_ACTIONS = 25

_MRKDWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SLACK_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITY_CHARS = {"amp": "&", "lt": "<", "gt": ">"}


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control: & < >.

    Only these: `html.escape` would also turn quotes into entities Slack shows literally.
    Escaping `<` is what stops `<!channel>` or `<http://x|y>` in user text from pinging or linking.
    """
    return text.translate(_MRKDWN_ESCAPES)


def unescape(text: str) -> str:
    """Undo Slack's escaping of text it sends us (slash-command text): `&amp;`, `&lt;` and
    `&gt;` become `&`, `<` and `>`, in one pass, so that `&amp;lt;` (the user typed `&lt;`)
    becomes `&lt;` and not `<`. The inverse of `escape`; nothing else is decoded."""
    return _SLACK_ENTITY.sub(lambda match: _ENTITY_CHARS[match.group(1)], text)


def code(text: str, limit: int = 80) -> str:
    """User text shown inside a code span: escaped, backticks removed, bounded."""
    cleaned = "".join(ch for ch in text if ch.isprintable() and ch != "`")
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return f"`{escape(cleaned)}`"


def mention(slack_user_id: str) -> str:
    return f"<@{slack_user_id}>"


def date_token(moment: datetime | float, date_format: str = "{date_short_pretty} {time}") -> str:
    """A `<!date^…>` token that each reader sees in their own time zone."""
    if isinstance(moment, datetime):
        moment = moment.timestamp()
    fallback = datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(DateLink(date=int(moment), date_format=date_format, fallback=fallback))


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> Block:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_TEXT_LIMIT)))


def context(text: str) -> Block:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, SECTION_TEXT_LIMIT))])


@dataclass(frozen=True)
class Button:
    text: str
    action_id: str
    value: str
    style: str | None = None  # "primary" | "danger"


def actions(buttons: Sequence[Button], block_id: str | None = None) -> Block:
    elements = [
        ButtonElement(
            text=truncate(button.text, BUTTON_TEXT_LIMIT),
            action_id=button.action_id,
            value=button.value,
            style=button.style,
        )
        for button in buttons[:MAX_ACTIONS]
    ]
    return ActionsBlock(elements=elements, block_id=block_id)


def to_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks[:MAX_BLOCKS]]


def encode_value(data: dict[str, Any]) -> str:
    value = json.dumps(data, separators=(",", ":"), sort_keys=True)
    if len(value) > BUTTON_VALUE_LIMIT:
        raise ValueError("button value too long")
    return value


def decode_value(value: str) -> dict[str, Any]:
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("button value is not an object")
    return data
