"""Case history lookups: what `/cases <user>` asks the case store, over a store of 1M cases.

Run: `python -m benchmarks.cases [--quick]`. A SQLite case store is created in a temporary folder
(`CaseStore.open` migrates it), then filled in one transaction with the stdlib `sqlite3`
(`executemany`; the migrated indexes are dropped for the load and re-created from their own SQL in
`sqlite_master`, so they end up exactly as the migration made them): `CASES` cases for `USERS`
Stream users by `MODERATORS` moderators, with the Slack messages and notes such cases carry.

Cases per user are skewed as repeat offenders are: the user of rank r gets a share ∝ 1 / (r + 100),
so the heaviest user has ~50× the median (at 1M: 9 to 2,106 cases, median 42). Kinds, outcomes,
reasons, durations and voids follow `KINDS` and `_generate` below.

Measured, for the same uniformly random users in alternating chunks (order flipped each chunk):

- callmod: `store.history_for_user(user, limit=20)` then `store.counts_for_user(user)`, as
  `commands.cases.show_history` runs them (the store builds `Case` values from the rows: that is
  part of what it costs);
- baseline: one bare `aiosqlite` connection running the store's own two SQL statements (the page
  newest first by number, and the counts by kind without voided or failed cases) on the same file,
  rows fetched as tuples.

Case writes: what every command writes, as `CaseBook` writes it, one command after another: the
case recorded (awaited), then settled and its audit line linked with `settle_later` /
`link_later`, which ride in the next command's transaction. Baseline: the same transactions on
bare `aiosqlite` with the pragmas of the store's engine — per command `BEGIN IMMEDIATE`, the
previous command's settle and link, this command's insert, `COMMIT`.

The benchmark checks once, untimed, that the store runs exactly these statements and nothing else
(`_check_same_sql`, from the statements the store's SQLite connections log at DEBUG), so the
baseline cannot drift from what the store does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import re
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

from benchmarks.procs import pinned, placement
from benchmarks.report import Row, format_table, percentile, row
from bot.cases import Actor, CaseStore, Kind, MessagePurpose, NewCase, NoteKind, Outcome, Source
from bot.cases.database import create_engine, parse_url
from bot.cases.group import WRITE_BEHIND
from bot.util.clock import SystemClock

CASES = 1_000_000
USERS = 10_000
MODERATORS = 50
LOOKUPS = 2_000
QUICK_CASES = 20_000
QUICK_USERS = 200  # the same ~100 cases per user on average as the full store
QUICK_LOOKUPS = 200
CHUNK = 50
WARM_LOOKUPS = 50
WRITES = 500  # commands' worth of case writes (record + settle + link), after the lookups
QUICK_WRITES = 40
WRITE_CHUNK = 25
PAGE = 20  # commands.cases.PAGE_SIZE
SKEW = 100  # user of rank r gets a share ∝ 1 / (r + SKEW)
P99_GOAL_MS = 20.0
RATIO_GOAL = 2.0
SEED = 20261125
START = datetime(2025, 11, 25)  # the oldest case; naive UTC, as SQLite stores it
SPAN = timedelta(days=365)  # the cases spread evenly over a year
LOG_CHANNEL = "C0MODLOG"

NOTES = (
    f"Case history: a SQLite case store (migrated by CaseStore.open) bulk-loaded with {CASES:,} "
    f"cases for {USERS:,} users (skewed: 9 to ~2,100 cases each, median 42) by {MODERATORS} "
    f"moderators, with their audit/notification message links and notes; {LOOKUPS:,} lookups of "
    "uniformly random users in alternating chunks of 50, as /cases <user> runs them: "
    "history_for_user(user, limit=20) + counts_for_user(user). Baseline: one bare aiosqlite "
    "connection running the store's same two SQL statements on the same file. Goals (issue): "
    f"p99 ≤ {P99_GOAL_MS:g} ms and ≤ {RATIO_GOAL:g}× the bare queries. Case write: what every "
    f"command writes (CaseBook.open + finish + link: record awaited, settle and link riding in the "
    f"next command's transaction), {WRITES} times into the same store, against the same "
    "transactions (BEGIN IMMEDIATE, the previous command's settle and link, the insert, COMMIT) "
    "on bare aiosqlite, with the pragmas the store's engine sets (read from it). The benchmark "
    "checks, untimed, that the store runs exactly the baseline's SQL."
)

# The store's SQL (bot/cases/statements.py), as it runs it on SQLite. `_check_same_sql` fails the
# benchmark if the store runs anything else for a lookup or a command's writes.
COLUMNS = (
    "number, created_at, kind, source, outcome, request_id, moderator_id, moderator_name, "
    "target_user_id, call_cid, reason, detail, duration_seconds, expires_at, voided_at, "
    "voided_by_id, voided_by_name, void_reason"
)
COLUMNS_SELECT = ", ".join(f"cases.{name}" for name in COLUMNS.split(", "))
PAGE_SQL = (
    f"SELECT {COLUMNS_SELECT} FROM cases"
    " WHERE cases.target_user_id = ? ORDER BY cases.number DESC LIMIT ? OFFSET ?"
)
COUNTS_SQL = (
    "SELECT cases.kind, count(*) AS count_1 FROM cases WHERE cases.target_user_id = ? AND "
    "cases.voided_at IS NULL AND cases.outcome != ? GROUP BY cases.kind"
)
INSERT_COLUMNS = (
    "created_at, kind, source, outcome, request_id, moderator_id, moderator_name, "
    "target_user_id, call_cid, reason, detail, duration_seconds, expires_at"
)
RECORD_SQL = f"INSERT INTO cases ({INSERT_COLUMNS}) VALUES ({', '.join('?' * 13)}) RETURNING number"
SETTLE_SQL = "UPDATE cases SET outcome=? WHERE cases.number = ? RETURNING number"
LINK_SQL = (
    "INSERT INTO case_messages (channel_id, ts, case_number, purpose, linked_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id, ts, case_number) DO NOTHING "
    "RETURNING linked_at"
)
BEGIN_SQL, COMMIT_SQL = "BEGIN IMMEDIATE", "COMMIT"

# kind → (weight, has a target user, share with a reason)
KINDS: dict[Kind, tuple[float, bool, float]] = {
    Kind.KICK: (22, True, 0.3),
    Kind.MUTE: (22, True, 0.2),
    Kind.BLOCK: (8, True, 0.4),
    Kind.UNBLOCK: (4, True, 0.05),
    Kind.BAN: (9, True, 0.7),
    Kind.UNBAN: (3, True, 0.2),
    Kind.BAN_EXPIRED: (4, True, 0.0),
    Kind.GRANT: (6, True, 0.05),
    Kind.REVOKE: (4, True, 0.2),
    Kind.REQUEST_APPROVED: (8, True, 0.0),
    Kind.REQUEST_DENIED: (4, True, 0.1),
    Kind.DEACTIVATE: (1, True, 0.8),
    Kind.REACTIVATE: (0.5, True, 0.3),
    Kind.USER_BLOCK: (1, True, 0.3),
    Kind.USER_UNBLOCK: (0.5, True, 0.05),
    Kind.MUTE_ALL: (1.5, False, 0.1),
    Kind.SCREENSHARE: (1.5, False, 0.1),
}
REASONS = (
    "spamming",
    "harassment",
    "off-topic",
    "hate speech",
    "repeated interruptions",
    "inappropriate screen share",
    "asked to leave twice",
    "impersonating a speaker",
    "see the thread in #mods",
    "bot account",
)
BAN_SECONDS = (1800, 3600, 7200, 86_400, 604_800)
VOIDED_SHARE = 0.005
NOTE_SHARE = 0.01


class BenchmarkError(RuntimeError):
    pass


@dataclass(frozen=True)
class Store:
    """A filled case store on disk and what the lookups need to know about it."""

    path: Path
    cases: int
    users: list[str]
    per_user: list[int]  # cases per user (for the report)
    load_seconds: float

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.path}"


@dataclass
class Timings:
    """Seconds per lookup: the page, the counts, and the two together."""

    page: list[float]
    counts: list[float]
    both: list[float]

    @classmethod
    def empty(cls) -> Timings:
        return cls([], [], [])


# -- building the store ----------------------------------------------------------------------

CaseRow = tuple[object, ...]
LinkRow = tuple[str, str, int, str, str]


@dataclass
class Generated:
    cases: list[CaseRow]
    links: list[LinkRow]  # case_messages rows
    notes: list[CaseRow]  # case_notes rows (id left to SQLite)
    per_user: list[int]


def _user(i: int) -> str:
    return f"user-{i:05d}"


def _stamp(moment: datetime) -> str:
    """How the store's UTCDateTime keeps a time in SQLite (SQLAlchemy's DATETIME format)."""
    return moment.isoformat(" ", "microseconds")


def _stamps(count: int) -> list[str]:
    """`count` creation times spread evenly over SPAN from START, formatted as `_stamp` does
    (by arithmetic: a million datetimes would take longer than the rest of the load)."""
    days = [_stamp(START + timedelta(days=d))[:11] for d in range(SPAN.days + 2)]
    step = int(SPAN.total_seconds() * 1_000_000) // count
    out: list[str] = []
    for i in range(count):
        day, rest = divmod(i * step, 86_400_000_000)
        seconds, micros = divmod(rest, 1_000_000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        out.append(f"{days[day]}{hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}")
    return out


def _generate(count: int, users: int, seed: int) -> Generated:
    """`count` cases, newest last, with the Slack messages that announced them and their notes.

    Per case: the kind by KINDS' weights; the target by the skewed user shares (none for mute-all
    and screenshare); a moderator of MODERATORS (also skewed); 20% of bans and unbans come from
    Stream webhooks and every ban_expired from callmod itself (no moderator); 3% failed, 2% maybe
    applied; reasons by kind; 60% of bans timed; 0.5% voided (with their `voided` note), 1% with a
    note; an audit line for every Slack case and a notification for bans and expiries.
    """
    rng = random.Random(seed)
    rand = rng.random
    kinds = list(KINDS)
    kind_of = rng.choices(kinds, weights=[KINDS[k][0] for k in kinds], k=count)
    user_of = rng.choices(range(users), weights=[1 / (r + SKEW) for r in range(users)], k=count)
    mod_weights = [1 / (m + 5) for m in range(MODERATORS)]
    mod_of = rng.choices(range(MODERATORS), weights=mod_weights, k=count)
    names = [_user(i) for i in range(users)]
    mods = [(f"U0MOD{m:04d}", f"moderator-{m}") for m in range(MODERATORS)]
    calls = [f"default:call-{c}" for c in range(500)]
    words = {k: k.value.replace("_", " ") for k in kinds}
    stamps = _stamps(count)
    first_ts = int(START.replace(tzinfo=UTC).timestamp())
    step_s = SPAN.total_seconds() / count
    done, failed, maybe = Outcome.DONE.value, Outcome.FAILED.value, Outcome.MAYBE_APPLIED.value
    slack, stream, callmod = Source.SLACK.value, Source.STREAM.value, Source.CALLMOD.value
    audit, notification = MessagePurpose.AUDIT.value, MessagePurpose.NOTIFICATION.value
    voider = mods[0]
    out = Generated([], [], [], [0] * users)
    for i in range(count):
        number = i + 1
        kind = kind_of[i]
        _, targeted, reason_share = KINDS[kind]
        user: str | None = None
        if targeted:
            user = names[user_of[i]]
            out.per_user[user_of[i]] += 1
        if kind is Kind.BAN_EXPIRED:
            source = callmod
        elif kind in (Kind.BAN, Kind.UNBAN) and rand() < 0.2:
            source = stream
        else:
            source = slack
        mod_id, mod_name = mods[mod_of[i]] if source == slack else (None, None)
        roll = rand()
        outcome = failed if roll < 0.03 else maybe if roll < 0.05 else done
        reason = REASONS[int(rand() * len(REASONS))] if rand() < reason_share else None
        call = calls[int(rand() * len(calls))]
        created = stamps[i]
        duration: int | None = None
        expires: str | None = None
        if kind is Kind.BAN and rand() < 0.6:
            duration = BAN_SECONDS[int(rand() * len(BAN_SECONDS))]
            at = START + timedelta(seconds=i * step_s + duration)
            expires = _stamp(at)
        void: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None)
        if rand() < VOIDED_SHARE:
            void = (_stamp(START + timedelta(seconds=i * step_s + 3600)), *voider, "by mistake")
            out.notes.append((number, NoteKind.VOIDED.value, *voider, void[0], void[3], None))
        if rand() < NOTE_SHARE:
            note_by = mods[mod_of[i]] if source == slack else voider
            out.notes.append((number, NoteKind.NOTE.value, *note_by, created, "warned in DM", None))
        detail = f"{words[kind]} `{user}` in `{call}`" if user else f"{words[kind]} in `{call}`"
        out.cases.append(
            (
                number,
                created,
                kind.value,
                source,
                outcome,
                f"{number:016x}",
                mod_id,
                mod_name,
                user,
                call,
                reason,
                detail,
                duration,
                expires,
                *void,
            )
        )
        ts = f"{first_ts + int(i * step_s)}.{number % 1_000_000:06d}"
        if source == slack:
            out.links.append((LOG_CHANNEL, ts, number, audit, created))
        if kind is Kind.BAN or kind is Kind.BAN_EXPIRED:
            out.links.append((LOG_CHANNEL, f"{ts}1", number, notification, created))
    return out


def _bulk_load(path: Path, data: Generated) -> None:
    """Everything in one transaction, the migrated indexes dropped and re-created around it."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=DELETE")  # no WAL the size of the database
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-262144")  # 256 MiB, for the index builds
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('cases', 'case_notes', 'case_messages')"
        ).fetchall()
        db.execute("BEGIN")
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        marks = ", ".join("?" * len(COLUMNS.split(", ")))
        db.executemany(f"INSERT INTO cases ({COLUMNS}) VALUES ({marks})", data.cases)
        db.executemany(
            "INSERT INTO case_messages (channel_id, ts, case_number, purpose, linked_at) "
            "VALUES (?, ?, ?, ?, ?)",
            data.links,
        )
        db.executemany(
            "INSERT INTO case_notes (case_number, kind, author_id, author_name, created_at, "
            "text, old_value) VALUES (?, ?, ?, ?, ?, ?, ?)",
            data.notes,
        )
        for _, sql in indexes:
            db.execute(sql)
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode=WAL")  # as the store keeps it
    finally:
        db.close()


