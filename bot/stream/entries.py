"""Reading a list answer entry by entry: an entry that cannot be read is left out and described,
so one bad entry (the ban of a hard-deleted user, `"user": null`) does not cost the whole list.

What describes a left-out entry is safe to log: the field that is wrong, the entry's ids when they
look like ids, and its date. Never free text (a ban's reason), never the raw entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from bot.stream.models import Skipped, UnreadableResponse, entry_time
from bot.util.timefmt import format_stream_time

T = TypeVar("T")

# Stream's user id alphabet; anything else is not shown.
_ID = re.compile(r"^[A-Za-z0-9@_-]{1,255}$")

# (label, path to an id) for what names an entry of each list.
BAN_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("user", ("user", "id")),
    ("banned by", ("banned_by", "id")),
)
BLOCK_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("user", ("user_id",)),
    ("blocked user", ("blocked_user_id",)),
)


def read_entries(
    items: Sequence[object],
    reader: Callable[[object], T],
    names: Sequence[tuple[str, tuple[str, ...]]],
) -> tuple[list[T], list[Skipped]]:
    """Read every entry with `reader`; those it finds unreadable come back as `Skipped`."""
    read: list[T] = []
    skipped: list[Skipped] = []
    for index, item in enumerate(items):
        try:
            read.append(reader(item))
        except UnreadableResponse as exc:
            skipped.append(Skipped(index, str(exc), entry_time(item), describe(item, names)))
    return read, skipped


def oldest_time(items: Sequence[object]) -> datetime | None:
    """The date of the last entry whose date is readable: in a newest-first list, the oldest."""
    for item in reversed(items):
        created_at = entry_time(item)
        if created_at is not None:
            return created_at
    return None


def describe(item: object, names: Sequence[tuple[str, tuple[str, ...]]]) -> str:
    """`user ?, banned by john, created 2027-01-15T10:20:30.000000Z`: what can be told of it."""
    parts = [f"{label} {_id_at(item, path)}" for label, path in names]
    created_at = entry_time(item)
    parts.append("created " + ("?" if created_at is None else format_stream_time(created_at)))
    return ", ".join(parts)


def _id_at(item: object, path: Sequence[str]) -> str:
    value = item
    for key in path:
        if not isinstance(value, Mapping):
            return "?"
        value = value.get(key)
    return value if isinstance(value, str) and _ID.fullmatch(value) else "?"
