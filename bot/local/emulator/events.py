"""The webhook events the emulator raises, shaped as DESIGN.md §3 describes Stream's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.local.emulator import views
from bot.local.emulator.state import Ban, EmulatorState
from bot.util.timefmt import format_stream_time


def _now(state: EmulatorState) -> str:
    return format_stream_time(state.now())


def _user(state: EmulatorState, user_id: str) -> dict[str, Any]:
    """A user inside an event: its dates as RFC 3339 text, like the event's own."""
    return views.user_ref(state, user_id, time=format_stream_time)


def permission_request(
    state: EmulatorState, call_cid: str, user_id: str, permissions: Sequence[str]
) -> dict[str, Any]:
    return {
        "type": "call.permission_request",
        "call_cid": call_cid,
        "created_at": _now(state),
        "permissions": list(permissions),
        "user": _user(state, user_id),
    }


def blocked_user(
    state: EmulatorState, call_cid: str, user_id: str, blocked_by: str | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "call.blocked_user",
        "call_cid": call_cid,
        "created_at": _now(state),
        "user": _user(state, user_id),
    }
    if blocked_by is not None:
        event["blocked_by_user"] = _user(state, blocked_by)
    return event


def kicked_user(
    state: EmulatorState, call_cid: str, user_id: str, kicked_by: str | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "call.kicked_user",
        "call_cid": call_cid,
        "created_at": _now(state),
        "user": _user(state, user_id),
    }
    if kicked_by is not None:
        event["kicked_by_user"] = _user(state, kicked_by)
    return event


def user_banned(state: EmulatorState, ban: Ban) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "user.banned",
        "user": _user(state, ban.target),
        "created_by": _user(state, ban.banned_by),
        "shadow": False,
        "total_bans": state.ban_counts.get(ban.target, 1),
        "created_at": format_stream_time(ban.created_at),
    }
    if ban.reason is not None:
        event["reason"] = ban.reason
    if ban.expires_at is not None:
        event["expiration"] = format_stream_time(ban.expires_at)
    return event


def user_unbanned(state: EmulatorState, user_id: str, unbanned_by: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "user.unbanned",
        "user": _user(state, user_id),
        "created_at": _now(state),
    }
    if unbanned_by is not None:
        event["created_by"] = _user(state, unbanned_by)
    return event
