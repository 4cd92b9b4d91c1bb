"""`QueryCalls` and `QueryCallParticipants`: Stream's filters, sort and limits over the calls and
the people connected to one.

Allowed fields and sort combinations are those of Stream's OpenAPI spec (v236); of the fields
Stream allows, the emulator filters calls by `ongoing`, `id`, `cid`, `type`, `created_by_user_id`
and the dates, and refuses the others (`backstage`, `members`, `team`, `custom`, …) as not
modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.local.emulator.bodies import QueryCallsBody, SortItem
from bot.local.emulator.calls import TRACKS, Call, Participant
from bot.local.emulator.errors import Invalid
from bot.local.emulator.filters import FilterField, compile_filter, field
from bot.local.emulator.paging import Page, fingerprint, page, start_of
from bot.local.emulator.state import EmulatorState

DEFAULT_CALLS_LIMIT = 25  # ⚠ Stream's default page size is not documented
DEFAULT_PARTICIPANTS_LIMIT = 25  # ⚠ likewise
MAX_LIMIT = 100

_STRING_OPS = "$eq $in $gt $gte $lt $lte"
_DATE_OPS = "$eq $gt $gte $lt $lte"

CALL_FIELDS: dict[str, FilterField[Call]] = {
    "ongoing": field("bool", "$eq", lambda c: c.ongoing),
    "id": field("string", _STRING_OPS, lambda c: c.id),
    "cid": field("string", _STRING_OPS, lambda c: c.cid),
    "type": field("string", _STRING_OPS, lambda c: c.type),
    "created_by_user_id": field("string", _STRING_OPS, lambda c: c.created_by),
    "created_at": field("date", _DATE_OPS, lambda c: c.created_at),
    "updated_at": field("date", _DATE_OPS, lambda c: c.updated_at),
    "ended_at": field("date", _DATE_OPS, lambda c: c.ended_at),
}
CALL_FIELDS_NOT_MODELLED = (
    "backstage", "members", "team", "parent_call_cid", "starts_at", "custom",
)
SORT_COMBINATIONS: tuple[tuple[str, ...], ...] = (
    ("starts_at",), ("created_at",), ("starts_at", "created_at"), ("updated_at",),
    ("ended_at",), ("type",), ("id",), ("cid",),
)
DEFAULT_SORT = (SortItem(field="created_at", direction=-1),)  # ⚠ Stream's default is undocumented

PARTICIPANT_FIELDS: dict[str, FilterField[Participant]] = {
    "user_id": field("string", "$eq $in", lambda p: p.user_id),
    "published_tracks": field(
        "string", "$eq $in", lambda p: frozenset(p.tracks), choices=TRACKS
    ),
}


def query_calls(state: EmulatorState, body: QueryCallsBody) -> Page[Call]:
    matches = compile_filter(
        body.filter_conditions, CALL_FIELDS, not_modelled=CALL_FIELDS_NOT_MODELLED
    )
    sort = _call_sort(body.sort)
    calls = [call for call in state.calls.values() if matches(call)]
    calls.sort(key=lambda c: c.cid)
    for item in reversed(sort):
        calls.sort(key=_sort_key(item.field), reverse=item.direction == -1)
    query = fingerprint(body.filter_conditions, [item.model_dump() for item in sort])
    start = start_of(body.next, body.prev, query)
    return page(calls, start, body.limit or DEFAULT_CALLS_LIMIT, query)


def query_participants(
    call: Call, conditions: dict[str, Any], limit: int
) -> tuple[list[Participant], int]:
    """Up to `limit` of the matching connections, oldest first, and how many match in all."""
    matches = compile_filter(conditions, PARTICIPANT_FIELDS)
    found = [p for p in call.connected() if matches(p)]
    return found[:limit], len(found)


def _call_sort(sort: Sequence[SortItem]) -> tuple[SortItem, ...]:
    if not sort:
        return DEFAULT_SORT
    fields = tuple(item.field for item in sort)
    if fields not in SORT_COMBINATIONS:
        allowed = "; ".join(", ".join(combination) for combination in SORT_COMBINATIONS)
        raise Invalid.field(
            "sort", f"sorting by {', '.join(fields)} is not allowed (allowed: {allowed})"
        )
    return tuple(sort)


def _sort_key(name: str) -> Callable[[Call], tuple[bool, Any]]:
    def key(call: Call) -> tuple[bool, Any]:
        value: Any = {
            "starts_at": None,  # the emulator schedules no calls
            "created_at": call.created_at,
            "updated_at": call.updated_at,
            "ended_at": call.ended_at,
            "type": call.type,
            "id": call.id,
            "cid": call.cid,
        }[name]
        return (value is not None, value if value is not None else 0)

    return key
