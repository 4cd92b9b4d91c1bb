"""`query_banned_users`: Stream's filter conditions, sort and paging over the emulator's bans
(and any entries a test planted among them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.local.emulator.bodies import QueryBannedUsersPayload
from bot.local.emulator.errors import Invalid
from bot.local.emulator.state import Ban, EmulatorState, PlantedBan
from bot.util.timefmt import parse_stream_time

DEFAULT_LIMIT = 100

Listed = Ban | PlantedBan
Predicate = Callable[[Listed], bool]

# The payload's own created_at bounds, beside filter_conditions.
_PAYLOAD_BOUNDS = {
    "created_at_after": "$gt",
    "created_at_after_or_equal": "$gte",
    "created_at_before": "$lt",
    "created_at_before_or_equal": "$lte",
}


def query_bans(state: EmulatorState, payload: QueryBannedUsersPayload) -> list[Listed]:
    predicates = [_predicate(name, cond) for name, cond in payload.filter_conditions.items()]
    bounds = {
        op: bound
        for name, op in _PAYLOAD_BOUNDS.items()
        if (bound := getattr(payload, name)) is not None
    }
    if bounds:
        predicates.append(_time_range(bounds))
    now = state.now()
    held: list[Listed] = [*state.bans.values(), *state.planted_bans]
    bans = [
        ban
        for ban in held
        if all(p(ban) for p in predicates)
        and not (payload.exclude_expired_bans and ban.expired(now))
    ]
    descending = bool(payload.sort) and payload.sort[0].direction == -1
    bans.sort(key=lambda b: b.target or "")
    bans.sort(key=lambda b: b.created_at, reverse=descending)
    limit = payload.limit or DEFAULT_LIMIT
    return bans[payload.offset : payload.offset + limit]


def _predicate(name: str, condition: object) -> Predicate:
    if name == "user_id":
        return _text_match(name, condition, lambda b: b.target, allow_in=True)
    if name == "banned_by_id":
        return _text_match(name, condition, lambda b: b.banned_by, allow_in=True)
    if name == "reason":
        return _text_match(name, condition, lambda b: b.reason, allow_in=False)
    if name == "channel_cid":
        # Every ban here is app-wide; a channel filter matches none of them.
        _text_match(name, condition, lambda b: None, allow_in=True)
        return lambda b: False
    if name == "created_at":
        return _time_range(condition)
    raise Invalid.field(
        "filter_conditions",
        f"filter field {name!r} is not supported "
        "(use user_id, banned_by_id, channel_cid, created_at or reason)",
    )


def _text_match(
    name: str, condition: object, value_of: Callable[[Listed], str | None], *, allow_in: bool
) -> Predicate:
    if isinstance(condition, str):
        return lambda b: value_of(b) == condition
    if isinstance(condition, dict) and len(condition) == 1:
        ((op, operand),) = condition.items()
        if op == "$eq" and isinstance(operand, str):
            return lambda b: value_of(b) == operand
        if (
            op == "$in"
            and allow_in
            and isinstance(operand, list)
            and all(isinstance(v, str) for v in operand)
        ):
            wanted = set(operand)
            return lambda b: value_of(b) in wanted
    operators = "a string, {$eq: string}" + (" or {$in: [strings]}" if allow_in else "")
    raise Invalid.field("filter_conditions", f"{name} must be {operators}")


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "$eq": lambda a, b: a == b,
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _time_range(condition: object) -> Predicate:
    problem = "created_at must be {$gt|$gte|$lt|$lte|$eq: RFC 3339 time}"
    if isinstance(condition, str):
        condition = {"$eq": condition}
    if not isinstance(condition, dict) or not condition:
        raise Invalid.field("filter_conditions", problem)
    checks: list[tuple[Callable[[float, float], bool], float]] = []
    for op, operand in condition.items():
        compare = _COMPARISONS.get(op)
        if compare is None or not isinstance(operand, str):
            raise Invalid.field("filter_conditions", problem)
        checks.append((compare, _timestamp(operand)))
    return lambda b: all(compare(b.created_at, bound) for compare, bound in checks)


def _timestamp(text: str) -> float:
    try:
        moment: datetime = parse_stream_time(text)
    except ValueError:
        raise Invalid.field(
            "filter_conditions", f"created_at: {text!r} is not an RFC 3339 time"
        ) from None
    return moment.timestamp()


