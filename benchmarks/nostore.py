"""`NoCaseStore`: a benchmark-only stand-in for `CaseStore` that keeps nothing and does no I/O.

It lets the end-to-end benchmark run the full callmod with and without its case store and
charge the difference to the store. Every public `CaseStore` method is overridden and returns at
once, without awaiting anything: `record` hands out growing numbers, writes do nothing, reads
find nothing (no open bans, no counts, no cases). A `CaseStore` method added later and not
overridden here fails loudly (the stand-in has no engine), rather than touching a database.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Self, TextIO

from bot.cases import (
    Actor,
    Case,
    CaseMessage,
    CaseNotFound,
    CasePage,
    CaseStore,
    Kind,
    MessagePurpose,
    NewCase,
    Note,
    NoteKind,
    Outcome,
)
from bot.cases.models import utc
from bot.util.clock import Clock


class NoCaseStore(CaseStore):
    def __init__(self, clock: Clock) -> None:  # no engine: nothing here may reach a database
        self._clock = clock
        self._case_numbers = itertools.count(1)
        self._note_ids = itertools.count(1)

    @classmethod
    async def open(cls, url: str = "", *, clock: Clock) -> Self:
        return cls(clock)

    async def migrate(self) -> None:
        return None

    async def check_writable(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @property
    def url(self) -> str:
        return "none://"

    @property
    def dialect(self) -> str:
        return "none"

    # -- writing: accepted and forgotten ----------------------------------------------------

    async def record(self, new: NewCase) -> Case:
        return Case(
            number=next(self._case_numbers),
            created_at=self._now(),
            kind=new.kind,
            source=new.source,
            outcome=new.outcome,
            request_id=new.request_id,
            moderator=new.moderator,
            target_user_id=new.target_user_id,
            call_cid=new.call_cid,
            reason=new.reason,
            detail=new.detail,
            duration_seconds=new.duration_seconds,
            expires_at=utc(new.expires_at) if new.expires_at else None,
        )

    async def settle(self, number: int, outcome: Outcome) -> None:
        return None

    def settle_later(self, number: int, outcome: Outcome) -> asyncio.Future[None]:
        return _done()

    async def add_note(self, number: int, author: Actor, text: str) -> Note:
        return Note(next(self._note_ids), number, NoteKind.NOTE, author, self._now(), text)

    async def amend_reason(self, number: int, author: Actor, new_reason: str) -> Case:
        raise CaseNotFound(number)

    async def void(self, number: int, author: Actor, why: str) -> Case:
        raise CaseNotFound(number)

    async def link_message(
        self, number: int, channel_id: str, ts: str, purpose: MessagePurpose
    ) -> CaseMessage:
        return CaseMessage(number, channel_id, ts, purpose, self._now())

    def link_later(
        self, number: int, channel_id: str, ts: str, purpose: MessagePurpose
    ) -> asyncio.Future[None]:
        return _done()

    async def prune(self, older_than: datetime) -> int:
        return 0

    # -- reading: nothing was kept ----------------------------------------------------------

    async def get(self, number: int) -> Case | None:
        return None

    async def messages_for(self, number: int) -> tuple[CaseMessage, ...]:
        return ()

    async def find_by_message(self, channel_id: str, ts: str) -> tuple[Case, ...]:
        return ()

    async def history_for_user(
        self, user_id: str, *, limit: int = 20, before_number: int | None = None
    ) -> CasePage:
        return CasePage((), None)

    async def by_moderator(
        self, slack_user_id: str, *, limit: int = 20, before_number: int | None = None
    ) -> CasePage:
        return CasePage((), None)

    async def counts_for_user(self, user_id: str) -> dict[Kind, int]:
        return {}

    async def latest_open_ban(self, user_id: str) -> Case | None:
        return None

    async def open_bans(self) -> dict[str, Case]:
        return {}

    async def unannounced(self, kind: Kind, *, since: datetime) -> list[Case]:
        return []

    async def latest_before(self, user_id: str, kind: Kind, number: int) -> Case | None:
        return None

    async def export_csv(self, since: datetime, out: TextIO) -> int:
        return 0

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), tz=UTC)


def _done() -> asyncio.Future[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done