async def build(folder: Path, count: int, users: int, seed: int = SEED) -> Store:
    """A migrated case store at `folder/cases.db` holding `count` cases for `users` users."""
    started = time.perf_counter()
    path = folder / "cases.db"
    store = await CaseStore.open(f"sqlite+aiosqlite:///{path}", clock=SystemClock())
    await store.close()
    data = _generate(count, users, seed)
    await asyncio.to_thread(_bulk_load, path, data)
    names = [_user(i) for i in range(users)]
    return Store(path, count, names, data.per_user, time.perf_counter() - started)


# -- the two sides ---------------------------------------------------------------------------

Lookup = Callable[[str, Timings], Awaitable[None]]


def _store_lookup(store: CaseStore) -> Lookup:
    async def lookup(user: str, into: Timings) -> None:
        began = time.perf_counter()
        await store.history_for_user(user, limit=PAGE)
        paged = time.perf_counter()
        await store.counts_for_user(user)
        done = time.perf_counter()
        into.page.append(paged - began)
        into.counts.append(done - paged)
        into.both.append(done - began)

    return lookup


def _bare_lookup(db: aiosqlite.Connection) -> Lookup:
    async def lookup(user: str, into: Timings) -> None:
        began = time.perf_counter()
        async with db.execute(PAGE_SQL, (user, PAGE + 1, 0)) as cursor:
            await cursor.fetchall()
        paged = time.perf_counter()
        async with db.execute(COUNTS_SQL, (user, Outcome.FAILED.value)) as cursor:
            await cursor.fetchall()
        done = time.perf_counter()
        into.page.append(paged - began)
        into.counts.append(done - paged)
        into.both.append(done - began)

    return lookup


