"""Call moderation against the emulator: the request sent and the call's state afterwards."""

from __future__ import annotations

import pytest

from bot.local.emulator import StreamEmulator
from bot.stream import CallRef, StreamAPIError, StreamClient

from .expect import assert_stream_request, only_request

CALL = CallRef("default", "call-123")
CALL_PATH = "/api/v2/video/call/default/call-123"


def test_call_ref_names_itself() -> None:
    ref = CallRef("livestream", "call-9")
    assert ref.cid == "livestream:call-9"
    assert str(ref) == "livestream:call-9"


async def test_block_user(client: StreamClient, emulator: StreamEmulator) -> None:
    await client.block_user(CALL, "sara")

    call = emulator.state.calls["default:call-123"]
    assert "sara" in call.blocked
    assert "sara" not in call.participants
    assert_stream_request(
        only_request(emulator), "POST", f"{CALL_PATH}/block", {"user_id": "sara"}
    )


async def test_kick_sends_block_only_when_asked(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    await client.kick_user(CALL, "sara")

    call = emulator.state.calls["default:call-123"]
    assert "sara" not in call.participants
    assert "sara" not in call.blocked
    assert_stream_request(only_request(emulator), "POST", f"{CALL_PATH}/kick", {"user_id": "sara"})


async def test_kick_with_block_and_kicker(client: StreamClient, emulator: StreamEmulator) -> None:
    await client.kick_user(CALL, "john", block=True, kicked_by_id="alice")

    call = emulator.state.calls["default:call-123"]
    assert "john" not in call.participants
    assert "john" in call.blocked
    assert [(k.user_id, k.kicked_by, k.blocked) for k in call.kicked] == [("john", "alice", True)]
    assert_stream_request(
        only_request(emulator),
        "POST",
        f"{CALL_PATH}/kick",
        {"user_id": "john", "block": True, "kicked_by_id": "alice"},
    )


async def test_unblock_user(client: StreamClient, emulator: StreamEmulator) -> None:
    emulator.state.calls["default:call-123"].blocked.add("bob")

    await client.unblock_user(CALL, "bob")

    assert "bob" not in emulator.state.calls["default:call-123"].blocked
    assert_stream_request(
        only_request(emulator), "POST", f"{CALL_PATH}/unblock", {"user_id": "bob"}
    )


@pytest.mark.parametrize(
    ("enabled", "access_request_enabled"), [(False, False), (True, True), (True, False)]
)
async def test_update_screensharing(
    client: StreamClient, emulator: StreamEmulator, enabled: bool, access_request_enabled: bool
) -> None:
    settings = emulator.state.calls["default:call-123"].screensharing
    settings.enabled = not enabled
    settings.access_request_enabled = not access_request_enabled

    await client.update_screensharing(
        CALL, enabled=enabled, access_request_enabled=access_request_enabled
    )

    assert (settings.enabled, settings.access_request_enabled) == (enabled, access_request_enabled)
    screensharing = {"enabled": enabled, "access_request_enabled": access_request_enabled}
    assert_stream_request(
        only_request(emulator),
        "PATCH",
        CALL_PATH,
        {"settings_override": {"screensharing": screensharing}},
    )


async def test_mute_all(client: StreamClient, emulator: StreamEmulator) -> None:
    emulator.add_user("callmod-bot", role="admin")

    await client.mute_all(CALL, ["audio", "screenshare"], muted_by_id="callmod-bot")

    muted = emulator.state.calls["default:call-123"].muted
    assert {user: muted.get(user) for user in ("sara", "john", "alice", "bob")} == {
        user: {"audio", "screenshare"} for user in ("sara", "john", "alice", "bob")
    }
    assert_stream_request(
        only_request(emulator),
        "POST",
        f"{CALL_PATH}/mute_users",
        {"mute_all_users": True, "audio": True, "screenshare": True, "muted_by_id": "callmod-bot"},
    )


async def test_mute_users(client: StreamClient, emulator: StreamEmulator) -> None:
    await client.mute_users(CALL, ["sara", "bob"], ["video"], muted_by_id="alice")

    muted = emulator.state.calls["default:call-123"].muted
    assert muted.get("sara") == {"video"}
    assert muted.get("bob") == {"video"}
    assert not muted.get("john")
    assert_stream_request(
        only_request(emulator),
        "POST",
        f"{CALL_PATH}/mute_users",
        {"user_ids": ["sara", "bob"], "video": True, "muted_by_id": "alice"},
    )


async def test_mute_needs_a_track_and_a_user(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    with pytest.raises(ValueError, match="track"):
        await client.mute_users(CALL, ["sara"], [], muted_by_id="alice")
    with pytest.raises(ValueError, match="user"):
        await client.mute_users(CALL, [], ["audio"], muted_by_id="alice")
    assert emulator.requests == []


async def test_grant_and_revoke(client: StreamClient, emulator: StreamEmulator) -> None:
    permissions = emulator.state.calls["default:call-123"].permissions
    permissions["sara"] = {"send-audio"}

    await client.update_user_permissions(CALL, "sara", grant=["screenshare"], revoke=["send-audio"])

    assert permissions["sara"] == {"screenshare"}
    assert_stream_request(
        only_request(emulator),
        "POST",
        f"{CALL_PATH}/user_permissions",
        {
            "user_id": "sara",
            "grant_permissions": ["screenshare"],
            "revoke_permissions": ["send-audio"],
        },
    )


async def test_revoke_alone_sends_no_grant(client: StreamClient, emulator: StreamEmulator) -> None:
    await client.update_user_permissions(CALL, "john", revoke=["send-video"])

    assert "send-video" not in emulator.state.calls["default:call-123"].permissions["john"]
    assert only_request(emulator).body == {
        "user_id": "john",
        "revoke_permissions": ["send-video"],
    }


async def test_unknown_call_is_named(client: StreamClient, emulator: StreamEmulator) -> None:
    with pytest.raises(StreamAPIError) as caught:
        await client.kick_user(CallRef("default", "call-999"), "sara")

    error = caught.value
    assert str(error) == "call default:call-999 does not exist"
    assert (error.status, error.code, error.operation) == (404, 16, "kick")
    assert (error.maybe_applied, error.retryable) == (False, False)
    assert len(emulator.requests) == 1


async def test_unknown_user_is_named(client: StreamClient, emulator: StreamEmulator) -> None:
    with pytest.raises(StreamAPIError) as caught:
        await client.block_user(CALL, "sara2")

    assert caught.value.sentence == 'user "sara2" was not found'
    assert caught.value.status == 404
    assert "sara2" not in emulator.state.calls["default:call-123"].blocked


async def test_rejected_input_quotes_stream(client: StreamClient, emulator: StreamEmulator) -> None:
    emulator.add_user("zoe")

    with pytest.raises(StreamAPIError) as caught:
        await client.mute_users(CALL, ["zoe"], ["audio"], muted_by_id="alice")

    error = caught.value
    assert (error.status, error.code) == (400, 4)
    assert error.sentence.startswith("Stream rejected the request: ")
    assert "zoe" in error.sentence
    assert len(emulator.requests) == 1
