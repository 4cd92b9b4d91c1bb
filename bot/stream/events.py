"""Typed Stream webhook events (DESIGN.md §3 "Webhooks").

`parse_event` turns a decoded webhook body into one of the frozen dataclasses below. Types we do
not act on come back as `UnknownEvent`; a type we do know with a missing or malformed field raises
`EventError`, whose message names the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.util.timefmt import parse_stream_time

PERMISSION_REQUEST = "call.permission_request"
USER_BANNED = "user.banned"
USER_UNBANNED = "user.unbanned"
CALL_USER_EVENT_TYPES = frozenset({"call.kicked_user", "call.blocked_user", "call.unblocked_user"})


class EventError(ValueError):
    """A known event type arrived with a missing or malformed field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class EventUser:
    id: str
    name: str | None


@dataclass(frozen=True)
class PermissionRequest:
    call_cid: str
    user: EventUser
    permissions: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class UserBanned:
    user: EventUser
    banned_by: EventUser | None
    reason: str | None
    expires_at: datetime | None  # None: the ban is permanent
    created_at: datetime
    ip_ban: bool
    shadow: bool
    channel_cid: str | None  # Stream's "cid"; None for an app-wide ban


@dataclass(frozen=True)
class UserUnbanned:
    user: EventUser
    unbanned_by: EventUser | None
    created_at: datetime


@dataclass(frozen=True)
class CallUserEvent:
    type: str
    call_cid: str
    user: EventUser
    created_at: datetime


@dataclass(frozen=True)
class UnknownEvent:
    type: str
    payload: Mapping[str, Any]


StreamEvent = PermissionRequest | UserBanned | UserUnbanned | CallUserEvent | UnknownEvent


@dataclass(frozen=True)
class Delivery:
    """One accepted webhook: Stream's delivery id, its attempt number and our receive time."""

    webhook_id: str
    attempt: int
    received_at: float
    event: StreamEvent


def parse_event(payload: Mapping[str, Any]) -> StreamEvent:
    """Parse a webhook body; raises EventError naming the bad field of a known type."""
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise EventError("type", "must be a non-empty string")
    if event_type in CALL_USER_EVENT_TYPES:
        return _call_user_event(event_type, payload)
    parser = _PARSERS.get(event_type)
    if parser is None:
        return UnknownEvent(type=event_type, payload=payload)
    return parser(payload)


def _permission_request(payload: Mapping[str, Any]) -> PermissionRequest:
    return PermissionRequest(
        call_cid=_call_cid(payload, "call_cid"),
        user=_user(payload, "user"),
        permissions=_permissions(payload, "permissions"),
        created_at=_time(payload, "created_at"),
    )


def _user_banned(payload: Mapping[str, Any]) -> UserBanned:
    return UserBanned(
        user=_user(payload, "user"),
        banned_by=_optional_user(payload, "created_by"),
        reason=_optional_str(payload, "reason"),
        expires_at=_optional_time(payload, "expiration"),
        created_at=_time(payload, "created_at"),
        ip_ban=_flag(payload, "ip_ban"),
        shadow=_flag(payload, "shadow"),
        channel_cid=_optional_str(payload, "cid") or _optional_str(payload, "channel_cid"),
    )


def _user_unbanned(payload: Mapping[str, Any]) -> UserUnbanned:
    return UserUnbanned(
        user=_user(payload, "user"),
        unbanned_by=_optional_user(payload, "created_by"),
        created_at=_time(payload, "created_at"),
    )


def _call_user_event(event_type: str, payload: Mapping[str, Any]) -> CallUserEvent:
    return CallUserEvent(
        type=event_type,
        call_cid=_call_cid(payload, "call_cid"),
        user=_user(payload, "user"),
        created_at=_time(payload, "created_at"),
    )


_PARSERS: dict[str, Callable[[Mapping[str, Any]], StreamEvent]] = {
    PERMISSION_REQUEST: _permission_request,
    USER_BANNED: _user_banned,
    USER_UNBANNED: _user_unbanned,
}


def _present(payload: Mapping[str, Any], key: str) -> bool:
    return payload.get(key) is not None


def _user_at(value: object, field: str) -> EventUser:
    if not isinstance(value, Mapping):
        raise EventError(field, "must be an object")
    user_id = value.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise EventError(f"{field}.id", "must be a non-empty string")
    name = value.get("name")
    if name is not None and not isinstance(name, str):
        raise EventError(f"{field}.name", "must be a string")
    return EventUser(id=user_id, name=name or None)


def _user(payload: Mapping[str, Any], key: str) -> EventUser:
    if not _present(payload, key):
        raise EventError(key, "missing")
    return _user_at(payload[key], key)


def _optional_user(payload: Mapping[str, Any], key: str) -> EventUser | None:
    return _user_at(payload[key], key) if _present(payload, key) else None


def _time_at(value: object, field: str) -> datetime:
    try:
        return parse_stream_time(value)
    # Out-of-range nanoseconds surface as OverflowError or OSError from datetime.
    except (ValueError, OverflowError, OSError):
        raise EventError(field, "must be an RFC 3339 time or integer nanoseconds") from None


def _time(payload: Mapping[str, Any], key: str) -> datetime:
    if not _present(payload, key):
        raise EventError(key, "missing")
    return _time_at(payload[key], key)


def _optional_time(payload: Mapping[str, Any], key: str) -> datetime | None:
    return _time_at(payload[key], key) if _present(payload, key) else None


def _optional_str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(key, "must be a string")
    return value or None


def _flag(payload: Mapping[str, Any], key: str) -> bool:
    value = payload.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise EventError(key, "must be true or false")
    return value


def _call_cid(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if value is None:
        raise EventError(key, "missing")
    if not isinstance(value, str):
        raise EventError(key, "must be a string")
    call_type, colon, call_id = value.partition(":")
    if not (colon and call_type and call_id):
        raise EventError(key, "must look like <type>:<id>")
    return value


def _permissions(payload: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = payload.get(key)
    if value is None:
        raise EventError(key, "missing")
    if not isinstance(value, list) or not value:
        raise EventError(key, "must be a non-empty list of strings")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise EventError(f"{key}[{index}]", "must be a non-empty string")
    return tuple(value)


def event_type(event: StreamEvent) -> str:
    """The Stream type string of a parsed event (for logs and metrics)."""
    match event:
        case PermissionRequest():
            return PERMISSION_REQUEST
        case UserBanned():
            return USER_BANNED
        case UserUnbanned():
            return USER_UNBANNED
        case CallUserEvent() | UnknownEvent():
            return event.type
