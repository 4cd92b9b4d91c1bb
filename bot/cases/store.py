"""`CaseStore`: the durable, numbered record of every moderation action (SQLite or PostgreSQL).

SQLAlchemy Core rather than the ORM: cases are an append-mostly log read back through a few indexed
queries straight into frozen dataclasses, so the ORM's unit of work, identity map and lazy loading
(which cannot run implicitly under asyncio) would cost time and add traps while giving nothing back.

Every write is one transaction, so a crash leaves a case either whole or absent. On SQLite, this
process's writes take turns on an asyncio lock and begin with `BEGIN IMMEDIATE`: the write lock is
held before anything is read, so a read-modify-write such as amending a reason never works from a
stale copy (writers in other processes wait up to `busy_timeout`). On PostgreSQL, writes lock the
case row (`FOR UPDATE`, or `FOR SHARE` to add a note) instead.

The hot paths are built for throughput (benchmarks/README.md, "Case store"): the writes every
command makes — record, settle, link — go through a group writer (`group.py`) that commits what
is waiting, from all commands in flight, in one transaction; `settle_later` and `link_later` wait
for the next write's transaction (or a few milliseconds) instead of taking their own, and every
read and write of this store commits them first. On SQLite those writes and the `/cases` reads (a
history page, the counts) run on the store's own connections (`sqlite_io.py`): writes on the
event loop's thread, never waiting for a lock (a locked database sends them to a thread that
waits), reads on reader threads. Everything else goes through SQLAlchemy's async engine.
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
from bot.cases.group import GroupWriter
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
    utc,
)
from bot.cases.rows import case_of, message_of
from bot.cases.schema import case_messages, case_notes, cases
from bot.cases.sqlite_io import SqliteIO, fetch_cases, fetch_rows
from bot.cases.statements import (
    COUNTS,
    LINK,
    MODERATOR_PAGE,
    MODERATOR_PAGE_BEFORE,
    RECORD,
    SETTLE,
    USER_PAGE,
    USER_PAGE_BEFORE,
    Statement,
)
from bot.cases.writes import SqlAlchemyBatches, Write
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
        where = f"case store {self.url}"
        self._sqlite: SqliteIO | None = None
        if self._postgres:
            self._writer = GroupWriter(SqlAlchemyBatches(engine, where, engine.url.password))
        else:
            args, kwargs = engine.dialect.create_connect_args(engine.url)
            self._sqlite = SqliteIO(args, kwargs, where)
            self._writer = GroupWriter(
                self._sqlite.write, self._sqlite_writer, now=self._sqlite.write_now
            )

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
        """Wait for the writes already submitted, then close every connection."""
        await self._writer.close()
        if self._sqlite is not None:
            await self._sqlite.close()
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
        """Store a new case and return it with its number (committed, in a batch with other
        waiting writes: see `group.py`)."""
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
        inserted = await self._commit(Write(RECORD, values))
        assert inserted is not None  # INSERT … RETURNING number
        number = int(inserted[0])
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
        settled = await self._commit(_settle(number, outcome))
        if settled is None:
            raise CaseNotFound(number)

    def settle_later(self, number: int, outcome: Outcome) -> asyncio.Future[None]:
        """`settle`, committed with the store's next write or within `group.WRITE_BEHIND`
        seconds, so it costs no transaction of its own; this store's reads see it at once. The
        future fails as `settle` would."""
        return _done_when(self._writer.later(_settle(number, outcome)), missing=number)

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
        now = self._now()
        values = _link(number, channel_id, ts, purpose, now)
        if await self._commit(Write(LINK, values, case_number=number)) is not None:
            return CaseMessage(number, channel_id, ts, purpose, now)
        async with self._read() as conn:  # linked before: the first link stands
            linked = await conn.execute(
                sa.select(case_messages).where(
                    case_messages.c.case_number == number,
                    case_messages.c.channel_id == channel_id,
                    case_messages.c.ts == ts,
                )
            )
            first = linked.one_or_none()
        if first is None:  # pruned meanwhile
            raise CaseNotFound(number)
        return message_of(first)

    def link_later(
        self, number: int, channel_id: str, ts: str, purpose: MessagePurpose
    ) -> asyncio.Future[None]:
        """`link_message`, committed like `settle_later`; the future fails as it would."""
        values = _link(number, channel_id, ts, purpose, self._now())
        return _done_when(self._writer.later(Write(LINK, values, case_number=number)))

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
        carry `voided`). Keyset paging: pass the page's `next_before` as `before_number`. A page
        lists cases without their notes and messages (`get()` has them)."""
        statement = USER_PAGE if before_number is None else USER_PAGE_BEFORE
        return await self._page(statement, user_id, limit, before_number)

    async def by_moderator(
        self, slack_user_id: str, *, limit: int = 20, before_number: int | None = None
    ) -> CasePage:
        """Cases done by Slack user `slack_user_id`, newest first; paged like `history_for_user`."""
        statement = MODERATOR_PAGE if before_number is None else MODERATOR_PAGE_BEFORE
        return await self._page(statement, slack_user_id, limit, before_number)

    async def counts_for_user(self, user_id: str) -> dict[Kind, int]:
        """How many cases of each kind target `user_id`, counting only cases that stand: voided
        cases and failed ones (nothing changed) are left out; `maybe_applied` ones count. Kinds
        with no case are absent."""
        params = {"who": user_id}
        await self._writer.flush()
        if self._sqlite is not None:
            rows: Sequence[Sequence[Any]] = await self._sqlite.read(fetch_rows(COUNTS, params))
        else:
            async with self._read() as conn:
                rows = (await conn.execute(COUNTS.postgres, params)).all()
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
        await self._writer.flush()  # the writes waiting to go come first
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
        await self._writer.flush()  # a reader sees every write made before it
        with self._translate():
            async with self._engine.connect() as conn:
                if self._postgres:  # one snapshot for a case and its notes and messages
                    await conn.execution_options(isolation_level="REPEATABLE READ")
                async with conn.begin():
                    yield conn

    async def _commit(self, write: Write) -> tuple[Any, ...] | None:
        return await self._writer.submit(write)  # failures come as the store's own errors

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
        self, statement: Statement, who: str, limit: int, before_number: int | None
    ) -> CasePage:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        params: dict[str, Any] = {"who": who, "limit": limit + 1}
        if before_number is not None:
            params["before"] = before_number
        await self._writer.flush()
        if self._sqlite is not None:
            found = await self._sqlite.read(fetch_cases(statement, params))
        else:
            async with self._read() as conn:
                found = [case_of(row) for row in await conn.execute(statement.postgres, params)]
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
        return [
            case_of(row, notes.get(row.number, ()), messages.get(row.number, ())) for row in rows
        ]

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
            grouped.setdefault(row.case_number, []).append(message_of(row))
        return {number: tuple(messages) for number, messages in grouped.items()}


def _link(
    number: int, channel_id: str, ts: str, purpose: MessagePurpose, now: datetime
) -> dict[str, Any]:
    """The parameters of `statements.LINK`."""
    return {
        "case_number": number,
        "channel_id": channel_id,
        "ts": ts,
        "purpose": purpose.value,
        "linked_at": now,
    }


def _settle(number: int, outcome: Outcome) -> Write:
    return Write(SETTLE, {"case": number, "new_outcome": outcome.value})


def _done_when(
    written: asyncio.Future[tuple[Any, ...] | None], *, missing: int | None = None
) -> asyncio.Future[None]:
    """Done when `written` is, with its failure; with no row back, `CaseNotFound(missing)`."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def answer(written: asyncio.Future[tuple[Any, ...] | None]) -> None:
        if done.done():
            return
        if written.cancelled():
            done.cancel()
        elif (error := written.exception()) is not None:
            done.set_exception(error)
        elif written.result() is None and missing is not None:
            done.set_exception(CaseNotFound(missing))
        else:
            done.set_result(None)

    written.add_done_callback(answer)
    return done
