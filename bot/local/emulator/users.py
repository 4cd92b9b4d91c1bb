"""A user as the emulator keeps it, and Stream's rules for a partial update (`PATCH /users`).

Settable top-level fields are `name`, `image`, `role`, `language`, `teams` and `invisible`;
any other key goes to the user's custom data (Stream's `UserRequest`). Fields Stream keeps
itself (ids, dates, ban and presence state) cannot be set or unset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.local.emulator.errors import Invalid

ROLE = re.compile(r"^[a-z0-9_-]{1,64}$")
# ⚠ Stream's list of read-only user fields is not published; these are the ones its answers
# carry that no request model lets a client write.
READ_ONLY: frozenset[str] = frozenset(
    {
        "id", "created_at", "updated_at", "deactivated_at", "deleted_at", "banned",
        "ban_expires", "online", "last_active", "shadow_banned", "blocked_user_ids",
        "revoke_tokens_issued_before", "devices", "mutes", "channel_mutes",
    }
)
_TOP_LEVEL = ("name", "image", "role", "language", "teams", "invisible")


@dataclass
class User:
    id: str
    name: str | None = None
    role: str = "user"
    deactivated: bool = False
    deactivated_at: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    image: str | None = None
    language: str = ""
    teams: list[str] = field(default_factory=list)
    invisible: bool = False
    custom: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PartialUpdate:
    """One checked `{id, set, unset}` item, ready to apply."""

    user_id: str
    set: Mapping[str, Any]
    unset: Sequence[str]


def check_partial(
    index: int, user_id: str, set_fields: Mapping[str, Any], unset: Sequence[str]
) -> PartialUpdate:
    where = f"users.{index}"
    if not set_fields and not unset:
        raise Invalid.field(where, f"user {user_id!r}: set or unset at least one field")
    for key, value in set_fields.items():
        _check_settable(f"{where}.set.{key}", key, value)
    for key in unset:
        if key in READ_ONLY or key == "role":
            raise Invalid.field(f"{where}.unset", f"field {key!r} cannot be unset")
        if key in set_fields:
            raise Invalid.field(f"{where}.unset", f"field {key!r} is both set and unset")
    return PartialUpdate(user_id, dict(set_fields), list(unset))


def apply_partial(user: User, update: PartialUpdate, now: float) -> User:
    for key, value in update.set.items():
        if key in _TOP_LEVEL:
            setattr(user, key, list(value) if key == "teams" else value)
        else:
            user.custom[key] = value
    for key in update.unset:
        if key in ("name", "image"):
            setattr(user, key, None)
        elif key == "language":
            user.language = ""
        elif key == "teams":
            user.teams = []
        elif key == "invisible":
            user.invisible = False
        else:
            user.custom.pop(key, None)
    user.updated_at = now
    return user


def _check_settable(where: str, key: str, value: object) -> None:
    if key in READ_ONLY:
        raise Invalid.field(where, f"field {key!r} cannot be set")
    if key in ("name", "image", "language") and not isinstance(value, str):
        raise Invalid.field(where, f"{key} must be a string")
    if key == "role" and not (isinstance(value, str) and ROLE.fullmatch(value)):
        raise Invalid.field(where, "role must be lower-case letters, digits, _ or -")
    if key == "teams" and not (
        isinstance(value, list) and all(isinstance(team, str) for team in value)
    ):
        raise Invalid.field(where, "teams must be a list of strings")
    if key == "invisible" and not isinstance(value, bool):
        raise Invalid.field(where, "invisible must be a boolean")
