"""The values the Stream client takes and returns, and how they are read from Stream's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.util.timefmt import parse_stream_time

Track = Literal["audio", "video", "screenshare", "screenshare_audio"]
Permission = Literal["send-audio", "send-video", "screenshare"]


@dataclass(frozen=True)
class CallRef:
    type: str
    id: str

    @property
    def cid(self) -> str:
        return f"{self.type}:{self.id}"

    def __str__(self) -> str:
        return self.cid


@dataclass(frozen=True)
class Ban:
    user_id: str
    user_name: str | None
    banned_by_id: str | None
    created_at: datetime
    expires_at: datetime | None
    reason: str | None

    @property
    def permanent(self) -> bool:
        return self.expires_at is None


@dataclass(frozen=True)
class UserBlock:
    user_id: str
    blocked_user_id: str
    created_at: datetime | None


@dataclass(frozen=True)
class StreamUser:
    id: str
    name: str | None
    role: str | None
    deactivated: bool


class UnreadableResponse(ValueError):
    """Stream answered 2xx with JSON we cannot read."""


def ban_from_json(item: Mapping[str, Any]) -> Ban:
    user = _mapping(item.get("user"), "bans[].user")
    banned_by = item.get("banned_by")
    expires = item.get("expires")
    return Ban(
        user_id=_text(user.get("id"), "bans[].user.id"),
        user_name=_optional_text(user.get("name")),
        banned_by_id=(
            _optional_text(banned_by.get("id")) if isinstance(banned_by, Mapping) else None
        ),
        created_at=_time(item.get("created_at"), "bans[].created_at"),
        expires_at=_time(expires, "bans[].expires") if expires is not None else None,
        reason=_optional_text(item.get("reason")),
    )


def user_block_from_json(item: Mapping[str, Any]) -> UserBlock:
    created = item.get("created_at")
    return UserBlock(
        user_id=_text(item.get("user_id"), "blocks[].user_id"),
        blocked_user_id=_text(item.get("blocked_user_id"), "blocks[].blocked_user_id"),
        created_at=_time(created, "blocks[].created_at") if created is not None else None,
    )


def list_field(body: object, name: str) -> list[Mapping[str, Any]]:
    """`body[name]` as a list of objects; a missing or null list is empty."""
    if not isinstance(body, Mapping):
        raise UnreadableResponse("the answer is not a JSON object")
    items = body.get(name)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise UnreadableResponse(f"{name} is not a list of objects")
    return items


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UnreadableResponse(f"{where} is missing")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise UnreadableResponse(f"{where} is missing")
    return value


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: object, where: str) -> datetime:
    try:
        return parse_stream_time(value)
    except ValueError as exc:
        raise UnreadableResponse(f"{where} is not a timestamp") from exc