def _normal(sql: str) -> str:
    return " ".join(sql.split())


# A value as SQLite's expanded SQL shows it: a string, a number, NULL or a blob.
_LITERAL = r"(?:'(?:[^']|'')*'|-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?|NULL|X'[0-9A-Fa-f]*')"


def _pattern(sql: str) -> re.Pattern[str]:
    """`sql` with each `?` standing for any value."""
    return re.compile(_LITERAL.join(re.escape(part) for part in _normal(sql).split("?")))


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        statement = _normal(record.getMessage())
        if not statement.startswith("PRAGMA "):  # a new connection's set-up
            self.statements.append(statement)


@contextlib.contextmanager
def _sql_log() -> Iterator[_Capture]:
    """The statements the store's SQLite connections run meanwhile (they log them at DEBUG when
    the logger is on as they open), kept out of the terminal."""
    logger = logging.getLogger("callmod.cases.sql")
    capture = _Capture()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield capture
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
        logger.propagate = propagate


def _require(what: str, ran: list[str], expected: Sequence[str]) -> None:
    matched = len(ran) == len(expected) and all(
        _pattern(sql).fullmatch(statement) for sql, statement in zip(expected, ran, strict=True)
    )
    if not matched:
        raise BenchmarkError(
            f"the store's {what} no longer runs the baseline's SQL; update benchmarks/cases.py. "
            f"It ran: {ran}; the baseline runs: {[_normal(sql) for sql in expected]}"
        )


