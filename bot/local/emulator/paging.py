"""Opaque `next` / `prev` cursors, as Stream's cursor-paged queries answer them.

A cursor carries where its page starts and a fingerprint of the query (filter and sort) that
gave it: Stream asks clients to repeat the filter on every page, and a cursor sent with another
query is refused rather than silently paging something else (⚠ what Stream does then is not
documented).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.local.emulator.errors import Invalid

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None
    prev: str | None


def fingerprint(*query: object) -> str:
    text = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def start_of(next_cursor: str | None, prev_cursor: str | None, query: str) -> int:
    if next_cursor and prev_cursor:
        raise Invalid.field("next", "send next or prev, not both")
    name, token = ("next", next_cursor) if next_cursor else ("prev", prev_cursor)
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
        start, made_for = decoded["o"], decoded["q"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise Invalid.field(name, f"{name} is not a cursor this API gave") from None
    if made_for != query or not isinstance(start, int) or start < 0:
        raise Invalid.field(
            name, f"{name} belongs to another query: repeat the same filter and sort on every page"
        )
    return start


def page(items: Sequence[T], start: int, limit: int, query: str) -> Page[T]:
    end = start + limit
    return Page(
        items=list(items[start:end]),
        next=_cursor(end, query) if end < len(items) else None,
        prev=_cursor(max(0, start - limit), query) if start > 0 else None,
    )


def _cursor(start: int, query: str) -> str:
    raw = json.dumps({"o": start, "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
