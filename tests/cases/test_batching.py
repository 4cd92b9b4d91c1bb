"""Group commit (bot/cases/writes.py): the record, settle and link writes that queue up together
share one transaction, on SQLite and PostgreSQL; a bad write fails alone; a locked database fails
the batch's writes as before, so the case book queues and retries them.

On SQLite a write that finds nothing queued is committed at once on the event loop's connection;
writes queue while the store's writer lock is held (by a slower write, or here by the test)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

import bot.cases.database
from bot.cases import (
    Actor,
    CaseNotFound,
    CaseStore,
    CaseStoreUnavailable,
    Kind,
    MessagePurpose,
    NewCase,
    Outcome,
    Source,
)
from bot.cases.group import WRITE_BEHIND
from bot.cases.writes import Result, Write
from bot.core.model import Actor as SlackActor
from bot.core.model import Plan, Role
from bot.moderation.history.book import CaseBook
from bot.util.clock import ManualClock

from .conftest import sqlite_url

MARIA = Actor("U0MARIA01", "maria")
CONCURRENT = 50


def kick(i: int, target: str = "sara") -> NewCase:
    return NewCase(
        kind=Kind.KICK,
        source=Source.SLACK,
        outcome=Outcome.MAYBE_APPLIED,
        request_id=f"req-{i}",
        moderator=MARIA,
        target_user_id=target,
    )


@asynccontextmanager
async def queued(store: CaseStore) -> AsyncIterator[None]:
    """Writes submitted inside queue up (SQLite: behind the writer lock) and go as one batch
    on the way out."""
    if store.dialect != "sqlite":  # the writer task batches whatever queued while it ran
        yield
        await asyncio.sleep(0)  # every task has submitted its write
        return
    async with store._sqlite_writer:
        yield
        await asyncio.sleep(0.01)  # every task has submitted its write


def batch_sizes(store: CaseStore) -> list[int]:
    """Record the size of every batch the store's group writer commits from now on."""
    sizes: list[int] = []
    writer = store._writer
    run = writer._batch

    async def counted(writes: Sequence[Write]) -> list[Result]:
        sizes.append(len(writes))
        return await run(writes)

    writer._batch = counted
    return sizes


async def test_concurrent_records_share_a_batch_and_get_distinct_growing_numbers(
    store: CaseStore,
) -> None:
    first = await store.record(kick(-1))
    sizes = batch_sizes(store)

    async with queued(store):
        recording = asyncio.gather(*(store.record(kick(i)) for i in range(CONCURRENT)))
    cases = await recording

    numbers = [case.number for case in cases]
    assert numbers == sorted(numbers) and len(set(numbers)) == CONCURRENT  # in submission order
    assert first.number < numbers[0]
    assert sizes == [CONCURRENT]  # one transaction for all of them
    page = await store.history_for_user("sara", limit=CONCURRENT + 1)
    assert [case.number for case in page.cases] == [*reversed(numbers), first.number]
    assert [case.request_id for case in page.cases[:2]] == [f"req-{CONCURRENT - 1}", "req-48"]


async def test_a_bad_write_fails_alone_and_its_batch_mates_are_committed(
    store: CaseStore,
) -> None:
    sara = await store.record(kick(0))
    sizes = batch_sizes(store)

    async with queued(store):
        writing = asyncio.gather(
            store.record(kick(1, "john")),
            store.settle(sara.number, Outcome.DONE),
            store.settle(9999, Outcome.DONE),  # no such case
            store.link_message(sara.number, "C0LOG", "1.1", MessagePurpose.AUDIT),
            store.link_message(9999, "C0LOG", "1.2", MessagePurpose.AUDIT),  # foreign key
            store.record(kick(2, "john")),
            return_exceptions=True,
        )
    results = await writing

    assert sizes[0] == 6  # tried together first, then one by one
    john, settled, missing, linked, unlinked, john_again = results
    assert isinstance(missing, CaseNotFound) and missing.number == 9999
    assert isinstance(unlinked, CaseNotFound) and unlinked.number == 9999
    assert settled is None
    assert not isinstance(linked, BaseException) and linked.ts == "1.1"
    assert not isinstance(john, BaseException) and not isinstance(john_again, BaseException)
    assert sara.number < john.number < john_again.number
    stored = await store.get(sara.number)
    assert stored is not None and stored.outcome is Outcome.DONE
    assert [m.ts for m in stored.messages] == ["1.1"]
    assert [c.number for c in (await store.history_for_user("john")).cases] == [
        john_again.number,
        john.number,
    ]


