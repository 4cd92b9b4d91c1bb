"""`CaseStore`: the durable, numbered record of every moderation action (SQLite or PostgreSQL).

SQLAlchemy Core rather than the ORM: cases are an append-mostly log read back through a few indexed
queries straight into frozen dataclasses, so the ORM's unit of work, identity map and lazy loading
(which cannot run implicitly under asyncio) would cost time and add traps while giving nothing back.

Every write is one transaction, so a crash leaves a case either whole or absent. On SQLite, this
process's writes take turns on an asyncio lock and begin with `BEGIN IMMEDIATE`: the write lock is
held before anything is read, so a read-modify-write such as amending a reason never works from a
stale copy (writers in other processes wait up to `busy_timeout`). On PostgreSQL, writes lock the
case row (`FOR UPDATE`, or `FOR SHARE` to add a note or message) instead.
"""

from __future__ import annotations

import asyncio
import csv
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self, TextIO

import sqlalchemy as sa
from alembic.util.exc import CommandError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.cases.database import (
    BEGIN_OPTION,
    DEFAULT_DATABASE_URL,
    create_engine,
    describe,
    parse_url,
    upgrade_to_head,
)
from bot.cases.errors import CaseAlreadyVoided, CaseNotFound, CaseStoreError, CaseStoreUnavailable
from bot.cases.models import (
    Actor,
    Case,
    CaseMessage,
    CasePage,
    Kind,
    MessagePurpose,
    NewCase,
    Note,
    NoteKind,
    Outcome,
    Source,
    Voided,
    utc,
)
from bot.cases.schema import case_messages, case_notes, cases
from bot.util.clock import Clock

log = logging.getLogger(__name__)

MAX_PAGE: Final = 200

_MIGRATION_LOCK: Final = 0x63616C6C6D6F64  # "callmod": one migrator at a time on PostgreSQL

CSV_COLUMNS: Final = (
    "number",
    "created_at",
    "kind",
    "source",
    "outcome",
    "request_id",
    "moderator_id",
    "moderator_name",
    "target_user_id",
    "call_cid",
    "reason",
    "detail",
    "duration_seconds",
    "expires_at",
    "voided_at",
    "voided_by_id",
    "voided_by_name",
    "void_reason",
)

_BAN_STATE_KINDS: Final = (Kind.BAN, Kind.UNBAN, Kind.BAN_EXPIRED)


