"""Call moderation endpoints: what each does to the call, the events it raises, its refusals."""

from __future__ import annotations

import pytest

from bot.local.emulator import StreamEmulator

from .helpers import CALL_PATH, DEMO_CID, Api, assert_stream_error, event_types


async def test_block_removes_from_call_and_raises_event(
    api: Api, emulator: StreamEmulator
) -> None:
    response = await api.post(CALL_PATH + "/block", {"user_id": "sara"})

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"duration"}
    call = emulator.state.calls[DEMO_CID]
    assert "sara" in call.blocked
    assert "sara" not in call.participants
    assert "sara" in call.members
    assert event_types(emulator) == ["call.blocked_user", "call.session_participant_left"]
    delivery = emulator.webhooks_sent[0]
    assert delivery.event["call_cid"] == DEMO_CID
    assert delivery.event["user"]["id"] == "sara"
    assert delivery.status == "undelivered"


async def test_kick_without_block(api: Api, emulator: StreamEmulator) -> None:
    response = await api.post(CALL_PATH + "/kick", {"user_id": "john"})

    assert response.status_code == 200, response.text
    call = emulator.state.calls[DEMO_CID]
    assert "john" not in call.participants
    assert "john" not in call.blocked
    assert [(k.user_id, k.kicked_by, k.blocked) for k in call.kicked] == [("john", None, False)]
    assert event_types(emulator) == ["call.kicked_user", "call.session_participant_left"]


async def test_kick_with_block_raises_blocked_user_instead_of_kicked_user(
    api: Api, emulator: StreamEmulator
) -> None:
    response = await api.post(
        CALL_PATH + "/kick", {"user_id": "john", "block": True, "kicked_by_id": "alice"}
    )

    assert response.status_code == 200, response.text
    call = emulator.state.calls[DEMO_CID]
    assert "john" in call.blocked
    assert call.kicked[0].kicked_by == "alice"
    # As Stream does (GetStream/stream-video-js#2024): no call.kicked_user with block=true.
    assert event_types(emulator) == ["call.blocked_user", "call.session_participant_left"]
    assert emulator.webhooks_sent[0].event["blocked_by_user"]["id"] == "alice"


async def test_kicking_twice_succeeds(api: Api, emulator: StreamEmulator) -> None:
    emulator.add_user("guest")
    emulator.state.calls[DEMO_CID].participants.add("guest")

    first = await api.post(CALL_PATH + "/kick", {"user_id": "guest"})
    again = await api.post(CALL_PATH + "/kick", {"user_id": "guest"})

    assert (first.status_code, again.status_code) == (200, 200)


async def test_kick_someone_not_in_the_call(api: Api, emulator: StreamEmulator) -> None:
    emulator.add_user("zoe")

    response = await api.post(CALL_PATH + "/kick", {"user_id": "zoe"})

    assert_stream_error(response, 400, 4, contains='"zoe" is not a participant', field="user_id")
    assert emulator.webhooks_sent == []


async def test_unblock(api: Api, emulator: StreamEmulator) -> None:
    emulator.state.calls[DEMO_CID].blocked.add("bob")

    response = await api.post(CALL_PATH + "/unblock", {"user_id": "bob"})

    assert response.status_code == 200, response.text
    assert "bob" not in emulator.state.calls[DEMO_CID].blocked


async def test_update_screensharing(api: Api, emulator: StreamEmulator) -> None:
    response = await api.patch(
        CALL_PATH,
        {"settings_override": {"screensharing": {"enabled": True, "access_request_enabled": True}}},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["call"]["cid"] == DEMO_CID
    assert body["call"]["settings"]["screensharing"] == {
        "enabled": True,
        "access_request_enabled": True,
    }
    assert "duration" in body
    settings = emulator.state.calls[DEMO_CID].screensharing
    assert (settings.enabled, settings.access_request_enabled) == (True, True)


async def test_update_screensharing_changes_only_what_is_given(
    api: Api, emulator: StreamEmulator
) -> None:
    emulator.state.calls[DEMO_CID].screensharing.access_request_enabled = True

    response = await api.patch(
        CALL_PATH, {"settings_override": {"screensharing": {"enabled": False}}}
    )

    assert response.json()["call"]["settings"]["screensharing"] == {
        "enabled": False,
        "access_request_enabled": True,
    }


async def test_mute_all_spares_the_muter(api: Api, emulator: StreamEmulator) -> None:
    response = await api.post(
        CALL_PATH + "/mute_users",
        {"mute_all_users": True, "audio": True, "video": True, "muted_by_id": "john"},
    )

    assert response.status_code == 200, response.text
    muted = emulator.state.calls[DEMO_CID].muted
    assert {user: muted.get(user) for user in ("sara", "alice", "bob")} == {
        user: {"audio", "video"} for user in ("sara", "alice", "bob")
    }
    assert "john" not in muted


async def test_mute_named_users(api: Api, emulator: StreamEmulator) -> None:
    response = await api.post(
        CALL_PATH + "/mute_users",
        {"user_ids": ["sara"], "screenshare": True, "screenshare_audio": True},
    )

    assert response.status_code == 200, response.text
    assert emulator.state.calls[DEMO_CID].muted == {"sara": {"screenshare", "screenshare_audio"}}


async def test_unmute_is_what_the_user_does(api: Api, emulator: StreamEmulator) -> None:
    await api.post(CALL_PATH + "/mute_users", {"user_ids": ["sara"], "audio": True})

    emulator.state.unmute(DEMO_CID, "sara", ["audio"])

    assert emulator.state.calls[DEMO_CID].muted["sara"] == set()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"user_ids": ["sara"]}, "audio", "at least one of audio"),
        ({"user_ids": ["sara"], "audio": False}, "audio", "at least one of audio"),
        ({"user_ids": [], "audio": True}, "user_ids", "must not be empty"),
        ({"audio": True}, "user_ids", "must not be empty"),
    ],
)
async def test_mute_refusals(
    api: Api, emulator: StreamEmulator, body: dict[str, object], field: str, words: str
) -> None:
    response = await api.post(CALL_PATH + "/mute_users", body)

    assert_stream_error(response, 400, 4, contains=words, field=field)
    assert emulator.state.calls[DEMO_CID].muted == {}