async def test_linking_again_in_the_same_batch_keeps_the_first_link(store: CaseStore) -> None:
    case = await store.record(kick(0))
    async with queued(store):
        linking = asyncio.gather(
            store.link_message(case.number, "C0LOG", "1.1", MessagePurpose.AUDIT),
            store.link_message(case.number, "C0LOG", "1.1", MessagePurpose.NOTIFICATION),
        )
    first, again = await linking
    assert first == again and first.purpose is MessagePurpose.AUDIT


async def test_close_waits_for_the_writes_already_submitted(
    database_url: str, clock: ManualClock
) -> None:
    store = await CaseStore.open(database_url, clock=clock)
    async with queued(store):
        pending = [asyncio.create_task(store.record(kick(i))) for i in range(10)]
    assert not any(task.done() for task in pending)  # queued, not yet committed
    await store.close()
    numbers = [(await task).number for task in pending]
    async with await CaseStore.open(database_url, clock=clock) as reopened:
        page = await reopened.history_for_user("sara")
    assert sorted(case.number for case in page.cases) == numbers


# -- a locked SQLite file ------------------------------------------------------------------------


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.cases.database, "SQLITE_BUSY_TIMEOUT_MS", 50)


async def test_a_write_with_nothing_queued_is_committed_at_once(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with await CaseStore.open(sqlite_url(tmp_path), clock=clock) as store:
        sizes = batch_sizes(store)
        case = await store.record(kick(0))
        with sqlite3.connect(tmp_path / "cases.db") as other:
            rows = other.execute("SELECT number, outcome FROM cases").fetchall()
    assert rows == [(case.number, "maybe_applied")]
    assert sizes == []  # not handed to the writer task


@pytest.mark.usefixtures("short_busy_timeout")
async def test_a_locked_database_fails_every_write_of_the_batch_and_then_takes_them(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with await CaseStore.open(sqlite_url(tmp_path), clock=clock) as store:
        holder = sqlite3.connect(tmp_path / "cases.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            failed = await asyncio.gather(
                *(store.record(kick(i)) for i in range(5)), return_exceptions=True
            )
            # Reading still works: WAL readers do not wait for the writer.
            assert (await store.history_for_user("sara")).cases == ()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        cases = await asyncio.gather(*(store.record(kick(i)) for i in range(5)))

    assert all(isinstance(error, CaseStoreUnavailable) for error in failed)
    assert all("database is locked" in str(error) for error in failed)
    assert [case.number for case in cases] == [1, 2, 3, 4, 5]


@pytest.mark.usefixtures("short_busy_timeout")
async def test_the_case_book_queues_a_locked_batch_and_records_it_later(tmp_path: Path) -> None:
    clock = ManualClock(autoadvance=True)
    store = await CaseStore.open(sqlite_url(tmp_path), clock=clock)
    book = CaseBook(store, clock)
    actor = SlackActor("U0MARIA01", "maria", Role.ADMIN)
    holder = sqlite3.connect(tmp_path / "cases.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        plans = [Plan(f"kick `user{i}`", f"user{i}", "default:c", kind=Kind.KICK) for i in range(4)]
        opening = (book.open(actor, plan, f"r{i}") for i, plan in enumerate(plans))
        tickets = await asyncio.gather(*opening)
        await asyncio.gather(*(book.finish(ticket, Outcome.DONE) for ticket in tickets))
        assert not any(ticket.recorded for ticket in tickets)
        assert book.pending == 4
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    await asyncio.wait_for(book.idle(), 10)  # retried (the clock moves itself) until they land
    try:
        assert book.pending == 0 and all(ticket.recorded for ticket in tickets)
        numbers = [ticket.numbers[0] for ticket in tickets]
        assert sorted(numbers) == [1, 2, 3, 4]
        for number in numbers:
            case = await store.get(number)
            assert case is not None and case.outcome is Outcome.DONE
    finally:
        await book.stop()
        await store.close()


async def test_a_click_is_recorded_done_in_one_write(store: CaseStore, clock: ManualClock) -> None:
    book = CaseBook(store, clock)
    actor = SlackActor("U0MARIA01", "maria", Role.ADMIN)
    plan = Plan("unban `sara`", "sara", None, kind=Kind.UNBAN)
    settles: list[int] = []
    settle = store.settle

    async def counted(number: int, outcome: Outcome) -> None:
        settles.append(number)
        await settle(number, outcome)

    store.settle = counted  # type: ignore[method-assign]
    ticket = await book.record_done(actor, plan, "req-1")

    [number] = ticket.numbers
    case = await store.get(number)
    assert case is not None and (case.kind, case.outcome) == (Kind.UNBAN, Outcome.DONE)
    assert settles == [] and book.pending == 0


# -- writes that wait for company (settle_later, link_later) -------------------------------------


async def test_later_writes_ride_in_the_next_writes_transaction(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with await CaseStore.open(sqlite_url(tmp_path), clock=clock) as store:
        assert store._sqlite is not None
        batches: list[int] = []
        write_now = store._sqlite.write_now

        def counted(writes: Sequence[Write]) -> list[Result] | None:
            batches.append(len(writes))
            return write_now(writes)

        store._writer._now = counted  # the group writer holds the backend's bound method
        first = await store.record(kick(0))
        settled = store.settle_later(first.number, Outcome.DONE)
        linked = store.link_later(first.number, "C0LOG", "1.1", MessagePurpose.AUDIT)
        second = await store.record(kick(1))

        assert batches == [1, 3]  # the settle and the link went with the second case
        assert await settled is None and await linked is None
        with sqlite3.connect(tmp_path / "cases.db") as other:
            rows = other.execute("SELECT number, outcome FROM cases ORDER BY number").fetchall()
            links = other.execute("SELECT case_number, ts FROM case_messages").fetchall()
        assert rows == [(first.number, "done"), (second.number, "maybe_applied")]
        assert links == [(first.number, "1.1")]


async def test_a_reader_sees_a_later_write_at_once(store: CaseStore) -> None:
    case = await store.record(kick(0))
    store.settle_later(case.number, Outcome.FAILED)
    store.link_later(case.number, "C0LOG", "1.1", MessagePurpose.AUDIT)

    stored = await store.get(case.number)  # no waiting: reads commit what waits first
    assert stored is not None and stored.outcome is Outcome.FAILED
    assert [m.ts for m in stored.messages] == ["1.1"]
    assert await store.counts_for_user("sara") == {}  # a failed kick does not count


async def test_a_later_write_lands_on_its_own_when_nothing_follows(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with await CaseStore.open(sqlite_url(tmp_path), clock=clock) as store:
        case = await store.record(kick(0))
        settled = store.settle_later(case.number, Outcome.DONE)
        await asyncio.wait_for(settled, WRITE_BEHIND * 20)
        with sqlite3.connect(tmp_path / "cases.db") as other:
            assert other.execute("SELECT outcome FROM cases").fetchall() == [("done",)]


async def test_a_bad_later_write_fails_alone(store: CaseStore) -> None:
    sara = await store.record(kick(0))
    missing = store.settle_later(9999, Outcome.DONE)
    unlinked = store.link_later(9999, "C0LOG", "1.1", MessagePurpose.AUDIT)
    settled = store.settle_later(sara.number, Outcome.DONE)
    john = await store.record(kick(1, "john"))

    with pytest.raises(CaseNotFound):
        await missing
    with pytest.raises(CaseNotFound):
        await unlinked
    await settled
    stored = await store.get(sara.number)
    assert stored is not None and stored.outcome is Outcome.DONE and john.number > sara.number


@pytest.mark.usefixtures("short_busy_timeout")
async def test_the_case_book_retries_a_settle_that_found_the_database_locked(
    tmp_path: Path,
) -> None:
    clock = ManualClock(autoadvance=True)
    store = await CaseStore.open(sqlite_url(tmp_path), clock=clock)
    book = CaseBook(store, clock)
    actor = SlackActor("U0MARIA01", "maria", Role.ADMIN)
    ticket = await book.open(actor, Plan("kick `sara`", "sara", "default:c", kind=Kind.KICK), "r")
    holder = sqlite3.connect(tmp_path / "cases.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        await book.finish(ticket, Outcome.DONE)  # returns at once: the settle waits for company
        assert book.pending == 0
        # The write-behind timer fires, finds the database locked: the settle joins the queue.
        await asyncio.wait_for(asyncio.gather(*book._soon, return_exceptions=True), 10)
        assert book.pending == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await asyncio.wait_for(book.idle(), 10)
    try:
        [number] = ticket.numbers
        case = await store.get(number)
        assert case is not None and case.outcome is Outcome.DONE and book.pending == 0
    finally:
        await book.stop()
        await store.close()