async def _check_same_sql(url: str, user: str) -> None:
    """Fail unless a lookup runs exactly PAGE_SQL and COUNTS_SQL, and two commands' writes exactly
    the baseline's transactions (on a fresh store, so its connections log their SQL)."""
    with _sql_log() as capture:
        store = await CaseStore.open(url, clock=SystemClock())
        try:
            capture.statements.clear()
            await store.history_for_user(user, limit=PAGE)
            await store.counts_for_user(user)
            _require("lookup", capture.statements, [PAGE_SQL, COUNTS_SQL])
            capture.statements.clear()
            writes = _store_writes(store)
            await writes.command(-1)
            await writes.command(-2)
            first = [BEGIN_SQL, RECORD_SQL, COMMIT_SQL]
            later = [BEGIN_SQL, SETTLE_SQL, LINK_SQL, RECORD_SQL, COMMIT_SQL]
            _require("case writes", capture.statements, first + later)
            await writes.settle()
        finally:
            await store.close()


async def _timed(lookup: Lookup, users: Sequence[str], into: Timings) -> None:
    for user in users:
        await lookup(user, into)


async def measure(built: Store, lookups: int, seed: int = SEED) -> tuple[Timings, Timings]:
    """(store, bare) timings for `lookups` random users, asked of both sides alike."""
    rng = random.Random(seed + 1)
    chosen = [rng.choice(built.users) for _ in range(lookups)]
    warm = [rng.choice(built.users) for _ in range(WARM_LOOKUPS)]
    await _check_same_sql(built.url, chosen[0])
    store = await CaseStore.open(built.url, clock=SystemClock())
    try:
        async with aiosqlite.connect(built.path) as db:
            ours, bare = _store_lookup(store), _bare_lookup(db)
            await _timed(ours, warm, Timings.empty())
            await _timed(bare, warm, Timings.empty())
            mine, theirs = Timings.empty(), Timings.empty()
            for n, start in enumerate(range(0, lookups, CHUNK)):
                users = chosen[start : start + CHUNK]
                sides = [(ours, mine), (bare, theirs)]
                for lookup, into in sides if n % 2 == 0 else sides[::-1]:
                    await _timed(lookup, users, into)
    finally:
        await store.close()
    return mine, theirs


