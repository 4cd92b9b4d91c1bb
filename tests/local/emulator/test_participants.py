"""People in calls: joining and leaving (one user on several devices), published tracks, call
sessions, ending a call, and the session webhooks `StreamEmulator.join` / `leave` send."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.local.emulator import EmulatorState, Invalid, NotFound, StreamEmulator
from bot.util.clock import ManualClock

from .helpers import DEMO_CID, event_types


@pytest.fixture
def state(clock: ManualClock) -> EmulatorState:
    world = EmulatorState(clock=clock)
    world.load_demo_data()
    return world


def tracks_of(state: EmulatorState, user_id: str, cid: str = DEMO_CID) -> set[str]:
    return {t for p in state.calls[cid].connected(user_id) for t in p.tracks}


def test_the_demo_call_is_live_with_people_publishing(state: EmulatorState) -> None:
    call = state.calls[DEMO_CID]

    assert sorted(call.participants) == ["alice", "bob", "john", "sara"]
    assert call.live_session is not None and call.ongoing
    assert call.current_session_id == call.live_session.id
    assert (tracks_of(state, "sara"), tracks_of(state, "john")) == ({"audio", "video"}, {"audio"})
    assert tracks_of(state, "alice") == set()
    assert call.created_by == "sara"


async def test_join_records_a_participant(state: EmulatorState, clock: ManualClock) -> None:
    state.add_user("carol", "Carol")
    await clock.advance(30)

    joined = state.join(DEMO_CID, "carol", ["video"], role="host")

    assert (joined.user_id, joined.role, joined.tracks) == ("carol", "host", {"video"})
    assert joined.joined_at == clock.time() and joined.live
    call = state.calls[DEMO_CID]
    assert "carol" in call.participants
    assert call.connected()[-1] is joined
    assert call.permissions["carol"] == {"send-audio", "send-video", "screenshare"}


def test_one_user_on_two_devices(state: EmulatorState) -> None:
    phone = state.join(DEMO_CID, "alice", ["audio"])
    call = state.calls[DEMO_CID]

    assert len(call.connected("alice")) == 2
    assert phone.user_session_id != call.connected("alice")[0].user_session_id
    assert len(call.participants) == 4  # user ids, not connections

    state.leave(DEMO_CID, "alice", phone.user_session_id)
    assert [p.user_session_id for p in call.connected("alice")] != [phone.user_session_id]
    assert "alice" in call.participants
    state.leave(DEMO_CID, "alice")
    assert "alice" not in call.participants


@pytest.mark.parametrize(
    ("prepare", "words"),
    [
        (lambda s: s.calls[DEMO_CID].blocked.add("dave"), "is blocked from call"),
        (
            lambda s: s.ban("dave", banned_by="sara", reason=None, timeout_minutes=None,
                            ip_ban=False),
            "is banned",
        ),
        (lambda s: s.deactivate("dave", created_by=None), "is deactivated"),
        (lambda s: s.end_call(DEMO_CID), "has ended"),
    ],
)
def test_join_refusals(
    state: EmulatorState, prepare: Callable[[EmulatorState], object], words: str
) -> None:
    state.add_user("dave")
    prepare(state)

    with pytest.raises(Invalid, match=words):
        state.join(DEMO_CID, "dave")
    assert "dave" not in state.calls[DEMO_CID].participants


def test_join_unknown_user_or_call_or_track(state: EmulatorState) -> None:
    with pytest.raises(NotFound, match='user "ghost" does not exist'):
        state.join(DEMO_CID, "ghost")
    with pytest.raises(NotFound, match="call default:nope does not exist"):
        state.join("default:nope", "sara")
    with pytest.raises(Invalid, match="'smell' is not a track"):
        state.join(DEMO_CID, "alice", ["smell"])


def test_publishing_needs_the_permission(state: EmulatorState) -> None:
    state.update_permissions(DEMO_CID, "alice", grant=[], revoke=["send-video"])

    with pytest.raises(Invalid, match="no send-video permission"):
        state.publish(DEMO_CID, "alice", ["video"])
    state.publish(DEMO_CID, "alice", ["audio"])
    assert tracks_of(state, "alice") == {"audio"}
    with pytest.raises(Invalid, match="not connected"):
        state.publish(DEMO_CID, "nobody-here", ["audio"])


def test_mute_unpublishes_and_unmuting_is_publishing_again(state: EmulatorState) -> None:
    state.mute(DEMO_CID, user_ids=["sara"], mute_all=False, tracks=["audio"], muted_by="john")

    call = state.calls[DEMO_CID]
    assert tracks_of(state, "sara") == {"video"}
    assert call.muted["sara"] == {"audio"}
    state.publish(DEMO_CID, "sara", ["audio"])
    assert tracks_of(state, "sara") == {"audio", "video"}
    assert call.muted["sara"] == set()


def test_revoking_a_permission_stops_the_track(state: EmulatorState) -> None:
    state.update_permissions(DEMO_CID, "sara", grant=[], revoke=["send-video"])

    assert tracks_of(state, "sara") == {"audio"}


def test_kick_and_block_remove_every_device(state: EmulatorState) -> None:
    state.join(DEMO_CID, "john", ["audio"])

    state.kick(DEMO_CID, "john", kicked_by=None, block=False)
    state.block_on_call(DEMO_CID, "bob")

    call = state.calls[DEMO_CID]
    assert call.connected("john") == [] and call.connected("bob") == []
    with pytest.raises(Invalid, match="is blocked"):
        state.join(DEMO_CID, "bob")


async def test_session_ends_with_the_last_and_the_next_join_starts_another(
    state: EmulatorState, clock: ManualClock
) -> None:
    call = state.calls[DEMO_CID]
    first = call.live_session
    assert first is not None
    for user_id in ("sara", "john", "alice"):
        state.leave(DEMO_CID, user_id)
    assert call.live_session is first
    await clock.advance(60)

    state.leave(DEMO_CID, "bob")

    assert (first.ended_at, call.live_session, call.ongoing) == (clock.time(), None, False)
    assert call.current_session_id == first.id  # the latest session, ended
    again = state.join(DEMO_CID, "bob")
    assert call.live_session is not None and call.live_session is not first
    assert call.live_session.connected() == [again]
    assert [s.id for s in call.sessions] == [first.id, call.live_session.id]


def test_leaving_a_call_you_are_not_in(state: EmulatorState) -> None:
    state.add_user("dave")

    with pytest.raises(Invalid, match='"dave" is not connected'):
        state.leave(DEMO_CID, "dave")


async def test_end_call(state: EmulatorState, clock: ManualClock) -> None:
    await clock.advance(90)

    call = state.end_call(DEMO_CID)

    assert call.ended_at == clock.time() and not call.ongoing
    assert list(call.participants) == []
    session = call.session
    assert session is not None and session.ended_at == clock.time()
    assert all(p.left_at == clock.time() for p in session.participants)
    assert state.end_call(DEMO_CID).ended_at == call.ended_at  # again: unchanged


def test_send_event_is_recorded_and_limited_to_5kb(state: EmulatorState) -> None:
    event = state.send_event(DEMO_CID, "john", {"type": "callmod.notice", "text": "hi"})

    assert state.calls[DEMO_CID].events == [event]
    assert event.user_id == "john"
    state.send_event(DEMO_CID, "john", {"text": "x" * (5 * 1024 - 11)})  # exactly 5 KB
    with pytest.raises(Invalid, match="the limit is 5KB"):
        state.send_event(DEMO_CID, "john", {"text": "x" * (5 * 1024 - 10)})
    with pytest.raises(NotFound):
        state.send_event(DEMO_CID, "ghost", {})
    assert len(state.calls[DEMO_CID].events) == 2


def test_update_user_partial(state: EmulatorState, clock: ManualClock) -> None:
    user = state.update_user_partial(
        "sara", {"name": "user-1234", "image": "https://x/y.png", "color": "red"}
    )

    assert (user.name, user.image) == ("user-1234", "https://x/y.png")
    assert user.custom == {"color": "red"}
    state.update_user_partial("sara", unset=["image", "color"])
    assert (user.image, user.custom) == (None, {})
    with pytest.raises(Invalid, match="cannot be set"):
        state.update_user_partial("sara", {"id": "other"})
    with pytest.raises(NotFound):
        state.update_user_partial("ghost", {"name": "x"})


def test_the_participants_view_still_takes_add_and_discard(state: EmulatorState) -> None:
    state.add_user("guest")
    call = state.calls[DEMO_CID]

    call.participants.add("guest")
    assert "guest" in call.participants and call.connected("guest")[0].tracks == set()
    assert call.participants - {"sara"} == {"alice", "bob", "guest", "john"}
    call.participants.discard("guest")
    assert "guest" not in call.participants


# -- the emulator's own helpers send what Stream would ---------------------------------------------


async def test_join_and_leave_send_session_webhooks(
    emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.add_user("carol", "Carol")
    session_id = emulator.state.calls[DEMO_CID].current_session_id

    joined = await emulator.join(DEMO_CID, "carol", ["video"])
    await clock.advance(75)
    await emulator.leave(DEMO_CID, "carol")

    assert event_types(emulator) == [
        "call.session_participant_joined",
        "call.session_participant_left",
    ]
    came, went = (d.event for d in emulator.webhooks_sent)
    assert (came["session_id"], came["call_cid"]) == (session_id, DEMO_CID)
    assert came["participant"]["user"]["id"] == "carol"
    assert came["participant"]["user_session_id"] == joined.user_session_id
    assert went["duration_seconds"] == 75


async def test_a_fresh_call_starts_and_ends_its_session(emulator: StreamEmulator) -> None:
    emulator.add_call("default:quiet", members=["sara"], participants=[])

    await emulator.join("default:quiet", "sara", ["audio"])
    await emulator.leave("default:quiet", "sara")

    assert event_types(emulator) == [
        "call.session_started",
        "call.session_participant_joined",
        "call.session_participant_left",
        "call.session_ended",
    ]
    started = emulator.webhooks_sent[0].event
    assert started["call"]["cid"] == "default:quiet"
    assert started["session_id"] == emulator.state.calls["default:quiet"].current_session_id


async def test_a_refused_join_sends_nothing(emulator: StreamEmulator) -> None:
    emulator.state.calls[DEMO_CID].blocked.add("alice")

    with pytest.raises(Invalid):
        await emulator.join(DEMO_CID, "alice")

    assert emulator.webhooks_sent == []


async def test_emulator_end_call_sends_call_ended_then_the_session_events(
    emulator: StreamEmulator,
) -> None:
    await emulator.end_call(DEMO_CID)
    await emulator.end_call(DEMO_CID)

    kinds = event_types(emulator)
    assert kinds[0] == "call.ended"
    assert kinds[1:] == ["call.session_participant_left"] * 4 + ["call.session_ended"]