async def test_mute_someone_not_in_the_call(api: Api, emulator: StreamEmulator) -> None:
    emulator.add_user("zoe")

    response = await api.post(CALL_PATH + "/mute_users", {"user_ids": ["zoe"], "audio": True})

    assert_stream_error(response, 400, 4, contains='"zoe" is not a participant')


async def test_mute_by_unknown_user(api: Api) -> None:
    response = await api.post(
        CALL_PATH + "/mute_users", {"mute_all_users": True, "audio": True, "muted_by_id": "ghost"}
    )

    assert_stream_error(response, 404, 16, contains='user "ghost" does not exist')


async def test_grant_and_revoke(api: Api, emulator: StreamEmulator) -> None:
    permissions = emulator.state.calls[DEMO_CID].permissions
    assert permissions["sara"] == {"send-audio", "send-video", "screenshare"}

    revoke = await api.post(
        CALL_PATH + "/user_permissions",
        {"user_id": "sara", "revoke_permissions": ["send-audio", "screenshare"]},
    )
    grant = await api.post(
        CALL_PATH + "/user_permissions", {"user_id": "sara", "grant_permissions": ["screenshare"]}
    )

    assert (revoke.status_code, grant.status_code) == (200, 200)
    assert permissions["sara"] == {"send-video", "screenshare"}


async def test_unknown_permission_is_named(api: Api, emulator: StreamEmulator) -> None:
    response = await api.post(
        CALL_PATH + "/user_permissions",
        {"user_id": "sara", "grant_permissions": ["send-audio", "fly"]},
    )

    assert_stream_error(response, 400, 4, contains='"fly"', field="grant_permissions")
    assert emulator.state.calls[DEMO_CID].permissions["sara"] == {
        "send-audio",
        "send-video",
        "screenshare",
    }


async def test_permissions_need_a_change(api: Api) -> None:
    response = await api.post(
        CALL_PATH + "/user_permissions",
        {"user_id": "sara", "grant_permissions": [], "revoke_permissions": []},
    )

    assert_stream_error(response, 400, 4, contains="at least one")


async def test_unknown_call(api: Api, emulator: StreamEmulator) -> None:
    response = await api.post("/api/v2/video/call/default/call-999/kick", {"user_id": "sara"})

    body = assert_stream_error(response, 404, 16)
    assert body["message"] == 'KickUser failed with error: "call default:call-999 does not exist"'
    assert emulator.webhooks_sent == []


async def test_unknown_user(api: Api, emulator: StreamEmulator) -> None:
    response = await api.post(CALL_PATH + "/block", {"user_id": "sara2"})

    assert_stream_error(response, 404, 16, contains='user "sara2" does not exist')
    assert "sara2" not in emulator.state.calls[DEMO_CID].blocked


async def test_other_call_types(api: Api, emulator: StreamEmulator) -> None:
    emulator.add_call("livestream:show-1", members=["sara", "dave"])

    response = await api.post("/api/v2/video/call/livestream/show-1/block", {"user_id": "dave"})

    assert response.status_code == 200, response.text
    assert emulator.state.calls["livestream:show-1"].blocked == {"dave"}
    assert emulator.state.users["dave"].name == "Dave"
    assert "dave" not in emulator.state.calls[DEMO_CID].blocked


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v2/video/call/Default/call-123/block", "call_type"),
        ("/api/v2/video/call/default/call.123/block", "call_id"),
        ("/api/v2/video/call/default/" + "c" * 65 + "/block", "call_id"),
    ],
)
async def test_malformed_call_ids(api: Api, path: str, field: str) -> None:
    response = await api.post(path, {"user_id": "sara"})

    assert_stream_error(response, 400, 4, field=field)
