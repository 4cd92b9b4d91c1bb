"""What callmod knows of one ban, as data: who made it, why, until when, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from bot.core.model import Actor
from bot.moderation.history.book import Ticket
from bot.stream import Ban

Source = Literal["slack", "webhook", "stream"]


@dataclass(frozen=True)
class StreamActor:
    """Someone who acted in Stream directly; `is_callmod` when it was callmod's own Stream user."""

    stream_user_id: str | None
    is_callmod: bool = False

    @property
    def known(self) -> bool:
        return self.stream_user_id is not None


class ClosureKind(Enum):
    UNBANNING = "unbanning"  # an Unban click is lifting it right now
    UNBANNED = "unbanned"
    EXPIRED = "expired"
    REPLACED = "replaced"  # a newer ban of the same user took its place


@dataclass(frozen=True)
class Closure:
    """How a ban ended (or is ending): what happened, who did it, and when (unix seconds)."""

    kind: ClosureKind
    by: Actor | StreamActor | None
    at: float


@dataclass(slots=True)
class BanRecord:
    user_id: str
    banned_by: Actor | StreamActor
    reason: str | None
    ip_ban: bool
    created_at: float
    expires_at: float | None
    source: Source = "slack"  # made through callmod, told by a webhook, or read from Stream
    channel: str | None = None
    message_ts: str | None = None
    closure: Closure | None = None
    case_number: int | None = None  # the case that records the ban, when there is one
    history: str | None = None  # "3rd ban; 7 earlier cases", as of the announcement
    lapsed_offline: bool = False  # found already expired at start-up
    # Expiry progress, so a retried fire does not repeat the steps that succeeded.
    lifted: bool = False
    message_closed: bool = False
    line_posted: bool = False
    expiry_case: Ticket | None = None  # the ban_expired case, once recorded

    @property
    def banned_by_stream_id(self) -> str | None:
        """The Stream user that made the ban, when it was not made through callmod's Slack."""
        return self.banned_by.stream_user_id if isinstance(self.banned_by, StreamActor) else None


def stream_actor(stream_user_id: str | None, bot_stream_user_id: str) -> StreamActor:
    return StreamActor(stream_user_id, is_callmod=stream_user_id == bot_stream_user_id)


def record_from_stream(ban: Ban, bot_stream_user_id: str) -> BanRecord:
    return BanRecord(
        user_id=ban.user_id,
        banned_by=stream_actor(ban.banned_by_id, bot_stream_user_id),
        reason=ban.reason,
        ip_ban=False,  # Stream's ban list does not say
        created_at=ban.created_at.timestamp(),
        expires_at=ban.expires_at.timestamp() if ban.expires_at else None,
        source="stream",
    )
