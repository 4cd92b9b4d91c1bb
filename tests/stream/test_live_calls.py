"""Seeing calls against the emulator: live calls, rosters with tracks, a user's profile, ending a
call, custom events, partial user updates, and the write observer behind echo recognition."""

from __future__ import annotations

import pytest

from bot.local.emulator import StreamEmulator
from bot.stream import CallRef, StreamAPIError, StreamClient
from bot.stream.errors import RequestContext

CALL = CallRef("default", "live-1")


def live_call(emulator: StreamEmulator, cid: str = CALL.cid, people: int = 3) -> None:
    users = [f"u{i:03}" for i in range(people)]
    emulator.state.add_call(cid, members=users, participants=[])
    for user in users:
        emulator.state.join(cid, user)


async def test_query_calls_lists_only_live_ones_and_pages_with_the_filter(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    for n in range(5):
        live_call(emulator, f"default:live-{n}", people=2)
    emulator.state.add_call("default:quiet", members=["sara"], participants=[])

    first = await client.query_calls(limit=3)  # the demo call is live too: six in all
    second = await client.query_calls(limit=3, next_page=first.next)

    cids = [c.cid for c in (*first.calls, *second.calls)]
    assert sorted(cids) == ["default:call-123", *(f"default:live-{n}" for n in range(5))]
    assert first.next is not None and second.next is None
    assert {c.participant_count for c in (*first.calls, *second.calls) if "live" in c.cid} == {2}
    bodies = [r.body for r in emulator.requests]
    assert all(b["filter_conditions"] == {"ongoing": True} for b in bodies)
    assert bodies[1]["next"] == first.next


async def test_get_call_reads_the_session(client: StreamClient, emulator: StreamEmulator) -> None:
    live_call(emulator, people=4)

    call = await client.get_call(CALL)

    assert call.ref == CALL
    assert call.participant_count == 4
    assert call.session_id is not None and call.started_at is not None
    assert call.ended_at is None


async def test_unknown_call_is_named(client: StreamClient) -> None:
    with pytest.raises(StreamAPIError) as caught:
        await client.get_call(CallRef("default", "call-999"))
    assert str(caught.value) == "call default:call-999 does not exist"


async def test_roster_shows_people_and_their_published_tracks(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    emulator.state.add_call(CALL.cid, members=["sara", "john", "bob"], participants=[])
    emulator.state.join(CALL.cid, "sara", ("audio", "video"))
    emulator.state.join(CALL.cid, "john", ("screenshare",))
    emulator.state.join(CALL.cid, "bob")

    roster = await client.roster(CALL)

    assert sorted(p.user_id for p in roster.participants) == ["bob", "john", "sara"]
    assert roster.total == 3 and not roster.partial
    assert roster.tracks == {
        "sara": frozenset({"audio", "video"}),
        "john": frozenset({"screenshare"}),
    }
    limits = {r.query.get("limit") for r in emulator.requests}
    assert limits == {"100"}  # Stream takes the limit in the query string


async def test_a_big_call_is_partial_at_100(client: StreamClient, emulator: StreamEmulator) -> None:
    live_call(emulator, people=130)

    roster = await client.roster(CALL)

    assert len(roster.participants) == 100
    assert roster.total == 130 and roster.partial


async def test_end_call_sends_no_body_and_ends_it(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    live_call(emulator)

    await client.end_call(CALL)

    assert emulator.state.calls[CALL.cid].ended_at is not None
    [request] = emulator.requests
    assert request.path.endswith("/mark_ended") and request.body is None
    with pytest.raises(StreamAPIError, match="call default:nope does not exist"):
        await client.end_call(CallRef("default", "nope"))


async def test_send_call_event_records_it(client: StreamClient, emulator: StreamEmulator) -> None:
    live_call(emulator)
    emulator.state.add_user("callmod-bot")

    await client.send_call_event(CALL, {"type": "callmod.notice"}, user_id="callmod-bot")

    [event] = emulator.state.calls[CALL.cid].events
    assert (event.user_id, event.custom) == ("callmod-bot", {"type": "callmod.notice"})


async def test_get_user_and_update_user(client: StreamClient, emulator: StreamEmulator) -> None:
    await client.update_user("sara", set_fields={"name": "user-1"}, unset=["image"])

    user = await client.get_user("sara")
    assert user is not None and user.name == "user-1" and user.image is None
    assert await client.get_user("nobody") is None
    patch = next(r for r in emulator.requests if r.method == "PATCH")
    assert patch.body == {"users": [{"id": "sara", "set": {"name": "user-1"}, "unset": ["image"]}]}


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def started(self, ctx: RequestContext) -> object:
        return ctx.operation

    def finished(self, token: object, outcome: str) -> None:
        self.seen.append((str(token), outcome))


async def test_the_write_observer_hears_every_write_and_its_outcome(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    live_call(emulator)
    recorder = Recorder()
    client.write_observer = recorder  # type: ignore[assignment]

    await client.block_user(CALL, "u000")
    await client.get_call(CALL)  # reads are not writes
    with pytest.raises(StreamAPIError):
        await client.block_user(CallRef("default", "nope"), "u000")

    assert recorder.seen == [("block", "done"), ("block", "failed")]
