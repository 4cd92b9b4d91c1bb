"""JSON views of the emulator's state, shaped like Stream's responses.

Dates in API answers are integer nanoseconds since the epoch: Stream's OpenAPI spec types every
date-time as a number, and the official SDKs decode nothing else (getstream 7's
`datetime_from_unix_ns` does `int(value)`). Webhook events keep RFC 3339 text (`events.py`);
callmod reads both forms everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.local.emulator.state import (
    Ban,
    Call,
    CallSession,
    EmulatorState,
    Participant,
    PlantedBan,
    User,
)

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
        "custom": dict(user.custom),
        "teams": list(user.teams),
        "language": user.language,
        "blocked_user_ids": sorted(state.blocked_by(user.id)),
        "shadow_banned": False,
        "invisible": user.invisible,
    }
    if user.name is not None:
        view["name"] = user.name
    if user.image is not None:
        view["image"] = user.image
    if user.deactivated_at is not None:
        view["deactivated_at"] = time(user.deactivated_at)
    return view


def user_ref(
    state: EmulatorState, user_id: str, *, time: TimeFormat = answer_time
) -> dict[str, Any]:
    """A user by id; a user who no longer exists is still shown by id."""
    user = state.users.get(user_id)
    return user_json(state, user, time=time) if user is not None else {"id": user_id}


def call_json(
    state: EmulatorState, call: Call, *, time: TimeFormat = answer_time
) -> dict[str, Any]:
    """Stream's CallResponse, as far as the emulator keeps a call: no ingress addresses, and of
    the settings only screen sharing (see the SDK conformance test). The session is the latest
    one, live or ended, and absent before anyone ever joined."""
    view: dict[str, Any] = {
        "cid": call.cid,
        "type": call.type,
        "id": call.id,
        "created_at": time(call.created_at),
        "updated_at": time(call.updated_at),
        "blocked_user_ids": sorted(call.blocked),
        "custom": {},
        "backstage": False,
        "captioning": False,
        "recording": False,
        "transcribing": False,
        "translating": False,
        "current_session_id": call.current_session_id,
        "egress": {"broadcasting": False, "rtmps": []},
        "settings": {
            "screensharing": {
                "enabled": call.screensharing.enabled,
                "access_request_enabled": call.screensharing.access_request_enabled,
            }
        },
    }
    if call.created_by is not None:
        view["created_by"] = user_ref(state, call.created_by, time=time)
    if call.ended_at is not None:
        view["ended_at"] = time(call.ended_at)
    if call.session is not None:
        view["session"] = session_json(state, call.session, time=time)
    return view


def session_json(
    state: EmulatorState, session: CallSession, *, time: TimeFormat = answer_time
) -> dict[str, Any]:
    """Stream's CallSessionResponse: the connections live now (one per device)."""
    connected = session.connected()
    by_role: dict[str, int] = {}
    for participant in connected:
        by_role[participant.role] = by_role.get(participant.role, 0) + 1
    view: dict[str, Any] = {
        "id": session.id,
        "participants": [participant_json(state, p, time=time) for p in connected],
        "participants_count_by_role": by_role,
        "anonymous_participant_count": 0,
        "accepted_by": {},
        "missed_by": {},
        "rejected_by": {},
        "started_at": time(session.started_at),
    }
    if session.ended_at is not None:
        view["ended_at"] = time(session.ended_at)
    return view


def participant_json(
    state: EmulatorState, participant: Participant, *, time: TimeFormat = answer_time
) -> dict[str, Any]:
    """Stream's CallParticipantResponse (which tracks are published is not in it)."""
    return {
        "user": user_ref(state, participant.user_id, time=time),
        "user_session_id": participant.user_session_id,
        "role": participant.role,
        "joined_at": time(participant.joined_at),
    }


def members_json(
    state: EmulatorState, call: Call, limit: int | None = None
) -> list[dict[str, Any]]:
    return [
        {
            "user_id": user_id,
            "user": user_ref(state, user_id),
            "role": "user",
            "custom": {},
            "created_at": answer_time(call.created_at),
            "updated_at": answer_time(call.updated_at),
        }
        for user_id in sorted(call.members)[:limit]
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