class CaseStore:
    """The case store. Open it with `await CaseStore.open(url, clock=clock)` (which migrates the
    schema) and close it with `await store.close()`, or use it as an async context manager.

    Numbers only grow and are never given twice, across connections and processes; a failed write
    may leave a gap. `created_at` comes from the injected clock. Safe for concurrent use.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        """Use `open()`; this takes an engine that `open()` has set up."""
        self._engine = engine
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite has one writer at a time. Queue this process's writers here, in order, rather
        # than have them poll SQLite's lock (busy_timeout), where one can starve behind the rest.
        self._sqlite_writer = asyncio.Lock()

    # -- life cycle -------------------------------------------------------------------------

    @classmethod
    async def open(cls, url: str = DEFAULT_DATABASE_URL, *, clock: Clock) -> Self:
        """Connect, bring the schema to the newest revision and check the database is writable.

        Raises `CaseStoreUnavailable` with a one-line message naming DATABASE_URL (password
        hidden) when the URL is malformed or names another database, the server cannot be reached
        or refuses the login, or the SQLite file is corrupt, read-only or in a missing directory.
        """
        parsed = parse_url(url)
        safe = parsed.render_as_string(hide_password=True)
        engine = create_engine(parsed)
        store = cls(engine, clock)
        try:
            await store._migrate()
        except CaseStoreError as exc:
            await engine.dispose()
            cause = exc.__cause__ or exc
            raise CaseStoreUnavailable(
                f"DATABASE_URL {safe}: {describe(cause, parsed.password)}"
            ) from cause
        except BaseException:
            await engine.dispose()
            raise
        log.info("case store ready: %s", safe)
        return store

    async def migrate(self) -> None:
        """Upgrade the schema to the newest revision (idempotent; `open()` already does it)."""
        await self._migrate()

    async def check_writable(self) -> None:
        """Prove the database takes a write now (readiness): one no-op UPDATE of a one-row
        table in a write transaction. Raises `CaseStoreUnavailable` when it does not."""
        async with self._write() as conn:
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))

    async def close(self) -> None:
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The database URL with its password hidden: safe to log."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """`"sqlite"` or `"postgresql"`."""
        return self._engine.dialect.name

    # -- writing ----------------------------------------------------------------------------

    async def record(self, new: NewCase) -> Case:
        """Store a new case in one transaction and return it with its number."""
        now = self._now()
        values: dict[str, Any] = {
            "created_at": now,
            "kind": new.kind.value,
            "source": new.source.value,
            "outcome": new.outcome.value,
            "request_id": new.request_id,
            "moderator_id": new.moderator.id if new.moderator else None,
            "moderator_name": new.moderator.name if new.moderator else None,
            "target_user_id": new.target_user_id,
            "call_cid": new.call_cid,
            "reason": new.reason,
            "detail": new.detail,
            "duration_seconds": new.duration_seconds,
            "expires_at": new.expires_at,
        }
        async with self._write() as conn:
            inserted = await conn.execute(sa.insert(cases).values(values).returning(cases.c.number))
            number = int(inserted.scalar_one())
        return Case(
            number=number,
            created_at=now,
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
        """Record how an action that was opened before its Stream call ended. A case opened
        before the call says `maybe_applied`, which stays true if callmod dies in between.
        Raises `CaseNotFound`."""
        async with self._write() as conn:
            await self._lock_case(conn, number, exclusive=True)
            await conn.execute(
                sa.update(cases).where(cases.c.number == number).values(outcome=outcome.value)
            )

    async def add_note(self, number: int, author: Actor, text: str) -> Note:
        """Attach a note. Concurrent notes on one case are all kept, ordered by `Note.id`.
        Raises `CaseNotFound`."""
        async with self._write() as conn:
            await self._lock_case(conn, number, exclusive=False)
            return await self._insert_note(conn, number, NoteKind.NOTE, author, text, None)

    async def amend_reason(self, number: int, author: Actor, new_reason: str) -> Case:
        """Change a case's reason, keeping the old one in a `reason_changed` note (text = the new
        reason, old_value = the old one, None if there was none). Giving the current reason again
        changes nothing. Raises `CaseNotFound`."""
        async with self._write() as conn:
            row = await self._lock_case(conn, number, exclusive=True)
            if row.reason != new_reason:
                await conn.execute(
                    sa.update(cases).where(cases.c.number == number).values(reason=new_reason)
                )
                await self._insert_note(
                    conn, number, NoteKind.REASON_CHANGED, author, new_reason, row.reason
                )
            return await self._load_one(conn, number)

    async def void(self, number: int, author: Actor, why: str) -> Case:
        """Mark a case void (it stays, flagged, with a `voided` note). Raises `CaseNotFound`, or
        `CaseAlreadyVoided` if it was voided before."""
        now = self._now()
        async with self._write() as conn:
            row = await self._lock_case(conn, number, exclusive=True)
            if row.voided_at is not None:
                raise CaseAlreadyVoided(number)
            await conn.execute(
                sa.update(cases)
                .where(cases.c.number == number)
                .values(
                    voided_at=now,
                    voided_by_id=author.id,
                    voided_by_name=author.name,
                    void_reason=why,
                )
            )
            await self._insert_note(conn, number, NoteKind.VOIDED, author, why, None)
            return await self._load_one(conn, number)

    async def link_message(
        self, number: int, channel_id: str, ts: str, purpose: MessagePurpose
    ) -> CaseMessage:
        """Remember that Slack message (channel_id, ts) announced case `number`. Linking the same
        message to the same case again changes nothing and returns the first link. One message
        may announce several cases (a mute of several users). Raises `CaseNotFound`."""
        dialect_insert = postgresql.insert if self._postgres else sqlite.insert
        async with self._write() as conn:
            await self._lock_case(conn, number, exclusive=False)
            await conn.execute(
                dialect_insert(case_messages)
                .values(
                    case_number=number,
                    channel_id=channel_id,
                    ts=ts,
                    purpose=purpose.value,
                    linked_at=self._now(),
                )
                .on_conflict_do_nothing(index_elements=["channel_id", "ts", "case_number"])
            )
            linked = await conn.execute(
                sa.select(case_messages).where(
                    case_messages.c.case_number == number,
                    case_messages.c.channel_id == channel_id,
                    case_messages.c.ts == ts,
                )
            )
            return _message(linked.one())

    async def prune(self, older_than: datetime) -> int:
        """Delete cases created before `older_than`, with their notes and messages; returns how
        many cases went. Their numbers are never given again."""
        async with self._write() as conn:
            deleted = await conn.execute(
                sa.delete(cases).where(cases.c.created_at < utc(older_than, "older_than"))
            )
            return int(deleted.rowcount)

    # -- reading ----------------------------------------------------------------------------

    async def get(self, number: int) -> Case | None:
        """The case with its notes and messages, or None."""
        async with self._read() as conn:
            found = await self._load(conn, sa.select(cases).where(cases.c.number == number))
        return found[0] if found else None

    async def messages_for(self, number: int) -> tuple[CaseMessage, ...]:
        """The Slack messages that announced case `number`, oldest link first (none if the case
        does not exist)."""
        async with self._read() as conn:
            return (await self._messages(conn, [number])).get(number, ())

    async def find_by_message(self, channel_id: str, ts: str) -> tuple[Case, ...]:
        """The cases Slack message (channel_id, ts) announced, lowest number first (usually one,
        none if the message is unknown)."""
        query = (
            sa.select(cases)
            .join(case_messages, case_messages.c.case_number == cases.c.number)
            .where(case_messages.c.channel_id == channel_id, case_messages.c.ts == ts)
            .order_by(cases.c.number)
        )
        async with self._read() as conn:
            return tuple(await self._load(conn, query))

    async def history_for_user(
        self, user_id: str, *, limit: int = 20, before_number: int | None = None
    ) -> CasePage:
        """Cases whose target is Stream user `user_id`, newest first, voided ones included (they
        carry `voided`). Keyset paging: pass the page's `next_before` as `before_number`."""
        return await self._page(cases.c.target_user_id == user_id, limit, before_number)

    async def by_moderator(
        self, slack_user_id: str, *, limit: int = 20, before_number: int | None = None
    ) -> CasePage:
        """Cases done by Slack user `slack_user_id`, newest first; paged like `history_for_user`."""
        return await self._page(cases.c.moderator_id == slack_user_id, limit, before_number)

    async def counts_for_user(self, user_id: str) -> dict[Kind, int]:
        """How many cases of each kind target `user_id`, counting only cases that stand: voided
        cases and failed ones (nothing changed) are left out; `maybe_applied` ones count. Kinds
        with no case are absent."""
        query = (
            sa.select(cases.c.kind, sa.func.count())
            .where(
                cases.c.target_user_id == user_id,
                cases.c.voided_at.is_(None),
                cases.c.outcome != Outcome.FAILED.value,
            )
            .group_by(cases.c.kind)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {Kind(kind): int(count) for kind, count in rows}

    async def latest_open_ban(self, user_id: str) -> Case | None:
        """The newest ban case of `user_id` that no later unban or ban_expired case closed, or
        None. Voided and failed cases are ignored on both sides. Stream stays the truth for
        whether the ban is in force (and whether it has run out); this says which case, and so
        which Slack messages, announced it."""
        query = (
            sa.select(cases)
            .where(
                cases.c.target_user_id == user_id,
                cases.c.kind.in_([kind.value for kind in _BAN_STATE_KINDS]),
                cases.c.voided_at.is_(None),
                cases.c.outcome != Outcome.FAILED.value,
            )
            .order_by(cases.c.number.desc())
            .limit(1)
        )
        async with self._read() as conn:
            found = await self._load(conn, query)
        return found[0] if found and found[0].kind is Kind.BAN else None

    async def open_bans(self) -> dict[str, Case]:
        """`latest_open_ban` for every user at once (with messages), for rebuilding after a
        restart: user id -> the case of the ban callmod last knew to be in force."""
        live = (
            cases.c.kind.in_([kind.value for kind in _BAN_STATE_KINDS]),
            cases.c.voided_at.is_(None),
            cases.c.outcome != Outcome.FAILED.value,
            cases.c.target_user_id.is_not(None),
        )
        latest = (
            sa.select(sa.func.max(cases.c.number).label("number"))
            .where(*live)
            .group_by(cases.c.target_user_id)
            .subquery()
        )
        query = (
            sa.select(cases)
            .join(latest, latest.c.number == cases.c.number)
            .where(cases.c.kind == Kind.BAN.value)
        )
        async with self._read() as conn:
            found = await self._load(conn, query)
        return {case.target_user_id: case for case in found if case.target_user_id is not None}

    async def unannounced(self, kind: Kind, *, since: datetime) -> list[Case]:
        """Cases of `kind` created at or after `since` that no Slack message announced yet
        (announcements callmod still owes after a restart), oldest first."""
        announced = sa.exists().where(case_messages.c.case_number == cases.c.number)
        query = (
            sa.select(cases)
            .where(
                cases.c.kind == kind.value,
                cases.c.created_at >= utc(since, "since"),
                cases.c.voided_at.is_(None),
                ~announced,
            )
            .order_by(cases.c.number)
        )
        async with self._read() as conn:
            return await self._load(conn, query)

    async def latest_before(self, user_id: str, kind: Kind, number: int) -> Case | None:
        """The newest case of `kind` for `user_id` numbered below `number` (with messages)."""
        query = (
            sa.select(cases)
            .where(
                cases.c.target_user_id == user_id,
                cases.c.kind == kind.value,
                cases.c.number < number,
                cases.c.voided_at.is_(None),
            )
            .order_by(cases.c.number.desc())
            .limit(1)
        )
        async with self._read() as conn:
            found = await self._load(conn, query)
        return found[0] if found else None

    async def export_csv(self, since: datetime, out: TextIO) -> int:
        """Write the cases created at or after `since` to `out` as CSV (header `CSV_COLUMNS`,
        oldest first, times in ISO 8601 UTC), streaming rows; returns how many were written."""
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        written = 0
        query = (
            sa.select(*(cases.c[name] for name in CSV_COLUMNS))
            .where(cases.c.created_at >= utc(since, "since"))
            .order_by(cases.c.number)
        )
        async with self._read() as conn:
            result = await conn.stream(query)
            async for row in result:
                writer.writerow(
                    [value.isoformat() if isinstance(value, datetime) else value for value in row]
                )
                written += 1
        return written

    # -- internals --------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), tz=UTC)

    async def _migrate(self) -> None:
        async with self._write() as conn:
            if self._postgres:
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            await conn.run_sync(upgrade_to_head)
            # Prove the database takes writes now, not at the first moderation action.
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))

    @contextmanager
    def _translate(self) -> Iterator[None]:
        password = self._engine.url.password
        try:
            yield
        except IntegrityError as exc:
            raise CaseStoreError(f"case store: {describe(exc, password)}") from exc
        except (SQLAlchemyError, OSError, CommandError, TimeoutError) as exc:
            message = f"case store {self.url}: {describe(exc, password)}"
            raise CaseStoreUnavailable(message) from exc

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        if self._postgres:
            with self._translate():
                async with self._engine.connect() as conn, conn.begin():
                    yield conn
            return
        async with self._sqlite_writer:
            with self._translate():
                async with self._engine.connect() as conn:
                    await conn.execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
                    async with conn.begin():
                        yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        with self._translate():
            async with self._engine.connect() as conn:
                if self._postgres:  # one snapshot for a case and its notes and messages
                    await conn.execution_options(isolation_level="REPEATABLE READ")
                async with conn.begin():
                    yield conn

    async def _lock_case(
        self, conn: AsyncConnection, number: int, *, exclusive: bool
    ) -> sa.Row[Any]:
        """Read the case row, locking it on PostgreSQL (SQLite already holds the write lock)."""
        query = sa.select(cases).where(cases.c.number == number)
        query = query.with_for_update() if exclusive else query.with_for_update(read=True)
        row = (await conn.execute(query)).one_or_none()
        if row is None:
            raise CaseNotFound(number)
        return row

    async def _insert_note(
        self,
        conn: AsyncConnection,
        number: int,
        kind: NoteKind,
        author: Actor,
        text: str,
        old_value: str | None,
    ) -> Note:
        now = self._now()
        inserted = await conn.execute(
            sa.insert(case_notes)
            .values(
                case_number=number,
                kind=kind.value,
                author_id=author.id,
                author_name=author.name,
                created_at=now,
                text=text,
                old_value=old_value,
            )
            .returning(case_notes.c.id)
        )
        return Note(
            id=int(inserted.scalar_one()),
            case_number=number,
            kind=kind,
            author=author,
            created_at=now,
            text=text,
            old_value=old_value,
        )

    async def _page(
        self, matches: sa.ColumnElement[bool], limit: int, before_number: int | None
    ) -> CasePage:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        query = sa.select(cases).where(matches)
        if before_number is not None:
            query = query.where(cases.c.number < before_number)
        query = query.order_by(cases.c.number.desc()).limit(limit + 1)
        async with self._read() as conn:
            found = await self._load(conn, query)
        more = len(found) > limit
        page = tuple(found[:limit])
        return CasePage(page, page[-1].number if more else None)

    async def _load_one(self, conn: AsyncConnection, number: int) -> Case:
        found = await self._load(conn, sa.select(cases).where(cases.c.number == number))
        return found[0]

    async def _load(self, conn: AsyncConnection, query: sa.Select[Any]) -> list[Case]:
        """Run a query over `cases` and complete each row with its notes and messages."""
        rows = (await conn.execute(query)).all()
        numbers = [row.number for row in rows]
        notes = await self._notes(conn, numbers)
        messages = await self._messages(conn, numbers)
        return [_case(row, notes.get(row.number, ()), messages.get(row.number, ())) for row in rows]

    async def _notes(
        self, conn: AsyncConnection, numbers: Sequence[int]
    ) -> dict[int, tuple[Note, ...]]:
        if not numbers:
            return {}
        rows = await conn.execute(
            sa.select(case_notes)
            .where(case_notes.c.case_number.in_(numbers))
            .order_by(case_notes.c.case_number, case_notes.c.id)
        )
        grouped: dict[int, list[Note]] = {}
        for row in rows:
            grouped.setdefault(row.case_number, []).append(
                Note(
                    id=row.id,
                    case_number=row.case_number,
                    kind=NoteKind(row.kind),
                    author=Actor(row.author_id, row.author_name),
                    created_at=row.created_at,
                    text=row.text,
                    old_value=row.old_value,
                )
            )
        return {number: tuple(notes) for number, notes in grouped.items()}

    async def _messages(
        self, conn: AsyncConnection, numbers: Sequence[int]
    ) -> dict[int, tuple[CaseMessage, ...]]:
        if not numbers:
            return {}
        rows = await conn.execute(
            sa.select(case_messages)
            .where(case_messages.c.case_number.in_(numbers))
            .order_by(
                case_messages.c.case_number,
                case_messages.c.linked_at,
                case_messages.c.channel_id,
                case_messages.c.ts,
            )
        )
        grouped: dict[int, list[CaseMessage]] = {}
        for row in rows:
            grouped.setdefault(row.case_number, []).append(_message(row))
        return {number: tuple(messages) for number, messages in grouped.items()}


def _case(row: sa.Row[Any], notes: tuple[Note, ...], messages: tuple[CaseMessage, ...]) -> Case:
    voided = (
        Voided(Actor(row.voided_by_id, row.voided_by_name), row.void_reason, row.voided_at)
        if row.voided_at is not None
        else None
    )
    return Case(
        number=row.number,
        created_at=row.created_at,
        kind=Kind(row.kind),
        source=Source(row.source),
        outcome=Outcome(row.outcome),
        request_id=row.request_id,
        moderator=Actor(row.moderator_id, row.moderator_name)
        if row.moderator_id is not None
        else None,
        target_user_id=row.target_user_id,
        call_cid=row.call_cid,
        reason=row.reason,
        detail=row.detail,
        duration_seconds=row.duration_seconds,
        expires_at=row.expires_at,
        voided=voided,
        notes=notes,
        messages=messages,
    )


def _message(row: sa.Row[Any]) -> CaseMessage:
    return CaseMessage(
        case_number=row.case_number,
        channel_id=row.channel_id,
        ts=row.ts,
        purpose=MessagePurpose(row.purpose),
        linked_at=row.linked_at,
    )
