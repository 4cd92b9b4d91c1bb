"""Slack rendering: mrkdwn escaping, date tokens and the few Block Kit shapes callmod posts.

Block Kit objects come from `slack_sdk.models.blocks`; this module only composes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
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
FIELD_TEXT_LIMIT = 2000
OPTION_TEXT_LIMIT = 75
OPTION_VALUE_LIMIT = 2000
OVERFLOW_OPTIONS = (2, 5)  # an overflow menu holds 2 to 5 options

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


def date_token(
    moment: datetime | float,
    date_format: str = "{date_short_pretty} {time}",
    fallback_format: str = "%Y-%m-%d %H:%M UTC",
) -> str:
    """A `<!date^…>` token that each reader sees in their own time zone (the fallback, for
    clients that cannot, in UTC)."""
    if isinstance(moment, datetime):
        moment = moment.timestamp()
    fallback = datetime.fromtimestamp(moment, tz=UTC).strftime(fallback_format)
    return str(DateLink(date=int(moment), date_format=date_format, fallback=fallback))


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int) -> str:
    """User text (a display name) on one line: control characters dropped, whitespace runs made
    one space, cut to `limit` characters as typed, then & < > escaped (so the cut never splits
    an entity)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return escape(truncate(" ".join(cleaned.split()), limit))


@dataclass(frozen=True)
class Confirm:
    """Slack's own "are you sure?" dialog on a button, shown before the click is sent."""

    title: str
    text: str
    yes: str
    no: str = "Cancel"


@dataclass(frozen=True)
class Button:
    text: str
    action_id: str
    value: str
    style: str | None = None  # "primary" | "danger"
    confirm: Confirm | None = None


@dataclass(frozen=True)
class Choice:
    """One option of an overflow menu: its label and the value a pick sends back."""

    text: str
    value: str


@dataclass(frozen=True)
class Menu:
    """An overflow menu (the ⋮ button): 2 to 5 choices, one action id."""

    action_id: str
    choices: tuple[Choice, ...]


Accessory = Button | Menu


def section(text: str, accessory: Accessory | None = None, block_id: str | None = None) -> Block:
    return SectionBlock(
        text=MarkdownTextObject(text=truncate(text, SECTION_TEXT_LIMIT)),
        accessory=element(accessory) if accessory else None,
        block_id=block_id,
    )


# Block Kit JSON written directly, for blocks drawn many times a message (a roster's rows):
# slack_sdk's models validate every object again on `to_dict()`, about 1 ms a row, which made a
# 24-row page cost 27 ms of CPU. These produce what those models produce.


def fields_section(
    name: str, details: str, accessory: Accessory | None = None, block_id: str | None = None
) -> dict[str, Any]:
    """A section of two fields side by side: `name` as plain text (pass it through `plain()`:
    Slack applies no formatting and no mentions to plain text) and `details` as mrkdwn."""
    block: dict[str, Any] = {
        "type": "section",
        "fields": [
            _plain_text(truncate(name, FIELD_TEXT_LIMIT), emoji=False),
            {"type": "mrkdwn", "text": truncate(details, FIELD_TEXT_LIMIT)},
        ],
    }
    if accessory is not None:
        block["accessory"] = element(accessory)
    if block_id is not None:
        block["block_id"] = block_id
    return block


# Slack refuses a block in which two elements share an action_id ("already exists"): the second
# "callmod_history" of a block becomes "callmod_history~2", and Bolt listens with `repeatable`.
REPEAT_MARK = "~"


def distinct_action_ids(buttons: Sequence[Button]) -> list[Button]:
    """`buttons` with each action_id made unique within them (see `REPEAT_MARK`)."""
    seen: dict[str, int] = {}
    distinct = []
    for button in buttons:
        seen[button.action_id] = count = seen.get(button.action_id, 0) + 1
        if count > 1:
            button = replace(button, action_id=f"{button.action_id}{REPEAT_MARK}{count}")
        distinct.append(button)
    return distinct


def repeatable(action_id: str) -> re.Pattern[str]:
    """What Bolt matches for `action_id`: itself, or its repeats within a block."""
    return re.compile(rf"^{re.escape(action_id)}(?:{re.escape(REPEAT_MARK)}\d+)?$")


def button_row(buttons: Sequence[Button], block_id: str | None = None) -> dict[str, Any]:
    """An actions block of buttons, like `actions()`, as JSON."""
    block: dict[str, Any] = {
        "type": "actions",
        "elements": [element(button) for button in distinct_action_ids(buttons[:MAX_ACTIONS])],
    }
    if block_id is not None:
        block["block_id"] = block_id
    return block


def element(accessory: Accessory) -> dict[str, Any]:
    """A button or an overflow menu as Block Kit JSON, within Slack's limits (text cut; a menu
    of the wrong size or a value too long is a bug here, raised)."""
    if isinstance(accessory, Button):
        return _button(accessory)
    low, high = OVERFLOW_OPTIONS
    if not low <= len(accessory.choices) <= high:
        raise ValueError(f"an overflow menu holds {low} to {high} options")
    options = []
    for choice in accessory.choices:
        if len(choice.value) > OPTION_VALUE_LIMIT:
            raise ValueError("option value too long")
        text = _plain_text(truncate(choice.text, OPTION_TEXT_LIMIT))
        options.append({"text": text, "value": choice.value})
    return {"type": "overflow", "action_id": accessory.action_id, "options": options}


def _plain_text(text: str, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": emoji}


def _button(button: Button) -> dict[str, Any]:
    if len(button.value) > BUTTON_VALUE_LIMIT:
        raise ValueError("button value too long")
    shaped: dict[str, Any] = {
        "type": "button",
        "text": _plain_text(truncate(button.text, BUTTON_TEXT_LIMIT)),
        "action_id": button.action_id,
        "value": button.value,
    }
    if button.style is not None:
        shaped["style"] = button.style
    confirm = button.confirm
    if confirm is not None:
        shaped["confirm"] = {
            "title": _plain_text(truncate(confirm.title, 100)),
            "text": {"type": "mrkdwn", "text": truncate(confirm.text, 300)},
            "confirm": _plain_text(truncate(confirm.yes, 30)),
            "deny": _plain_text(truncate(confirm.no, 30)),
        }
    return shaped


def context(text: str) -> Block:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, SECTION_TEXT_LIMIT))])


def actions(buttons: Sequence[Button], block_id: str | None = None) -> Block:
    elements = [
        ButtonElement(
            text=truncate(button.text, BUTTON_TEXT_LIMIT),
            action_id=button.action_id,
            value=button.value,
            style=button.style,
            confirm=ConfirmObject.parse(_button(button)["confirm"]) if button.confirm else None,
        )
        for button in distinct_action_ids(buttons[:MAX_ACTIONS])
    ]
    return ActionsBlock(elements=elements, block_id=block_id)


Part = Block | dict[str, Any]  # a slack_sdk block, or one already written as JSON


def to_dicts(blocks: Sequence[Part]) -> list[dict[str, Any]]:
    return [block if isinstance(block, dict) else block.to_dict() for block in blocks[:MAX_BLOCKS]]


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
