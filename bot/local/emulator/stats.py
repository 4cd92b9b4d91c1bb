"""`QueryCallSessionParticipantStats`: one call session's participants, grouped by user, with
each connection's live state and published tracks, and the session's counters.

Everything comes in the query string: `limit`, `next`, `prev`, `sort` and `filter_conditions`
(JSON). Stream's SDK sends `sort` as URL-quoted JSON objects joined by commas; a JSON array is
taken too. Unlike Stream's stats (which "may be delayed or incomplete during an active call"),
the emulator's are never behind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError

from bot.local.emulator.bodies import SortItem, describe
from bot.local.emulator.calls import TRACKS, Call, CallSession, Participant
from bot.local.emulator.errors import Invalid
from bot.local.emulator.filters import FilterField, compile_filter, field
from bot.local.emulator.paging import fingerprint, page, start_of
from bot.local.emulator.routing import int_param
from bot.local.emulator.state import EmulatorState
from bot.local.emulator.views import TimeFormat, answer_time

DEFAULT_LIMIT = 25  # ⚠ undocumented
MAX_LIMIT = 100
SORT_FIELDS = ("user_id", "name", "latest_activity_at")  # ⚠ the spec lists none; max 1 item

SESSION_FIELDS: dict[str, FilterField[Participant]] = {
    "is_live": field("bool", "$eq", lambda p: p.live),
    "published_tracks": field(
        "string", "$eq $in", lambda p: frozenset(p.tracks), choices=TRACKS
    ),
    "user_id": field("string", "$eq $in", lambda p: p.user_id),
    "is_tech_user": field("bool", "$eq", lambda p: False),
}
NOT_MODELLED = ("publisher_type", "session_id")


@dataclass(frozen=True)
class StatsQuery:
    limit: int
    next: str | None
    prev: str | None
    sort: SortItem | None
    filter_conditions: dict[str, Any]

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> StatsQuery:
        return cls(
            limit=int_param(
                query.get("limit"), "limit", default=DEFAULT_LIMIT, maximum=MAX_LIMIT
            )
            or DEFAULT_LIMIT,
            next=query.get("next") or None,
            prev=query.get("prev") or None,
            sort=_sort(query.get("sort")),
            filter_conditions=_conditions(query.get("filter_conditions")),
        )


def session_stats(
    state: EmulatorState,
    call: Call,
    session: CallSession,
    query: StatsQuery,
    *,
    time: TimeFormat = answer_time,
) -> dict[str, Any]:
    """The answer's body, less `duration`."""
    matches = compile_filter(query.filter_conditions, SESSION_FIELDS, not_modelled=NOT_MODELLED)
    by_user: dict[str, list[Participant]] = {}
    for participant in session.participants:
        if matches(participant):
            by_user.setdefault(participant.user_id, []).append(participant)
    rows = [_row(state, user_id, connections, time) for user_id, connections in by_user.items()]
    if query.sort is not None:
        name = query.sort.field
        rows.sort(key=lambda row: (row.get(name) is not None, row.get(name) or 0))
        if query.sort.direction == -1:
            rows.reverse()
    fingerprinted = fingerprint(
        query.filter_conditions, query.sort.model_dump() if query.sort else None
    )
    start = start_of(query.next, query.prev, fingerprinted)
    shown = page(rows, start, query.limit, fingerprinted)
    answer: dict[str, Any] = {
        "call_type": call.type,
        "call_id": call.id,
        "call_session_id": session.id,
        "participants": shown.items,
        "counts": _counts(session),
        "call_started_at": time(session.started_at),
    }
    if session.ended_at is not None:
        answer["call_ended_at"] = time(session.ended_at)
    if shown.next is not None:
        answer["next"] = shown.next
    if shown.prev is not None:
        answer["prev"] = shown.prev
    return answer


def _row(
    state: EmulatorState, user_id: str, connections: list[Participant], time: TimeFormat
) -> dict[str, Any]:
    user = state.users.get(user_id)
    moments = [p.joined_at for p in connections] + [
        p.left_at for p in connections if p.left_at is not None
    ]
    row: dict[str, Any] = {
        "user_id": user_id,
        "roles": sorted({p.role for p in connections}),
        "latest_activity_at": time(max(moments)),
        "sessions": [_connection(p, time) for p in connections],
    }
    if user is not None and user.name is not None:
        row["name"] = user.name
    return row


def _connection(participant: Participant, time: TimeFormat) -> dict[str, Any]:
    view: dict[str, Any] = {
        "user_session_id": participant.user_session_id,
        "is_live": participant.live,
        "published_tracks": {track: track in participant.tracks for track in TRACKS},
        "started_at": time(participant.joined_at),
    }
    if participant.left_at is not None:
        view["ended_at"] = time(participant.left_at)
    return view


def _counts(session: CallSession) -> dict[str, int]:
    connections = session.participants
    live = session.connected()
    return {
        "live_sessions": len(live),
        "participants": len({p.user_id for p in connections}),
        "publishers": len({p.user_id for p in connections if p.tracks}),
        "sessions": len(connections),
        "peak_concurrent_sessions": _peak(connections, distinct_users=False),
        "peak_concurrent_users": _peak(connections, distinct_users=True),
        "sfus_used": 1 if connections else 0,  # ⚠ one emulated SFU
    }


def _peak(connections: list[Participant], *, distinct_users: bool) -> int:
    moments = sorted({p.joined_at for p in connections})
    peak = 0
    for moment in moments:
        present = [
            p
            for p in connections
            if p.joined_at <= moment and (p.left_at is None or p.left_at > moment)
        ]
        peak = max(peak, len({p.user_id for p in present}) if distinct_users else len(present))
    return peak


def _sort(raw: str | None) -> SortItem | None:
    if not raw:
        return None
    text = raw.strip()
    try:
        items = json.loads(text) if text.startswith("[") else [
            json.loads(unquote(part)) for part in text.split(",")
        ]
    except ValueError:
        raise Invalid.field("sort", "sort must be JSON sort items") from None
    if not isinstance(items, list) or len(items) > 1:
        raise Invalid.field("sort", "sort takes at most 1 item")
    if not items:
        return None
    try:
        item = SortItem.model_validate(items[0])
    except ValidationError as exc:
        raise Invalid(describe(exc)) from None
    if item.field not in SORT_FIELDS:
        raise Invalid.field(
            "sort", f"sorting by {item.field!r} is not allowed (use {', '.join(SORT_FIELDS)})"
        )
    return item


def _conditions(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        conditions = json.loads(raw)
    except ValueError:
        raise Invalid.field("filter_conditions", "filter_conditions is not valid JSON") from None
    if not isinstance(conditions, dict):
        raise Invalid.field("filter_conditions", "filter_conditions must be a JSON object")
    return conditions
