"""JSON views of the emulator's state, shaped like Stream's responses.

Dates in API answers are integer nanoseconds since the epoch: Stream's OpenAPI spec types every
date-time as a number, and the official SDKs decode nothing else (getstream 7's
`datetime_from_unix_ns` does `int(value)`). Webhook events keep RFC 3339 text (`events.py`);
callmod reads both forms everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.local.emulator.state import Ban, Call, EmulatorState, PlantedBan, User

TimeFormat = Callable[[float], int | str]


def answer_time(seconds: float) -> int:
    """A date as Stream's API answers it: integer nanoseconds (to the microsecond, like the
    emulator's RFC 3339 text, so both forms name the same instant)."""
    return round(seconds * 1_000_000) * 1_000


def user_json(
    state: EmulatorState, user: User, *, time: TimeFormat = answer_time
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": user.id,
        "role": user.role,
        "created_at": time(user.created_at),
        "updated_at": time(user.updated_at),
        "banned": state.active_ban(user.id) is not None,
        "online": False,
        "custom": {},
        "teams": [],
        "language": "",
        "blocked_user_ids": sorted(state.blocked_by(user.id)),
        "shadow_banned": False,
        "invisible": False,
    }
    if user.name is not None:
        view["name"] = user.name
    if user.deactivated_at is not None:
        view["deactivated_at"] = time(user.deactivated_at)
    return view


def user_ref(
    state: EmulatorState, user_id: str, *, time: TimeFormat = answer_time
) -> dict[str, Any]:
    """A user by id; a user who no longer exists is still shown by id."""
    user = state.users.get(user_id)
    return user_json(state, user, time=time) if user is not None else {"id": user_id}


def call_json(state: EmulatorState, call: Call) -> dict[str, Any]:
    """Stream's CallResponse, as far as the emulator keeps a call: no creator (`created_by`), no
    ingress addresses, and of the settings only screen sharing (see the SDK conformance test)."""
    session = session_json(state, call)
    view: dict[str, Any] = {
        "cid": call.cid,
        "type": call.type,
        "id": call.id,
        "created_at": answer_time(call.created_at),
        "updated_at": answer_time(call.updated_at),
        "blocked_user_ids": sorted(call.blocked),
        "custom": {},
        "backstage": False,
        "captioning": False,
        "recording": False,
        "transcribing": False,
        "translating": False,
        "current_session_id": session["id"] if session else "",
        "egress": {"broadcasting": False, "rtmps": []},
        "settings": {
            "screensharing": {
                "enabled": call.screensharing.enabled,
                "access_request_enabled": call.screensharing.access_request_enabled,
            }
        },
    }
    if session:
        view["session"] = session
    return view


def session_json(state: EmulatorState, call: Call) -> dict[str, Any] | None:
    """The call's live session while anyone is in it: one connection per participant."""
    if not call.participants:
        return None
    return {
        "id": f"{call.id}-session",
        "participants": [
            {
                "user": user_ref(state, user_id),
                "user_session_id": f"{user_id}-session",
                "role": "user",
                "joined_at": answer_time(call.created_at),
            }
            for user_id in sorted(call.participants)
        ],
        "participants_count_by_role": {"user": len(call.participants)},
        "anonymous_participant_count": 0,
        "accepted_by": {},
        "missed_by": {},
        "rejected_by": {},
    }


def members_json(state: EmulatorState, call: Call) -> list[dict[str, Any]]:
    return [
        {
            "user_id": user_id,
            "user": user_ref(state, user_id),
            "role": "user",
            "custom": {},
            "created_at": answer_time(call.created_at),
            "updated_at": answer_time(call.updated_at),
        }
        for user_id in sorted(call.members)
    ]


def full_user_json(state: EmulatorState, user: User) -> dict[str, Any]:
    """Stream's FullUserResponse (what upserting users answers): a user and its chat counters,
    which the emulator, having no chat, keeps at zero."""
    return {
        **user_json(state, user),
        "channel_mutes": [],
        "devices": [],
        "mutes": [],
        "total_unread_count": 0,
        "unread_channels": 0,
        "unread_count": 0,
        "unread_threads": 0,
    }


def ban_json(state: EmulatorState, ban: Ban | PlantedBan) -> dict[str, Any]:
    if isinstance(ban, PlantedBan):
        return dict(ban.entry)
    view: dict[str, Any] = {
        "user": user_ref(state, ban.target),
        "banned_by": user_ref(state, ban.banned_by),
        "created_at": answer_time(ban.created_at),
        "shadow": False,
    }
    if ban.expires_at is not None:
        view["expires"] = answer_time(ban.expires_at)
    if ban.reason is not None:
        view["reason"] = ban.reason
    return view


def block_json(state: EmulatorState, user_id: str, blocked_id: str, at: float) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "blocked_user_id": blocked_id,
        "created_at": answer_time(at),
        "user": user_ref(state, user_id),
        "blocked_user": user_ref(state, blocked_id),
    }
