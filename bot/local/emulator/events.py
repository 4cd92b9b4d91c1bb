"""The webhook events the emulator raises, shaped as DESIGN.md §3 and Stream's OpenAPI event
schemas describe them. Dates in events are RFC 3339 text, the calls and users inside included."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.local.emulator import views
from bot.local.emulator.state import Ban, Call, CallEvent, CallSession, EmulatorState, Participant
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
        "custom": {},
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
        "custom": {},
    }
    if unbanned_by is not None:
        event["created_by"] = _user(state, unbanned_by)
    return event


def _call(state: EmulatorState, call: Call) -> dict[str, Any]:
    return views.call_json(state, call, time=format_stream_time)


def _participant(state: EmulatorState, participant: Participant) -> dict[str, Any]:
    return views.participant_json(state, participant, time=format_stream_time)


def unblocked_user(state: EmulatorState, call_cid: str, user_id: str) -> dict[str, Any]:
    return {
        "type": "call.unblocked_user",
        "call_cid": call_cid,
        "created_at": _now(state),
        "user": _user(state, user_id),
    }


def user_muted(
    state: EmulatorState, call_cid: str, from_user_id: str | None, muted_user_ids: Sequence[str]
) -> dict[str, Any]:
    return {
        "type": "call.user_muted",
        "call_cid": call_cid,
        "created_at": _now(state),
        "from_user_id": from_user_id or "",
        "muted_user_ids": list(muted_user_ids),
        "reason": "",  # ⚠ required by the spec, which names no values
    }


def permissions_updated(
    state: EmulatorState, call_cid: str, user_id: str, capabilities: Iterable[str]
) -> dict[str, Any]:
    return {
        "type": "call.permissions_updated",
        "call_cid": call_cid,
        "created_at": _now(state),
        "user": _user(state, user_id),
        "own_capabilities": sorted(capabilities),
    }


def call_ended(
    state: EmulatorState, call: Call, *, user_id: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    """`user` absent: ended server-side (as `mark_ended` with a server token always is)."""
    event: dict[str, Any] = {
        "type": "call.ended",
        "call_cid": call.cid,
        "created_at": _now(state),
        "call": _call(state, call),
    }
    if user_id is not None:
        event["user"] = _user(state, user_id)
    if reason is not None:
        event["reason"] = reason
    return event


def session_started(state: EmulatorState, call: Call, session: CallSession) -> dict[str, Any]:
    return {
        "type": "call.session_started",
        "call_cid": call.cid,
        "created_at": format_stream_time(session.started_at),
        "session_id": session.id,
        "call": _call(state, call),
    }


def session_ended(state: EmulatorState, call: Call, session: CallSession) -> dict[str, Any]:
    return {
        "type": "call.session_ended",
        "call_cid": call.cid,
        "created_at": format_stream_time(session.ended_at or state.now()),
        "session_id": session.id,
        "call": _call(state, call),
    }


def participant_joined(
    state: EmulatorState, call: Call, session: CallSession, participant: Participant
) -> dict[str, Any]:
    return {
        "type": "call.session_participant_joined",
        "call_cid": call.cid,
        "created_at": format_stream_time(participant.joined_at),
        "session_id": session.id,
        "participant": _participant(state, participant),
    }


def participant_left(
    state: EmulatorState, call: Call, session: CallSession, participant: Participant
) -> dict[str, Any]:
    left_at = participant.left_at if participant.left_at is not None else state.now()
    return {
        "type": "call.session_participant_left",
        "call_cid": call.cid,
        "created_at": format_stream_time(left_at),
        "session_id": session.id,
        "participant": _participant(state, participant),
        "duration_seconds": int(left_at - participant.joined_at),
    }


def custom(state: EmulatorState, call: Call, event: CallEvent) -> dict[str, Any]:
    return {
        "type": "custom",
        "call_cid": call.cid,
        "created_at": format_stream_time(event.created_at),
        "custom": dict(event.custom),
        "user": _user(state, event.user_id),
    }


def user_deactivated(
    state: EmulatorState, user_id: str, created_by: str | None
) -> dict[str, Any]:
    return _user_event("user.deactivated", state, user_id, created_by)


def user_reactivated(
    state: EmulatorState, user_id: str, created_by: str | None
) -> dict[str, Any]:
    return _user_event("user.reactivated", state, user_id, created_by)


def user_updated(state: EmulatorState, user_id: str) -> dict[str, Any]:
    return _user_event("user.updated", state, user_id, None)


def _user_event(
    kind: str, state: EmulatorState, user_id: str, created_by: str | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "created_at": _now(state),
        "user": _user(state, user_id),
        "custom": {},
    }
    if created_by is not None:
        event["created_by"] = _user(state, created_by)
    return event
