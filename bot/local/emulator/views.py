"""JSON views of the emulator's state, shaped like Stream's responses."""

from __future__ import annotations

from typing import Any

from bot.local.emulator.state import Ban, Call, EmulatorState, User
from bot.util.timefmt import format_stream_time


def user_json(state: EmulatorState, user: User) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": user.id,
        "role": user.role,
        "created_at": format_stream_time(user.created_at),
        "updated_at": format_stream_time(user.updated_at),
        "banned": state.active_ban(user.id) is not None,
        "online": False,
        "custom": {},
        "teams": [],
        "language": "",
        "blocked_user_ids": sorted(state.blocked_by(user.id)),
    }
    if user.name is not None:
        view["name"] = user.name
    if user.deactivated_at is not None:
        view["deactivated_at"] = format_stream_time(user.deactivated_at)
    return view


def user_ref(state: EmulatorState, user_id: str) -> dict[str, Any]:
    """A user by id; a user who no longer exists is still shown by id."""
    user = state.users.get(user_id)
    return user_json(state, user) if user is not None else {"id": user_id}


def call_json(call: Call) -> dict[str, Any]:
    return {
        "cid": call.cid,
        "type": call.type,
        "id": call.id,
        "created_at": format_stream_time(call.created_at),
        "updated_at": format_stream_time(call.updated_at),
        "blocked_user_ids": sorted(call.blocked),
        "settings": {
            "screensharing": {
                "enabled": call.screensharing.enabled,
                "access_request_enabled": call.screensharing.access_request_enabled,
            }
        },
        "session": {"participants": [{"user_id": u} for u in sorted(call.participants)]},
    }


def members_json(state: EmulatorState, call: Call) -> list[dict[str, Any]]:
    return [
        {
            "user_id": user_id,
            "user": user_ref(state, user_id),
            "role": "user",
            "created_at": format_stream_time(call.created_at),
            "updated_at": format_stream_time(call.updated_at),
        }
        for user_id in sorted(call.members)
    ]


def ban_json(state: EmulatorState, ban: Ban) -> dict[str, Any]:
    view: dict[str, Any] = {
        "user": user_ref(state, ban.target),
        "banned_by": user_ref(state, ban.banned_by),
        "created_at": format_stream_time(ban.created_at),
        "shadow": False,
    }
    if ban.expires_at is not None:
        view["expires"] = format_stream_time(ban.expires_at)
    if ban.reason is not None:
        view["reason"] = ban.reason
    return view


def block_json(state: EmulatorState, user_id: str, blocked_id: str, at: float) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "blocked_user_id": blocked_id,
        "created_at": format_stream_time(at),
        "user": user_ref(state, user_id),
        "blocked_user": user_ref(state, blocked_id),
    }