WriteCommand = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class Writer:
    """One side's case writes: `command(i)` is timed; `settle()` lands what is still waiting
    (untimed, between chunks)."""

    command: WriteCommand
    settle: Callable[[], Awaitable[None]]


def _store_writes(store: CaseStore) -> Writer:
    """What CaseBook does for one command: open its case (its transaction also takes the
    previous command's settle and link, which waited for it), then settle it and link its audit
    line for later."""

    async def command(i: int) -> None:
        case = await store.record(
            NewCase(
                kind=Kind.KICK,
                source=Source.SLACK,
                outcome=Outcome.MAYBE_APPLIED,
                request_id=f"bench-{i}",
                moderator=Actor("U0MOD0001", "moderator-1"),
                target_user_id=_user(i % 100),
                call_cid="default:bench",
                detail=f"kick `{_user(i % 100)}` from `default:bench`",
            )
        )
        store.settle_later(case.number, Outcome.DONE)
        store.link_later(case.number, LOG_CHANNEL, f"9{i:09d}.0", MessagePurpose.AUDIT)

    async def settle() -> None:
        await asyncio.sleep(WRITE_BEHIND * 2)  # the store's own timer lands them

    return Writer(command, settle)


def _bare_writes(db: aiosqlite.Connection) -> Writer:
    """The same transactions on bare aiosqlite, the store's statements in the same order (rows
    fetched, nothing else read): per command `BEGIN IMMEDIATE`, the previous command's settle
    and link, this command's insert, `COMMIT`."""
    waiting: list[tuple[int, int, str]] = []  # (case number, command, time) to settle and link

    async def run(sql: str, params: tuple[object, ...]) -> list[sqlite3.Row]:
        async with db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def settle_waiting() -> None:
        for number, i, at in waiting:
            await run(SETTLE_SQL, (Outcome.DONE.value, number))
            await run(LINK_SQL, (LOG_CHANNEL, f"8{i:09d}.0", number, "audit", at))
        waiting.clear()

    async def command(i: int) -> None:
        now = _stamp(datetime.now(UTC).replace(tzinfo=None))
        user = _user(i % 100)
        detail = f"kick `{user}` from `default:bench`"
        values = (now, "kick", "slack", "maybe_applied", f"bare-{i}", "U0MOD0001", "moderator-1")
        more = (user, "default:bench", None, detail, None, None)
        await db.execute(BEGIN_SQL)
        await settle_waiting()
        [(number,)] = await run(RECORD_SQL, values + more)
        await db.execute(COMMIT_SQL)
        waiting.append((number, i, now))

    async def settle() -> None:
        if waiting:
            await db.execute(BEGIN_SQL)
            await settle_waiting()
            await db.execute(COMMIT_SQL)

    return Writer(command, settle)


