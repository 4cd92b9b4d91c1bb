"""Users: deactivate/reactivate, user blocks, upserts."""

from __future__ import annotations

from bot.local.emulator import EmulatorState, StreamEmulator
from bot.util.clock import ManualClock

from .helpers import Api, assert_stream_error


async def test_deactivate_then_reactivate(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    response = await api.post(
        "/api/v2/users/sara/deactivate", {"created_by_id": "john", "mark_messages_deleted": True}
    )

    assert response.status_code == 200, response.text
    user = response.json()["user"]
    assert (user["id"], user["deactivated_at"]) == ("sara", round(clock.time()) * 10**9)
    assert emulator.state.users["sara"].deactivated is True

    again = await api.post("/api/v2/users/sara/deactivate", {})
    assert_stream_error(again, 400, 4, contains="already deactivated")

    back = await api.post("/api/v2/users/sara/reactivate", {"restore_messages": True})
    assert back.status_code == 200, back.text
    assert "deactivated_at" not in back.json()["user"]
    assert emulator.state.users["sara"].deactivated is False

    twice = await api.post("/api/v2/users/sara/reactivate", {})
    assert_stream_error(twice, 400, 4, contains="is not deactivated")


async def test_deactivate_unknown_user(api: Api) -> None:
    response = await api.post("/api/v2/users/sara2/deactivate", {})

    body = assert_stream_error(response, 404, 16)
    assert 'user "sara2" does not exist' in body["message"]


async def test_deactivate_malformed_user_id(api: Api) -> None:
    response = await api.post("/api/v2/users/sa%20ra/deactivate", {})

    assert_stream_error(response, 400, 4, field="user_id")


async def test_user_blocks(api: Api, emulator: StreamEmulator, clock: ManualClock) -> None:
    blocked = await api.post("/api/v2/users/block", {"user_id": "sara", "blocked_user_id": "bob"})
    assert blocked.status_code == 200, blocked.text
    assert blocked.json()["blocked_user_id"] == "bob"
    await clock.advance(5)
    await api.post("/api/v2/users/block", {"user_id": "sara", "blocked_user_id": "alice"})

    listed = await api.get("/api/v2/users/block", user_id="sara")

    assert listed.status_code == 200, listed.text
    blocks = listed.json()["blocks"]
    assert [(b["user_id"], b["blocked_user_id"]) for b in blocks] == [
        ("sara", "bob"),
        ("sara", "alice"),
    ]
    assert blocks[0]["blocked_user"]["name"] == "Bob"
    assert blocks[0]["created_at"] == round(clock.time() - 5) * 10**9
    assert set(emulator.state.user_blocks["sara"]) == {"bob", "alice"}

    unblocked = await api.post(
        "/api/v2/users/unblock", {"user_id": "sara", "blocked_user_id": "bob"}
    )
    assert unblocked.status_code == 200, unblocked.text
    after = (await api.get("/api/v2/users/block", user_id="sara")).json()["blocks"]
    assert [b["blocked_user_id"] for b in after] == ["alice"]


async def test_user_block_refusals(api: Api) -> None:
    self_block = await api.post(
        "/api/v2/users/block", {"user_id": "sara", "blocked_user_id": "sara"}
    )
    unknown = await api.post("/api/v2/users/block", {"user_id": "sara", "blocked_user_id": "x9"})
    list_unknown = await api.get("/api/v2/users/block", user_id="x9")
    list_missing = await api.get("/api/v2/users/block")

    assert_stream_error(self_block, 400, 4, field="blocked_user_id")
    assert_stream_error(unknown, 404, 16, contains='user "x9"')
    assert_stream_error(list_unknown, 404, 16)
    assert_stream_error(list_missing, 400, 4, field="user_id")


async def test_upsert_creates_and_updates(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    assert "callmod-bot" not in emulator.state.users

    created = await api.post(
        "/api/v2/users",
        {"users": {"callmod-bot": {"id": "callmod-bot", "name": "callmod", "role": "admin"}}},
    )
    assert created.status_code == 200, created.text
    assert created.json()["users"]["callmod-bot"]["role"] == "admin"
    bot = emulator.state.users["callmod-bot"]
    assert (bot.name, bot.role, bot.created_at) == ("callmod", "admin", clock.time())

    await clock.advance(10)
    emulator.state.users["sara"].deactivated = True
    updated = await api.post("/api/v2/users", {"users": {"sara": {"id": "sara", "name": "S."}}})

    assert updated.status_code == 200, updated.text
    sara = emulator.state.users["sara"]
    assert (sara.name, sara.role, sara.deactivated) == ("S.", "user", True)
    assert sara.created_at == clock.time() - 10


async def test_upsert_refusals(api: Api, emulator: StreamEmulator) -> None:
    mismatch = await api.post("/api/v2/users", {"users": {"a": {"id": "b"}}})
    empty = await api.post("/api/v2/users", {"users": {}})
    bad_id = await api.post("/api/v2/users", {"users": {"no way": {"name": "x"}}})

    assert_stream_error(mismatch, 400, 4, contains="does not match")
    assert_stream_error(empty, 400, 4, field="users")
    assert_stream_error(bad_id, 400, 4, contains="not a valid user id")
    assert {"a", "b", "no way"}.isdisjoint(emulator.state.users)


async def test_a_swapped_state_is_served(api: Api, emulator: StreamEmulator) -> None:
    fresh = EmulatorState(clock=emulator.clock)
    fresh.add_user("zed", "Zed")
    emulator.state = fresh

    served = await api.post("/api/v2/users/zed/deactivate", {})
    gone = await api.post("/api/v2/users/sara/deactivate", {})

    assert served.status_code == 200, served.text
    assert fresh.users["zed"].deactivated is True
    assert_stream_error(gone, 404, 16)
