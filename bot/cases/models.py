"""What crosses the case store's boundary: enums and frozen dataclasses, no SQL.

Times are timezone-aware UTC datetimes everywhere. The enums are `StrEnum`s stored as their value,
so adding a member later needs no migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Kind(StrEnum):
    """What was done. Bans and unbans seen in Stream's webhooks use BAN / UNBAN with
    `Source.STREAM`; a ban that ran out is BAN_EXPIRED with `Source.CALLMOD`."""

    KICK = "kick"
    BLOCK = "block"
    UNBLOCK = "unblock"
    MUTE = "mute"
    MUTE_ALL = "mute_all"
    SCREENSHARE = "screenshare"
    GRANT = "grant"
    REVOKE = "revoke"
    BAN = "ban"
    UNBAN = "unban"
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"
    USER_BLOCK = "user_block"
    USER_UNBLOCK = "user_unblock"
    REQUEST_APPROVED = "request_approved"
    REQUEST_DENIED = "request_denied"
    BAN_EXPIRED = "ban_expired"
    END_CALL = "end_call"
    RENAME = "rename"
    CLEAR_AVATAR = "clear_avatar"
    # A call permission change seen from Stream, which says what they may do now, not what changed.
    PERMISSIONS = "permissions"


class Source(StrEnum):
    """Who acted: a Slack moderator through callmod, someone in Stream outside Slack (seen in a
    webhook), or callmod on its own (a ban running out)."""

    SLACK = "slack"
    STREAM = "stream"
    CALLMOD = "callmod"


class Outcome(StrEnum):
    DONE = "done"
    FAILED = "failed"  # Stream refused: nothing changed
    MAYBE_APPLIED = "maybe_applied"  # no answer in time: it may have been applied


class NoteKind(StrEnum):
    NOTE = "note"
    REASON_CHANGED = "reason_changed"  # text = the new reason, old_value = the one it replaced
    VOIDED = "voided"  # text = why


class MessagePurpose(StrEnum):
    NOTIFICATION = "notification"  # the public announcement (a ban notification)
    AUDIT = "audit"  # the audit-trail line in the log channel
    REQUEST = "request"  # the Approve / Deny message a request decision was made on


@dataclass(frozen=True, slots=True)
class Actor:
    """A Slack user: id (`U…`) and display name as it was at the time."""

    id: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NewCase:
    """A case to record. `moderator` is required for `Source.SLACK` and must be None otherwise
    (None means "Stream, outside Slack" or "callmod itself", as `source` says)."""

    kind: Kind
    source: Source
    outcome: Outcome
    request_id: str
    moderator: Actor | None = None
    target_user_id: str | None = None  # Stream user id; None for mute-all / screenshare
    call_cid: str | None = None  # "type:id"
    reason: str | None = None
    detail: str | None = None  # what exactly, in words: tracks, permissions, "on", the other user
    duration_seconds: int | None = None
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if (self.source is Source.SLACK) != (self.moderator is not None):
            raise ValueError("a case has a moderator exactly when its source is slack")
        if self.duration_seconds is not None and self.duration_seconds < 0:
            raise ValueError("duration_seconds must not be negative")
        if self.expires_at is not None:
            _require_aware(self.expires_at, "expires_at")


@dataclass(frozen=True, slots=True)
class Note:
    """A note or amendment; `id` orders the notes of a case."""

    id: int
    case_number: int
    kind: NoteKind
    author: Actor
    created_at: datetime
    text: str
    old_value: str | None = None


@dataclass(frozen=True, slots=True)
class CaseMessage:
    """A Slack message that announced a case."""

    case_number: int
    channel_id: str
    ts: str
    purpose: MessagePurpose
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class Voided:
    by: Actor
    why: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """A recorded case with its notes (oldest first) and announcing messages."""

    number: int
    created_at: datetime
    kind: Kind
    source: Source
    outcome: Outcome
    request_id: str
    moderator: Actor | None
    target_user_id: str | None
    call_cid: str | None
    reason: str | None
    detail: str | None
    duration_seconds: int | None
    expires_at: datetime | None
    voided: Voided | None = None
    notes: tuple[Note, ...] = ()
    messages: tuple[CaseMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class CasePage:
    """One page of a history, newest first. Pass `next_before` as `before_number` for the next
    page; it is None on the last page."""

    cases: tuple[Case, ...]
    next_before: int | None


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def utc(moment: datetime, name: str = "time") -> datetime:
    """`moment` in UTC; naive datetimes are refused rather than guessed."""
    _require_aware(moment, name)
    return moment.astimezone(UTC)
