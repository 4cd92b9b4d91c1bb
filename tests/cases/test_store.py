"""The case store's behaviour, on SQLite and on PostgreSQL (see conftest.py)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.cases import (
    CSV_COLUMNS,
    Actor,
    Case,
    CaseAlreadyVoided,
    CaseNotFound,
    CaseStore,
    Kind,
    MessagePurpose,
    NewCase,
    NoteKind,
    Outcome,
    Source,
)
from bot.util.clock import ManualClock

MARIA = Actor("U0MARIA01", "maria")
TOM = Actor("U0TOM0001", "tom")


def slack_case(
    kind: Kind = Kind.KICK,
    target: str | None = "sara",
    *,
    moderator: Actor = MARIA,
    outcome: Outcome = Outcome.DONE,
    reason: str | None = None,
) -> NewCase:
    return NewCase(
        kind=kind,
        source=Source.SLACK,
        outcome=outcome,
        request_id="req-1",
        moderator=moderator,
        target_user_id=target,
        call_cid="default:call-123",
        reason=reason,
    )


def stream_case(kind: Kind, target: str, *, outcome: Outcome = Outcome.DONE) -> NewCase:
    return NewCase(
        kind=kind, source=Source.STREAM, outcome=outcome, request_id="wh-1", target_user_id=target
    )


def expiry_case(target: str) -> NewCase:
    return NewCase(
        kind=Kind.BAN_EXPIRED,
        source=Source.CALLMOD,
        outcome=Outcome.DONE,
        request_id="timer",
        target_user_id=target,
    )


async def test_record_returns_the_case_and_get_reads_it_back(
    store: CaseStore, clock: ManualClock
) -> None:
    expires = datetime(2027, 1, 15, 10, 30, tzinfo=timezone(timedelta(hours=2)))
    case = await store.record(
        NewCase(
            kind=Kind.BAN,
            source=Source.SLACK,
            outcome=Outcome.MAYBE_APPLIED,
            request_id="a1b2c3",
            moderator=Actor("U0MARIA01", "María 🛡️"),
            target_user_id="bob",
            reason="spamming, again — «links»",
            detail="ip",
            duration_seconds=1800,
            expires_at=expires,
        )
    )

    assert case.number >= 1
    assert case.created_at == datetime.fromtimestamp(clock.time(), tz=UTC)
    assert case.expires_at == expires and case.expires_at.tzinfo is UTC
    assert case.voided is None and case.notes == () and case.messages == ()
    assert await store.get(case.number) == case


async def test_get_of_an_unknown_number_is_none(store: CaseStore) -> None:
    assert await store.get(424242) is None


async def test_cases_without_target_or_moderator(store: CaseStore) -> None:
    mute_all = await store.record(slack_case(Kind.MUTE_ALL, target=None))
    expired = await store.record(expiry_case("bob"))
    assert (await store.get(mute_all.number)) == mute_all
    got = await store.get(expired.number)
    assert got is not None and got.moderator is None and got.source is Source.CALLMOD


async def test_numbers_only_grow_even_after_the_newest_cases_are_pruned(
    store: CaseStore, clock: ManualClock
) -> None:
    first = [(await store.record(slack_case())).number for _ in range(5)]
    assert first == sorted(first) and len(set(first)) == 5

    await clock.advance(60)
    assert await store.prune(datetime.fromtimestamp(clock.time(), tz=UTC)) == 5
    assert [await store.get(number) for number in first] == [None] * 5

    after = await store.record(slack_case())
    assert after.number > max(first)


async def test_numbers_keep_growing_across_reopen(database_url: str, clock: ManualClock) -> None:
    async with await CaseStore.open(database_url, clock=clock) as store:
        before = (await store.record(slack_case())).number
    async with await CaseStore.open(database_url, clock=clock) as store:
        assert (await store.record(slack_case())).number > before


async def test_notes_are_kept_in_order_even_when_concurrent(
    store: CaseStore, clock: ManualClock
) -> None:
    case = await store.record(slack_case())
    first = await store.add_note(case.number, TOM, "she came back as sara2")
    await clock.advance(5)
    concurrent = await asyncio.gather(
        *(store.add_note(case.number, MARIA, f"note {i}") for i in range(10))
    )

    got = await store.get(case.number)
    assert got is not None
    assert got.notes[0] == first and first.kind is NoteKind.NOTE and first.author == TOM
    ids = [note.id for note in got.notes]
    assert ids == sorted(ids) and len(set(ids)) == 11
    assert sorted(note.text for note in got.notes[1:]) == sorted(n.text for n in concurrent)
    assert {note.created_at for note in got.notes[1:]} == {
        datetime.fromtimestamp(clock.time(), tz=UTC)
    }


async def test_amending_a_reason_keeps_the_old_one_as_a_note(store: CaseStore) -> None:
    case = await store.record(slack_case(reason="spam"))

    amended = await store.amend_reason(case.number, TOM, "spamming links")
    again = await store.amend_reason(case.number, MARIA, "phishing links")
    unchanged = await store.amend_reason(case.number, MARIA, "phishing links")

    assert amended.reason == "spamming links"
    assert again.reason == "phishing links" and unchanged == again
    assert [(n.kind, n.author, n.old_value, n.text) for n in again.notes] == [
        (NoteKind.REASON_CHANGED, TOM, "spam", "spamming links"),
        (NoteKind.REASON_CHANGED, MARIA, "spamming links", "phishing links"),
    ]
    assert await store.get(case.number) == again


async def test_adding_a_first_reason_records_that_there_was_none(store: CaseStore) -> None:
    case = await store.record(slack_case(reason=None))
    amended = await store.amend_reason(case.number, TOM, "spam")
    assert amended.notes[0].old_value is None and amended.notes[0].text == "spam"


async def test_concurrent_amendments_form_one_unbroken_chain(store: CaseStore) -> None:
    case = await store.record(slack_case(reason="r0"))
    await asyncio.gather(*(store.amend_reason(case.number, TOM, f"r{i}") for i in range(1, 9)))

    got = await store.get(case.number)
    assert got is not None and len(got.notes) == 8
    previous = "r0"
    for note in got.notes:  # each amendment saw the reason the one before it wrote
        assert note.old_value == previous
        previous = note.text
    assert got.reason == previous


async def test_voiding_flags_the_case_and_notes_why(store: CaseStore, clock: ManualClock) -> None:
    case = await store.record(slack_case(Kind.BAN, "bob"))
    await clock.advance(90)

    voided = await store.void(case.number, TOM, "wrong bob")

    assert voided.voided is not None
    assert voided.voided.by == TOM and voided.voided.why == "wrong bob"
    assert voided.voided.at == datetime.fromtimestamp(clock.time(), tz=UTC)
    assert [(n.kind, n.text) for n in voided.notes] == [(NoteKind.VOIDED, "wrong bob")]
    assert await store.get(case.number) == voided
    with pytest.raises(CaseAlreadyVoided):
        await store.void(case.number, MARIA, "again")


async def test_only_one_of_two_concurrent_voids_wins(store: CaseStore) -> None:
    case = await store.record(slack_case())
    results = await asyncio.gather(
        store.void(case.number, TOM, "a"),
        store.void(case.number, MARIA, "b"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Case) for r in results) == 1
    assert sum(isinstance(r, CaseAlreadyVoided) for r in results) == 1
    got = await store.get(case.number)
    assert got is not None and len(got.notes) == 1


async def test_changes_to_an_unknown_case_raise_case_not_found(store: CaseStore) -> None:
    with pytest.raises(CaseNotFound):
        await store.add_note(999, TOM, "x")
    with pytest.raises(CaseNotFound):
        await store.amend_reason(999, TOM, "x")
    with pytest.raises(CaseNotFound):
        await store.void(999, TOM, "x")
    with pytest.raises(CaseNotFound):
        await store.link_message(999, "C1", "1.1", MessagePurpose.AUDIT)


async def test_messages_link_cases_both_ways(store: CaseStore, clock: ManualClock) -> None:
    sara = await store.record(slack_case(Kind.MUTE, "sara"))
    john = await store.record(slack_case(Kind.MUTE, "john"))

    log_ts = "1700000000.000100"
    audit = await store.link_message(sara.number, "C0LOG", log_ts, MessagePurpose.AUDIT)
    await store.link_message(john.number, "C0LOG", log_ts, MessagePurpose.AUDIT)
    await clock.advance(1)
    note = await store.link_message(
        sara.number, "C0BANS", "1700000001.0002", MessagePurpose.NOTIFICATION
    )
    again = await store.link_message(sara.number, "C0LOG", log_ts, MessagePurpose.AUDIT)

    assert again == audit
    assert await store.messages_for(sara.number) == (audit, note)
    assert [c.number for c in await store.find_by_message("C0LOG", log_ts)] == [
        sara.number,
        john.number,
    ]
    found = await store.find_by_message("C0BANS", "1700000001.0002")
    assert [c.number for c in found] == [sara.number] and found[0].messages == (audit, note)
    assert await store.find_by_message("C0LOG", "1.0") == ()
    assert await store.messages_for(12345) == ()


async def test_history_pages_newest_first_by_number(store: CaseStore) -> None:
    bob = []
    for i in range(25):
        bob.append((await store.record(slack_case(Kind.KICK, "bob"))).number)
        if i % 4 == 0:
            await store.record(slack_case(Kind.KICK, "sara"))
    await store.void(bob[3], TOM, "mistake")

    pages = []
    before: int | None = None
    while True:
        page = await store.history_for_user("bob", limit=10, before_number=before)
        pages.append([case.number for case in page.cases])
        if page.next_before is None:
            break
        before = page.next_before

    assert [len(p) for p in pages] == [10, 10, 5]
    assert [n for p in pages for n in p] == sorted(bob, reverse=True)
    voided = await store.history_for_user("bob", limit=1, before_number=bob[4])
    assert voided.cases[0].voided is not None  # voided cases stay in the history, flagged
    assert (await store.history_for_user("nobody")).cases == ()


async def test_history_page_of_exactly_limit_has_no_next(store: CaseStore) -> None:
    for _ in range(3):
        await store.record(slack_case(Kind.KICK, "bob"))
    page = await store.history_for_user("bob", limit=3)
    assert len(page.cases) == 3 and page.next_before is None


@pytest.mark.parametrize("limit", [0, -1, 201])
async def test_history_refuses_silly_limits(store: CaseStore, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await store.history_for_user("bob", limit=limit)


async def test_by_moderator_pages_the_same_way(store: CaseStore) -> None:
    mine = [(await store.record(slack_case(moderator=TOM))).number for _ in range(5)]
    await store.record(slack_case(moderator=MARIA))
    await store.record(stream_case(Kind.BAN, "bob"))

    first = await store.by_moderator(TOM.id, limit=3)
    rest = await store.by_moderator(TOM.id, limit=3, before_number=first.next_before)
    assert [c.number for c in first.cases + rest.cases] == mine[::-1]
    assert rest.next_before is None
    assert all(c.moderator == TOM for c in first.cases + rest.cases)


async def test_counts_leave_out_voided_and_failed_cases(store: CaseStore) -> None:
    await store.record(slack_case(Kind.KICK, "bob"))
    await store.record(slack_case(Kind.KICK, "bob", outcome=Outcome.MAYBE_APPLIED))
    await store.record(slack_case(Kind.KICK, "bob", outcome=Outcome.FAILED))
    voided = await store.record(slack_case(Kind.BAN, "bob"))
    await store.void(voided.number, TOM, "wrong user")
    await store.record(stream_case(Kind.BAN, "bob"))
    await store.record(slack_case(Kind.MUTE, "sara"))

    assert await store.counts_for_user("bob") == {Kind.KICK: 2, Kind.BAN: 1}
    assert await store.counts_for_user("nobody") == {}


async def test_latest_open_ban_follows_bans_unbans_and_expiry(store: CaseStore) -> None:
    assert await store.latest_open_ban("bob") is None

    first = await store.record(slack_case(Kind.BAN, "bob"))
    await store.record(slack_case(Kind.KICK, "bob"))
    await store.record(slack_case(Kind.BAN, "sara"))
    assert (await store.latest_open_ban("bob")) == await store.get(first.number)

    await store.record(stream_case(Kind.UNBAN, "bob"))
    assert await store.latest_open_ban("bob") is None

    second = await store.record(slack_case(Kind.BAN, "bob"))
    await store.link_message(second.number, "C0LOG", "1.2", MessagePurpose.NOTIFICATION)
    open_ban = await store.latest_open_ban("bob")
    assert open_ban is not None and open_ban.number == second.number
    assert [m.ts for m in open_ban.messages] == ["1.2"]

    await store.record(slack_case(Kind.UNBAN, "bob", outcome=Outcome.FAILED))  # changed nothing
    assert (await store.latest_open_ban("bob")) == open_ban

    await store.record(expiry_case("bob"))
    assert await store.latest_open_ban("bob") is None

    from_stream = await store.record(stream_case(Kind.BAN, "bob"))
    assert (await store.latest_open_ban("bob")) == await store.get(from_stream.number)
    await store.void(from_stream.number, TOM, "test ban")
    assert await store.latest_open_ban("bob") is None  # falls back to the ban_expired


async def test_prune_removes_old_cases_with_their_notes_and_messages(
    store: CaseStore, clock: ManualClock
) -> None:
    old = await store.record(slack_case())
    await store.add_note(old.number, TOM, "old note")
    await store.link_message(old.number, "C0LOG", "1.1", MessagePurpose.AUDIT)
    await clock.advance(3600)
    cutoff = datetime.fromtimestamp(clock.time(), tz=UTC)
    new = await store.record(slack_case())
    await store.link_message(new.number, "C0LOG", "2.2", MessagePurpose.AUDIT)

    assert await store.prune(cutoff) == 1
    assert await store.prune(cutoff) == 0
    assert await store.get(old.number) is None
    assert await store.find_by_message("C0LOG", "1.1") == ()
    assert await store.messages_for(old.number) == ()
    assert (await store.get(new.number)) is not None


async def test_export_csv_writes_cases_since_a_time(store: CaseStore, clock: ManualClock) -> None:
    await store.record(slack_case(reason="before"))
    await clock.advance(60)
    since = datetime.fromtimestamp(clock.time(), tz=UTC)
    tricky = 'spam, "links"\nand =cmd|x'
    first = await store.record(slack_case(Kind.BAN, "bob", reason=tricky))
    second = await store.record(stream_case(Kind.UNBAN, "bob"))
    await store.void(second.number, TOM, "dup")

    out = io.StringIO()
    assert await store.export_csv(since, out) == 2

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [int(r["number"]) for r in rows] == [first.number, second.number]
    assert rows[0]["reason"] == tricky and rows[0]["moderator_id"] == MARIA.id
    assert datetime.fromisoformat(rows[0]["created_at"]) == since
    assert rows[1]["moderator_id"] == "" and rows[1]["source"] == "stream"
    assert rows[1]["void_reason"] == "dup" and rows[1]["voided_by_id"] == TOM.id


async def test_naive_times_are_refused(store: CaseStore) -> None:
    with pytest.raises(ValueError, match="timezone"):
        await store.prune(datetime(2027, 1, 1))
    with pytest.raises(ValueError, match="timezone"):
        await store.export_csv(datetime(2027, 1, 1), io.StringIO())


async def test_settle_records_how_an_opened_action_ended(store: CaseStore) -> None:
    opened = await store.record(slack_case(outcome=Outcome.MAYBE_APPLIED))
    await store.settle(opened.number, Outcome.DONE)
    settled = await store.get(opened.number)
    assert settled is not None and settled.outcome is Outcome.DONE
    with pytest.raises(CaseNotFound):
        await store.settle(opened.number + 100, Outcome.DONE)


async def test_open_bans_names_each_users_ban_in_force_with_its_messages(
    store: CaseStore,
) -> None:
    sara = await store.record(slack_case(Kind.BAN, "sara"))
    await store.link_message(sara.number, "C0MODLOG", "1.1", MessagePurpose.NOTIFICATION)
    await store.record(slack_case(Kind.BAN, "bob"))
    await store.record(slack_case(Kind.UNBAN, "bob"))
    await store.record(slack_case(Kind.BAN, "alice", outcome=Outcome.FAILED))
    john_old = await store.record(slack_case(Kind.BAN, "john"))
    john = await store.record(slack_case(Kind.BAN, "john"))
    assert john.number > john_old.number
    found = await store.open_bans()
    assert sorted(found) == ["john", "sara"]
    assert found["john"].number == john.number
    assert [(m.channel_id, m.ts) for m in found["sara"].messages] == [("C0MODLOG", "1.1")]