async def _timed_writes(writer: Writer, numbers: range, into: list[float]) -> None:
    for i in numbers:
        began = time.perf_counter()
        await writer.command(i)
        into.append(time.perf_counter() - began)
    await writer.settle()


STORE_PRAGMAS = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")


async def store_pragmas(url: str) -> dict[str, object]:
    """The pragmas a connection of the store's engine runs with (journal mode, synchronous, …),
    so the bare baseline writes exactly as durably as the store does."""
    engine = create_engine(parse_url(url))
    try:
        async with engine.connect() as conn:
            return {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in STORE_PRAGMAS
            }
    finally:
        await engine.dispose()


async def measure_writes(built: Store, writes: int) -> tuple[list[float], list[float]]:
    """(store, bare) seconds per command's case writes, in alternating chunks."""
    pragmas = await store_pragmas(built.url)
    store = await CaseStore.open(built.url, clock=SystemClock())
    try:
        async with aiosqlite.connect(built.path, isolation_level=None) as db:
            for name, value in pragmas.items():
                await db.execute(f"PRAGMA {name}={value}")
            ours, bare = _store_writes(store), _bare_writes(db)
            await _timed_writes(ours, range(-WRITE_CHUNK, 0), [])
            await _timed_writes(bare, range(-WRITE_CHUNK, 0), [])
            mine: list[float] = []
            theirs: list[float] = []
            for n, start in enumerate(range(0, writes, WRITE_CHUNK)):
                numbers = range(start, min(start + WRITE_CHUNK, writes))
                sides = [(ours, mine), (bare, theirs)]
                for writer, into in sides if n % 2 == 0 else sides[::-1]:
                    await _timed_writes(writer, numbers, into)
    finally:
        await store.close()
    return mine, theirs


# -- query plans -----------------------------------------------------------------------------


