"""The webhooks a moderation bot cares about: each raised where Stream raises it, shaped as the
SDK's event model requires, and read by callmod's own parser without an error."""

from __future__ import annotations

from typing import Any

from getstream.webhook import _get_event_class

from bot.local.emulator import StreamEmulator
from bot.stream.events import parse_event
from bot.util.clock import ManualClock

from .helpers import CALL_PATH, DEMO_CID, Api, event_types
from .sdk_shapes import call_gaps, required_gaps


def events_of(emulator: StreamEmulator, kind: str) -> list[dict[str, Any]]:
    return [d.event for d in emulator.webhooks_sent if d.event["type"] == kind]


async def test_unblock_raises_unblocked_user(api: Api, emulator: StreamEmulator) -> None:
    emulator.state.calls[DEMO_CID].blocked.add("bob")

    await api.post(CALL_PATH + "/unblock", {"user_id": "bob"})

    (event,) = events_of(emulator, "call.unblocked_user")
    assert (event["call_cid"], event["user"]["id"]) == (DEMO_CID, "bob")


async def test_mute_raises_user_muted(api: Api, emulator: StreamEmulator) -> None:
    named = {"user_ids": ["bob", "sara"], "audio": True, "muted_by_id": "john"}
    await api.post(CALL_PATH + "/mute_users", named)
    await api.post(CALL_PATH + "/mute_users", {"mute_all_users": True, "video": True})

    first, everyone = events_of(emulator, "call.user_muted")
    assert (first["from_user_id"], first["muted_user_ids"]) == ("john", ["bob", "sara"])
    assert everyone["muted_user_ids"] == ["alice", "bob", "john", "sara"]
    assert everyone["from_user_id"] == "" and everyone["reason"] == ""


async def test_user_permissions_raise_permissions_updated(
    api: Api, emulator: StreamEmulator
) -> None:
    await api.post(
        CALL_PATH + "/user_permissions", {"user_id": "sara", "revoke_permissions": ["send-audio"]}
    )

    (event,) = events_of(emulator, "call.permissions_updated")
    assert event["user"]["id"] == "sara"
    assert event["own_capabilities"] == ["screenshare", "send-video"]


async def test_deactivate_and_reactivate_raise_user_events(
    api: Api, emulator: StreamEmulator
) -> None:
    await api.post("/api/v2/users/bob/deactivate", {"created_by_id": "alice"})
    await api.post("/api/v2/users/bob/reactivate", {})

    assert event_types(emulator) == ["user.deactivated", "user.reactivated"]
    gone, back = (d.event for d in emulator.webhooks_sent)
    assert gone["user"]["id"] == "bob" and "deactivated_at" in gone["user"]
    assert gone["created_by"]["id"] == "alice" and "created_by" not in back


async def test_every_event_fits_the_sdk_and_callmods_parser(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.send_custom_events = True
    emulator.add_call("default:other", members=["sara", "john"], participants=[])
    await emulator.join("default:other", "sara", ["audio"])
    await clock.advance(30)
    await emulator.leave("default:other", "sara")
    await emulator.raise_permission_request(DEMO_CID, "john", ["screenshare"])
    await api.post(CALL_PATH + "/kick", {"user_id": "john"})
    await api.post(CALL_PATH + "/kick", {"user_id": "alice", "block": True, "kicked_by_id": "sara"})
    await api.post(CALL_PATH + "/unblock", {"user_id": "alice"})
    await api.post(CALL_PATH + "/mute_users", {"user_ids": ["sara"], "audio": True})
    grant = {"user_id": "bob", "grant_permissions": ["screenshare"]}
    await api.post(CALL_PATH + "/user_permissions", grant)
    await api.post(CALL_PATH + "/event", {"user_id": "sara", "custom": {"type": "callmod.notice"}})
    await api.post(CALL_PATH + "/mark_ended")
    await api.post("/api/v2/moderation/ban", {"target_user_id": "bob", "banned_by_id": "sara"})
    await api.post("/api/v2/moderation/unban", {}, target_user_id="bob")
    await api.post("/api/v2/users/bob/deactivate", {"created_by_id": "sara"})
    await api.post("/api/v2/users/bob/reactivate", {"created_by_id": "sara"})
    await api.patch("/api/v2/users", {"users": [{"id": "bob", "set": {"name": "Robert"}}]})

    seen = set(event_types(emulator))
    assert seen == {
        "call.session_started", "call.session_participant_joined",
        "call.session_participant_left", "call.session_ended", "call.permission_request",
        "call.kicked_user", "call.blocked_user", "call.unblocked_user", "call.user_muted",
        "call.permissions_updated", "custom", "call.ended", "user.banned", "user.unbanned",
        "user.deactivated", "user.reactivated", "user.updated",
    }
    for delivery in emulator.webhooks_sent:
        event = delivery.event
        model = _get_event_class(event["type"])
        expected = call_gaps("call") if "call" in event else set()
        assert required_gaps(model, event) == expected, event["type"]
        parse_event(event)  # known types become models, the others UnknownEvent; none raises
