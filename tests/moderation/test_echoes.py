"""EchoBook: callmod's own actions told from the same actions elsewhere, by content."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.moderation.echoes import KEEP_SECONDS, EchoBook
from bot.stream import CallRef
from bot.stream.errors import RequestContext
from bot.stream.events import CallEnded, CallUserEvent, CallUserMuted, EventUser
from bot.util.clock import ManualClock

CALL = CallRef("default", "c1")
BOT = "callmod-bot"
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def blocked(user: str, by: str | None = None, cid: str = CALL.cid) -> CallUserEvent:
    return CallUserEvent(
        type="call.blocked_user",
        call_cid=cid,
        user=EventUser(id=user),
        by=EventUser(id=by) if by else None,
        created_at=NOW,
    )


def write(operation: str, *users: str) -> RequestContext:
    return RequestContext(operation, writes=True, call=CALL, user_ids=users)


def test_a_noted_write_is_its_echo_once() -> None:
    book = EchoBook(ManualClock(), BOT)
    book.finished(book.started(write("block", "sara")), "done")

    assert book.is_own(blocked("sara"))
    assert not book.is_own(blocked("sara"))  # used up: a second one is someone else's


def test_other_users_and_calls_are_not_echoes() -> None:
    book = EchoBook(ManualClock(), BOT)
    book.finished(book.started(write("block", "sara")), "done")

    assert not book.is_own(blocked("john"))
    assert not book.is_own(blocked("sara", cid="default:other"))
    assert book.is_own(blocked("sara"))


def test_the_maker_decides_when_stream_names_one() -> None:
    book = EchoBook(ManualClock(), BOT)
    book.finished(book.started(write("kick", "sara", BOT)), "done")

    assert not book.is_own(blocked("sara", by="dashboard-admin"))
    assert book.is_own(blocked("sara", by=BOT))
    assert book.waiting == 0
    assert book.is_own(blocked("sara", by=BOT))  # callmod's by name, even with nothing noted


async def test_a_refused_write_is_forgotten_and_a_maybe_is_kept_a_while() -> None:
    clock = ManualClock()
    book = EchoBook(clock, BOT)
    book.finished(book.started(write("block", "sara")), "failed")
    assert not book.is_own(blocked("sara"))

    book.finished(book.started(write("block", "sara")), "maybe_applied")
    await clock.advance(KEEP_SECONDS + 1)
    assert not book.is_own(blocked("sara"))
    assert book.waiting == 0


def test_an_echo_before_the_answer_is_recognised() -> None:
    book = EchoBook(ManualClock(), BOT)
    token = book.started(write("block", "sara"))

    assert book.is_own(blocked("sara"))
    book.finished(token, "done")
    assert book.waiting == 0


def test_mutes_match_any_muted_user_and_ending_a_call_matches_the_call() -> None:
    book = EchoBook(ManualClock(), BOT)
    book.finished(book.started(write("mute", "sara", "john")), "done")
    book.finished(book.started(RequestContext("end_call", writes=True, call=CALL)), "done")

    muted = CallUserMuted(call_cid=CALL.cid, muted_user_ids=("john",), created_at=NOW)
    assert book.is_own(muted)
    assert book.is_own(CallEnded(call_cid=CALL.cid, created_at=NOW))
    assert not book.is_own(CallEnded(call_cid=CALL.cid, created_at=NOW))


def test_reads_are_not_noted() -> None:
    book = EchoBook(ManualClock(), BOT)
    assert book.started(RequestContext("get_call", writes=False, call=CALL)) is None
    assert book.waiting == 0
