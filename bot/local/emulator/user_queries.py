"""`QueryUsers` (`GET /users?payload=`): Stream's filters, sort and offset paging over users.

Deactivated users are left out unless `include_deactivated_users` is true, as Stream does. Of
the fields Stream allows, the emulator filters by `id`, `name`, `role`, `banned`, `language`,
`teams` and the dates, and refuses the others as not modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.local.emulator.bodies import QueryUsersPayload, SortItem
from bot.local.emulator.errors import Invalid
from bot.local.emulator.filters import FilterField, compile_filter, field
from bot.local.emulator.state import EmulatorState
from bot.local.emulator.users import User

DEFAULT_LIMIT = 30  # ⚠ from memory of Stream's chat docs; not in the spec
SORT_FIELDS = ("id", "name", "role", "created_at", "updated_at")  # ⚠ the spec lists none
DEFAULT_SORT = (SortItem(field="created_at", direction=1),)  # ⚠ undocumented


def user_fields(state: EmulatorState) -> dict[str, FilterField[User]]:
    ordered = "$eq $in $gt $gte $lt $lte"
    dates = "$eq $gt $gte $lt $lte"
    return {
        "id": field("string", ordered + " $ne $nin $autocomplete", lambda u: u.id),
        "name": field("string", ordered + " $autocomplete", lambda u: u.name),
        "role": field("string", ordered, lambda u: u.role),
        "banned": field("bool", "$eq $ne", lambda u: state.active_ban(u.id) is not None),
        "language": field("string", "$eq", lambda u: u.language),
        "teams": field("string", "$eq $in", lambda u: frozenset(u.teams)),
        "created_at": field("date", dates, lambda u: u.created_at),
        "updated_at": field("date", dates, lambda u: u.updated_at),
    }


NOT_MODELLED = (
    "bypass_moderation", "custom", "email", "last_active", "shadow_banned", "username",
)
_ID_BOUNDS: dict[str, Callable[[str, str], bool]] = {
    "id_gt": lambda a, b: a > b,
    "id_gte": lambda a, b: a >= b,
    "id_lt": lambda a, b: a < b,
    "id_lte": lambda a, b: a <= b,
}


def query_users(state: EmulatorState, payload: QueryUsersPayload) -> list[User]:
    matches = compile_filter(
        payload.filter_conditions, user_fields(state), not_modelled=NOT_MODELLED
    )
    bounds = [
        (compare, bound)
        for name, compare in _ID_BOUNDS.items()
        if (bound := getattr(payload, name)) is not None
    ]
    users = [
        user
        for user in state.users.values()
        if (payload.include_deactivated_users or not user.deactivated)
        and matches(user)
        and all(compare(user.id, bound) for compare, bound in bounds)
    ]
    users.sort(key=lambda u: u.id)
    for item in reversed(_sort(payload.sort)):
        users.sort(key=_sort_key(item.field), reverse=item.direction == -1)
    limit = payload.limit or DEFAULT_LIMIT
    return users[payload.offset : payload.offset + limit]


def _sort(sort: Sequence[SortItem]) -> Sequence[SortItem]:
    for item in sort:
        if item.field not in SORT_FIELDS:
            raise Invalid.field(
                "sort", f"sorting by {item.field!r} is not allowed (use {', '.join(SORT_FIELDS)})"
            )
    return sort or DEFAULT_SORT


def _sort_key(name: str) -> Callable[[User], tuple[bool, Any]]:
    def key(user: User) -> tuple[bool, Any]:
        value: Any = getattr(user, name)
        return (value is not None, value if value is not None else "")

    return key
