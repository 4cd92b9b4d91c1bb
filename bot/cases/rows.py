"""Rows of the case store's tables made into the values of `models.py`. A row of `cases` is read
by position, in the table's column order (what `select(cases)` returns), so SQLAlchemy rows and
the tuples of the store's own SQLite threads go through the same code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from bot.cases.models import (
    Actor,
    Case,
    CaseMessage,
    Kind,
    MessagePurpose,
    Note,
    Outcome,
    Source,
    Voided,
)
from bot.cases.statements import CASE_COLUMNS, sqlite_time

_AT: Final = {name: CASE_COLUMNS.index(name) for name in CASE_COLUMNS}
_TIMES: Final = tuple(_AT[name] for name in ("created_at", "expires_at", "voided_at"))


def case_of(
    row: Sequence[Any], notes: tuple[Note, ...] = (), messages: tuple[CaseMessage, ...] = ()
) -> Case:
    """A `Case` from a full row of `cases` whose times are already datetimes."""
    (
        number,
        created_at,
        kind,
        source,
        outcome,
        request_id,
        moderator_id,
        moderator_name,
        target_user_id,
        call_cid,
        reason,
        detail,
        duration_seconds,
        expires_at,
        voided_at,
        voided_by_id,
        voided_by_name,
        void_reason,
    ) = row
    return Case(
        number=number,
        created_at=created_at,
        kind=Kind(kind),
        source=Source(source),
        outcome=Outcome(outcome),
        request_id=request_id,
        moderator=Actor(moderator_id, moderator_name) if moderator_id is not None else None,
        target_user_id=target_user_id,
        call_cid=call_cid,
        reason=reason,
        detail=detail,
        duration_seconds=duration_seconds,
        expires_at=expires_at,
        voided=Voided(Actor(voided_by_id, voided_by_name), void_reason, voided_at)
        if voided_at is not None
        else None,
        notes=notes,
        messages=messages,
    )


def sqlite_case(row: Sequence[Any]) -> Case:
    """A `Case` (without notes or messages) from a raw SQLite row of `cases`."""
    values = list(row)
    for at in _TIMES:
        values[at] = sqlite_time(values[at])
    return case_of(values)


def message_of(row: Any) -> CaseMessage:
    """A `CaseMessage` from a row of `case_messages` (by name)."""
    return CaseMessage(
        case_number=row.case_number,
        channel_id=row.channel_id,
        ts=row.ts,
        purpose=MessagePurpose(row.purpose),
        linked_at=row.linked_at,
    )