def explain(built: Store, *, analyzed: bool = False) -> list[str]:
    """EXPLAIN QUERY PLAN of the store's two lookup statements, for the heaviest user. With
    `analyzed`, on a copy of the statistics ANALYZE would gather (the store never runs it)."""
    heaviest = built.users[max(range(len(built.users)), key=built.per_user.__getitem__)]
    db = sqlite3.connect(built.path)
    try:
        if analyzed:
            db.execute("ANALYZE")
        statements: list[tuple[str, str, Sequence[object]]] = [
            ("history page", PAGE_SQL, (heaviest, PAGE + 1, 0)),
            ("counts", COUNTS_SQL, (heaviest, Outcome.FAILED.value)),
        ]
        lines = [f"query plans{' after ANALYZE' if analyzed else ''} (user {heaviest}):"]
        for label, sql, params in statements:
            plan = db.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            lines.append(f"  {label}: " + "; ".join(str(step[-1]) for step in plan))
        if analyzed:
            db.execute("DROP TABLE IF EXISTS sqlite_stat1")
            db.execute("DROP TABLE IF EXISTS sqlite_stat4")
            db.commit()
        return lines
    finally:
        db.close()


# -- the rows --------------------------------------------------------------------------------


def _rows(
    built: Store,
    ours: Timings,
    bare: Timings,
    writes: tuple[list[float], list[float]],
    *,
    goals: bool = True,
) -> list[Row]:
    """The table rows; the issue's goals apply to the full-size store only (`goals`)."""

    def ms(samples: list[float], pct: int) -> float:
        return percentile(samples, pct) * 1e3

    my_writes, bare_writes = writes

    n = built.cases
    p99, base99 = ms(ours.both, 99), ms(bare.both, 99)
    return [
        row("cases page p50", n, ms(ours.page, 50), ms(bare.page, 50), "ms"),
        row("cases page p99", n, ms(ours.page, 99), ms(bare.page, 99), "ms"),
        row("cases counts p99", n, ms(ours.counts, 99), ms(bare.counts, 99), "ms"),
        row("/cases lookup p50", n, ms(ours.both, 50), ms(bare.both, 50), "ms"),
        row(
            "/cases lookup p99",
            n,
            p99,
            base99,
            "ms",
            goal=f"≤ {P99_GOAL_MS:g} ms, ≤ {RATIO_GOAL:g}× baseline" if goals else None,
            met=p99 <= P99_GOAL_MS and p99 <= RATIO_GOAL * base99 if goals else None,
        ),
        row("case write p50", n, ms(my_writes, 50), ms(bare_writes, 50), "ms"),
        row("case write p99", n, ms(my_writes, 99), ms(bare_writes, 99), "ms"),
    ]


async def _run(quick: bool, keep: Callable[[Store], None] | None = None) -> list[Row]:
    count, users, lookups, writes = (
        (QUICK_CASES, QUICK_USERS, QUICK_LOOKUPS, QUICK_WRITES)
        if quick
        else (CASES, USERS, LOOKUPS, WRITES)
    )
    with tempfile.TemporaryDirectory(prefix="callmod-bench-cases-") as folder:
        built = await build(Path(folder), count, users)
        with pinned(placement().server):
            ours, bare = await measure(built, lookups)
            written = await measure_writes(built, writes)
        if keep is not None:
            keep(built)
    return _rows(built, ours, bare, written, goals=not quick)


def run(quick: bool = False) -> list[Row]:
    return asyncio.run(_run(quick))


def describe(built: Store) -> list[str]:
    spread = sorted(built.per_user)
    size = built.path.stat().st_size / 1e6
    return [
        f"store: {built.cases:,} cases for {len(built.users):,} users, {size:,.0f} MB, "
        f"loaded in {built.load_seconds:.1f} s; cases per user: min {spread[0]}, median "
        f"{statistics.median(spread):g}, p99 {spread[len(spread) * 99 // 100]}, max {spread[-1]}",
        *explain(built),
        *explain(built, analyzed=True),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cases")
    parser.add_argument("--quick", action="store_true", help="a 20k-case store, for a smoke run")
    args = parser.parse_args()
    details: list[str] = []
    rows = asyncio.run(_run(args.quick, keep=lambda built: details.extend(describe(built))))
    print(format_table(rows))
    print("\n".join(details))


if __name__ == "__main__":
    main()
