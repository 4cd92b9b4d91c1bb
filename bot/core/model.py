"""The small vocabulary every layer shares: who acts (`Role`, `Actor`), what a command is about to
do (`Plan`), what the moderator sees (`Reply`) and a button press (`Click`).

It imports nothing from callmod but the case kinds, so the registry, the dispatcher, the
moderation domain and the Slack adapter can all use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import IntEnum
from typing import Any

from bot.cases.models import Kind


class Role(IntEnum):
    NONE = 0
    MODERATOR = 1
    ADMIN = 2

    @property
    def label(self) -> str:
        return {Role.NONE: "nobody", Role.MODERATOR: "moderator", Role.ADMIN: "admin"}[self]


@dataclass(frozen=True)
class Actor:
    """The Slack user behind a command or click."""

    user_id: str
    user_name: str
    role: Role


@dataclass(frozen=True)
class Plan:
    """What a parsed command is about to do, in words: for confirmations, failures and the audit.

    `summary` is mrkdwn, already escaped, e.g. "kick `sara` from `default:call-123`".
    """

    summary: str
    target: str | None = None  # one Stream user id, or several joined by commas (a mute)
    call: str | None = None
    detail: str | None = None
    reason: str | None = None
    kind: Kind | None = None  # the case it records; None for commands that change nothing
    duration: timedelta | None = None

    @property
    def targets(self) -> tuple[str | None, ...]:
        """One case is recorded per target, so each user's history shows it."""
        return tuple(self.target.split(",")) if self.target else (None,)


@dataclass(frozen=True)
class Reply:
    """What the moderator sees (mrkdwn, already escaped)."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    audited: bool = False  # the action posted its own channel message (ban notifications)
    outcome: str = "done"  # for metrics: done, failed, maybe_applied, denied, usage, confirm, error
    did: Plan | None = None  # what a button click changed: recorded as a case and audited
    undo: str | None = None  # the command line reversing what a command did: an Undo button
    no_undo: str | None = None  # or why a write has no Undo, shown under the reply


@dataclass(frozen=True)
class MessageRef:
    """A message callmod posted: the channel id Slack returned and the message's ts."""

    channel_id: str
    ts: str


@dataclass(frozen=True)
class Click:
    """A button press, after Bolt verified it: who pressed, what, and on which message."""

    actor: Actor
    value: str
    channel_id: str | None
    message_ts: str | None

    @property
    def message(self) -> MessageRef | None:
        if self.channel_id is None or self.message_ts is None:
            return None
        return MessageRef(self.channel_id, self.message_ts)
