"""Stream's official Python SDK (`getstream` 7.x, a dev-only dependency) drives the running emulator
on 127.0.0.1 through every operation callmod uses (DESIGN.md §3); after each, the emulator's state
is checked, and its answer against the SDK's response model.

The SDK is pointed at the emulator with `AsyncStream(api_key, api_secret, base_url=...)`; it signs
its own server token (HS256 with the secret, no claims at all), which the emulator checks like
callmod's. Its transport (`LoopbackOnly`) refuses any host but 127.0.0.1.

Per operation, with getstream 7.0.0: what the SDK sends; what the emulator refused of it before
this test; which of its answers the SDK could not decode before, and why; and what the SDK's
response model still misses now (fields for things the emulator does not keep; the SDK decodes
them as None, with a RuntimeWarning each). "Dates as text" below: the emulator answered RFC 3339
strings, and the SDK reads a date only as integer nanoseconds (`datetime_from_unix_ns` does
`int(value)`): a ValueError, which the SDK turns into a StreamApiException about a 200 answer.

block / unblock a user on a call (`video.block_user`, `video.unblock_user`)
    sends `{"user_id"}`. Refused: no. Undecodable: no. Missing now: nothing.
kick (`video.kick_user`)
    sends `{"user_id", "block"?, "kicked_by_id"?}`. Refused: no. Undecodable: no. Missing: nothing.
screen-share settings (`video.update_call(settings_override=CallSettingsRequest(screensharing=
ScreensharingSettingsRequest(enabled, access_request_enabled)))`)
    sends `{"settings_override": {"screensharing": {"enabled", "access_request_enabled"}}}`.
    Refused: no. Undecodable: yes, UpdateCallResponse: dates as text. Also off Stream's shape:
    `call.session.participants` were `{"user_id"}` instead of CallParticipantResponse (`user`,
    `user_session_id`, `role`, `joined_at`), and `call.backstage`, `captioning`, `recording`,
    `transcribing`, `translating`, `current_session_id`, `custom`, `egress`, the session's
    counters and `members[].custom` were missing; `call.created_by` was missing until calls
    kept their creator. Missing now (UPDATE_CALL_GAPS): `call.ingress` (no RTMP/SRT/WHIP
    addresses), and every `call.settings` section but `screensharing` (the only settings kept).
mute everyone / mute users (`video.mute_users`)
    sends `{"mute_all_users": true}` or `{"user_ids"}`, with `"audio"?, "video"?, "screenshare"?,
    "screenshare_audio"?, "muted_by_id"`. Refused: no. Undecodable: no. Missing: nothing.
grant / revoke (`video.update_user_permissions`)
    sends `{"user_id", "grant_permissions"?, "revoke_permissions"?}`. Refused: no.
    Undecodable: no. Missing: nothing.
ban, permanent / timed / by IP (`moderation.ban`)
    sends `{"target_user_id", "banned_by_id", "reason"?, "timeout"?, "ip_ban"?}`. Refused: no.
    Undecodable: no. Missing: nothing.
unban (`moderation.unban`)
    sends `POST /api/v2/moderation/unban?target_user_id=…` with `{"unbanned_by_id"?}` (`{}`
    without). Refused: no. Undecodable: no. Missing: nothing.
list bans (`chat.query_banned_users(QueryBannedUsersPayload(...))`)
    sends `payload=` JSON with an explicit `null` for every unset field: `created_at_after`,
    `created_at_after_or_equal`, `created_at_before`, `created_at_before_or_equal`,
    `exclude_expired_bans`, `limit`, `offset`, `user_id`, `user`, and `sort[].type`.
    Refused: yes, 400 "offset: Input should be a valid integer" / "exclude_expired_bans: Input
    should be a valid boolean" (and the `created_at_*` bounds were ignored). Undecodable: yes,
    dates as text. Missing now: nothing (`user` may be null: the SDK's BanResponse allows it).
deactivate / reactivate (`deactivate_user`, `reactivate_user`)
    sends `{"created_by_id"?, "mark_messages_deleted"?}` / `{"created_by_id"?,
    "restore_messages"?}`. Refused: no. Undecodable: yes, dates as text; `user.shadow_banned`
    and `user.invisible` were missing. Missing now: nothing.
user blocks (`block_users`, `get_blocked_users`, `unblock_users`)
    sends `{"blocked_user_id", "user_id"}`; `GET /api/v2/users/block?user_id=`. Refused: no.
    Undecodable: BlockUsersResponse and GetBlockedUsersResponse, dates as text. Missing: nothing.
upsert the bot's user (`update_users`)
    sends `{"users": {"<id>": {"id", "name", "role"}}}`. Refused: no. Undecodable: yes, dates as
    text; FullUserResponse's `channel_mutes`, `devices`, `mutes`, `total_unread_count`,
    `unread_channels`, `unread_count`, `unread_threads` were missing. Missing now: nothing.
list calls (`video.query_calls(filter_conditions, limit, sort, next)`)
    sends `{"filter_conditions", "limit", "sort": [{"field", "direction"}], "next"?}`. New.
    Missing: `calls[].call.ingress` and the settings sections (CALL_RESPONSE_GAPS).
get a call (`video.get_call(type, id, members_limit)`)
    sends `GET …/call/{type}/{id}?members_limit=N`. New. Missing: as for calls.
participants (`video.query_call_participants(id, type, limit, filter_conditions)`)
    sends `POST …/participants?limit=N` with `{"filter_conditions"}` (`{}` without). New.
    Missing: as for calls, under `call`.
participant stats (`video.query_call_session_participant_stats(type, id, session, limit, sort,
filter_conditions)`)
    sends everything in the query string: `sort` as URL-quoted JSON objects joined by commas,
    `filter_conditions` as JSON. New. Missing: nothing.
end a call (`video.end_call(type, id)`)
    sends `POST …/mark_ended` with no body at all. New. Missing: nothing.
custom call event (`video.send_call_event(type, id, user_id, custom)`)
    sends `{"user_id", "custom"}`. New. Missing: nothing.
rename / clear an avatar (`update_users_partial([UpdateUserPartialRequest(id, set, unset)])`)
    sends `PATCH /api/v2/users` with `{"users": [{"id", "set"?, "unset"?}]}`. New.
    Missing: nothing.
find users (`query_users(QueryUsersPayload(filter_conditions, limit, …))`)
    sends `payload=` JSON with a null for every unset field (`id_gt`…, `presence`, `user`). New.
    Missing: nothing.
errors (401 / 400 / 404 / 429)
    Stream's error shape decodes as the SDK's APIError; 429 becomes StreamRateLimitException
    with `retry_after` from `Retry-After`. No change needed.

getstream 7 drops nulls from JSON bodies itself (`_strip_none`), but its request models
serialize unset fields as `null` (that is what reaches `payload=`), and older releases sent them
in bodies too: `test_every_request_model_with_its_nulls_is_accepted` posts each model as it
serializes. Stream's spec types every date-time as a number; the emulator now answers integer
nanoseconds (webhooks keep RFC 3339 text; callmod reads both).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from getstream import AsyncStream, StreamApiException, StreamRateLimitException
from getstream.models import (
    BanRequest,
    BlockUserRequest,
    BlockUsersRequest,
    CallSettingsRequest,
    DeactivateUserRequest,
    KickUserRequest,
    MuteUsersRequest,
    QueryBannedUsersPayload,
    QueryCallParticipantsRequest,
    QueryCallsRequest,
    QueryUsersPayload,
    ReactivateUserRequest,
    ScreensharingSettingsRequest,
    SendCallEventRequest,
    SortParamRequest,
    UnbanRequest,
    UnblockUserRequest,
    UnblockUsersRequest,
    UpdateCallRequest,
    UpdateUserPartialRequest,
    UpdateUserPermissionsRequest,
    UpdateUsersPartialRequest,
    UpdateUsersRequest,
    UserRequest,
)
from getstream.stream_response import StreamResponse

from bot.local.emulator import StreamEmulator
from bot.util.clock import ManualClock

from .helpers import CALL_PATH, DEMO_CID
from .sdk_shapes import LoopbackOnly, call_gaps, required_gaps

KEY = "sdk-conformance-key"
SECRET = "sdk-conformance-secret-" + "s" * 32  # long enough for PyJWT to stay quiet
CALL_TYPE, CALL_ID = DEMO_CID.split(":")
MINUTE = 60.0

# What the SDK's models require that the emulator's answers still lack (see the table above).
UPDATE_CALL_GAPS = call_gaps("call")


@dataclass
class Sdk:
    client: AsyncStream
    transport: LoopbackOnly
    emulator: StreamEmulator
    clock: ManualClock

    def gaps(self, response: StreamResponse[Any]) -> set[str]:
        """What the SDK's model of `response` requires that the emulator's answer lacks."""
        answer = self.transport.last()
        assert answer.status == 200, answer.body
        return required_gaps(type(response.data), answer.body)

    def sent(self) -> Any:
        return self.emulator.requests[-1]


@pytest.fixture
async def sdk(clock: ManualClock) -> AsyncIterator[Sdk]:
    emulator = StreamEmulator(KEY, SECRET, clock=clock)
    base_url = await emulator.start(host="127.0.0.1", port=0)
    transport = LoopbackOnly()
    client = AsyncStream(
        api_key=KEY, api_secret=SECRET, base_url=base_url, timeout=5.0, transport=transport
    )
    try:
        yield Sdk(client, transport, emulator, clock)
    finally:
        await client.aclose()
        await transport.aclose()
        await emulator.stop()


def nanos(moment: datetime | None) -> float:
    assert moment is not None
    return moment.timestamp()


# -- auth and errors ------------------------------------------------------------------------------


async def test_the_sdks_own_server_token_is_accepted(sdk: Sdk) -> None:
    await sdk.client.video.block_user(CALL_TYPE, CALL_ID, user_id="sara")

    headers = {name.lower(): value for name, value in sdk.sent().headers.items()}
    assert headers["stream-auth-type"] == "jwt"
    assert headers["x-stream-client"].startswith("stream-python-client-")
    assert not headers["authorization"].lower().startswith("bearer")
    assert sdk.sent().query == {"api_key": KEY}


async def test_a_wrong_secret_is_refused_in_a_shape_the_sdk_decodes(sdk: Sdk) -> None:
    base_url = sdk.emulator.base_url
    async with AsyncStream(
        api_key=KEY, api_secret="another-secret-" + "x" * 32, base_url=base_url,
        transport=LoopbackOnly(),
    ) as stranger:
        with pytest.raises(StreamApiException) as caught:
            await stranger.video.block_user(CALL_TYPE, CALL_ID, user_id="sara")

    assert (caught.value.status_code, caught.value.code) == (401, 43)
    assert caught.value.api_error is not None  # every field of Stream's error shape is there
    assert sdk.emulator.state.calls[DEMO_CID].blocked == set()


async def test_errors_decode_in_the_sdk(sdk: Sdk) -> None:
    with pytest.raises(StreamApiException) as missing:
        await sdk.client.video.kick_user(CALL_TYPE, CALL_ID, user_id="nobody")
    with pytest.raises(StreamApiException) as bad:
        await sdk.client.video.update_user_permissions(
            CALL_TYPE, CALL_ID, user_id="sara", grant_permissions=["fly"]
        )
    sdk.emulator.faults.rate_limit(times=1, reset_in=30, retry_after=2)
    with pytest.raises(StreamRateLimitException) as limited:
        await sdk.client.moderation.ban(target_user_id="sara", banned_by_id="john")

    assert (missing.value.status_code, missing.value.code) == (404, 16)
    assert (bad.value.status_code, bad.value.code) == (400, 4)
    assert "grant_permissions" in bad.value.exception_fields
    assert (limited.value.status_code, limited.value.code) == (429, 9)
    assert limited.value.retry_after is not None and limited.value.retry_after.total_seconds() == 2


# -- calls ----------------------------------------------------------------------------------------


async def test_block_and_unblock_a_user_on_a_call(sdk: Sdk) -> None:
    call = sdk.emulator.state.calls[DEMO_CID]

    blocked = await sdk.client.video.block_user(CALL_TYPE, CALL_ID, user_id="sara")
    assert sdk.sent().body == {"user_id": "sara"}
    assert "sara" in call.blocked and "sara" not in call.participants
    assert sdk.gaps(blocked) == set()

    unblocked = await sdk.client.video.unblock_user(CALL_TYPE, CALL_ID, user_id="sara")
    assert call.blocked == set()
    assert sdk.gaps(unblocked) == set()


async def test_kick_a_user_and_block_them(sdk: Sdk) -> None:
    answer = await sdk.client.video.kick_user(
        CALL_TYPE, CALL_ID, user_id="john", block=True, kicked_by_id="alice"
    )

    assert sdk.sent().body == {"user_id": "john", "block": True, "kicked_by_id": "alice"}
    call = sdk.emulator.state.calls[DEMO_CID]
    [kick] = call.kicked
    assert (kick.user_id, kick.kicked_by, kick.blocked) == ("john", "alice", True)
    assert "john" in call.blocked and "john" not in call.participants
    assert sdk.gaps(answer) == set()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the SDK warns of each gap it fills
async def test_update_call_screensharing_settings(sdk: Sdk) -> None:
    screensharing = ScreensharingSettingsRequest(enabled=False, access_request_enabled=True)

    answer = await sdk.client.video.update_call(
        CALL_TYPE, CALL_ID, settings_override=CallSettingsRequest(screensharing=screensharing)
    )

    assert sdk.sent().method == "PATCH"
    assert sdk.sent().body == {
        "settings_override": {"screensharing": {"enabled": False, "access_request_enabled": True}}
    }
    settings = sdk.emulator.state.calls[DEMO_CID].screensharing
    assert (settings.enabled, settings.access_request_enabled) == (False, True)
    call = answer.data.call
    assert (call.cid, call.settings.screensharing.enabled) == (DEMO_CID, False)
    assert call.session is not None and len(call.session.participants) == 4
    assert call.created_at.tzinfo is not None
    assert sorted(m.user_id for m in answer.data.members) == ["alice", "bob", "john", "sara"]
    assert sdk.gaps(answer) == UPDATE_CALL_GAPS


async def test_mute_everyone(sdk: Sdk) -> None:
    answer = await sdk.client.video.mute_users(
        CALL_TYPE, CALL_ID, mute_all_users=True, audio=True, muted_by_id="alice"
    )

    assert sdk.sent().body == {"mute_all_users": True, "audio": True, "muted_by_id": "alice"}
    muted = sdk.emulator.state.calls[DEMO_CID].muted
    assert muted == {"bob": {"audio"}, "john": {"audio"}, "sara": {"audio"}}
    assert sdk.gaps(answer) == set()


async def test_mute_some_users(sdk: Sdk) -> None:
    answer = await sdk.client.video.mute_users(
        CALL_TYPE, CALL_ID, user_ids=["sara", "bob"], video=True, screenshare=True,
        muted_by_id="alice",
    )

    assert sdk.sent().body["user_ids"] == ["sara", "bob"]
    muted = sdk.emulator.state.calls[DEMO_CID].muted
    assert muted == {"bob": {"video", "screenshare"}, "sara": {"video", "screenshare"}}
    assert sdk.gaps(answer) == set()


async def test_update_user_permissions(sdk: Sdk) -> None:
    answer = await sdk.client.video.update_user_permissions(
        CALL_TYPE, CALL_ID, user_id="sara",
        grant_permissions=["screenshare"], revoke_permissions=["send-audio"],
    )

    assert sdk.emulator.state.calls[DEMO_CID].permissions["sara"] == {"send-video", "screenshare"}
    assert sdk.gaps(answer) == set()


# -- bans -----------------------------------------------------------------------------------------


async def test_ban_permanent_timed_and_by_ip(sdk: Sdk) -> None:
    bans = sdk.emulator.state.bans
    now = sdk.clock.time()

    await sdk.client.moderation.ban(target_user_id="sara", banned_by_id="john")
    assert sdk.sent().body == {"target_user_id": "sara", "banned_by_id": "john"}
    await sdk.client.moderation.ban(
        target_user_id="bob", banned_by_id="john", reason="spam", timeout=30
    )
    answer = await sdk.client.moderation.ban(
        target_user_id="alice", banned_by_id="john", ip_ban=True
    )

    assert (bans["sara"].expires_at, bans["sara"].reason, bans["sara"].ip_ban) == (
        None, None, False,
    )
    assert (bans["bob"].expires_at, bans["bob"].reason) == (now + 30 * MINUTE, "spam")
    assert bans["alice"].ip_ban is True
    assert sdk.gaps(answer) == set()


async def test_unban(sdk: Sdk) -> None:
    sdk.emulator.state.ban("sara", banned_by="john", reason=None, timeout_minutes=None,
                           ip_ban=False)

    answer = await sdk.client.moderation.unban(target_user_id="sara", unbanned_by_id="alice")

    assert sdk.sent().query == {"api_key": KEY, "target_user_id": "sara"}
    assert sdk.sent().body == {"unbanned_by_id": "alice"}
    assert "sara" not in sdk.emulator.state.bans
    assert sdk.gaps(answer) == set()


async def test_query_banned_users_with_the_sdks_nulls(sdk: Sdk) -> None:
    state, clock = sdk.emulator.state, sdk.clock
    start = clock.time()
    state.ban("sara", banned_by="john", reason="spam", timeout_minutes=5, ip_ban=False)
    await clock.advance(MINUTE)
    state.ban("bob", banned_by="john", reason=None, timeout_minutes=None, ip_ban=False)
    await clock.advance(MINUTE)
    sdk.emulator.plant_deleted_user_ban("john", reason="gone")
    await clock.advance(MINUTE)
    state.ban("alice", banned_by="john", reason=None, timeout_minutes=60, ip_ban=False)
    newest_first = [SortParamRequest(field="created_at", direction=-1)]

    everything = await sdk.client.chat.query_banned_users(
        QueryBannedUsersPayload(filter_conditions={}, sort=newest_first)
    )

    payload = json.loads(sdk.sent().query["payload"])
    assert payload["offset"] is None and payload["exclude_expired_bans"] is None
    assert payload["sort"] == [{"direction": -1, "field": "created_at", "type": None}]
    bans = everything.data.bans
    assert [b.user.id if b.user else None for b in bans] == ["alice", None, "bob", "sara"]
    sara = bans[-1]
    assert sara.banned_by is not None and sara.banned_by.id == "john"
    assert (nanos(sara.created_at), nanos(sara.expires), sara.reason) == (
        start, start + 5 * MINUTE, "spam",
    )
    assert bans[1].user is None  # a hard-deleted user's ban: the SDK's model allows it too
    assert sdk.gaps(everything) == set()

    await clock.advance(3 * MINUTE)  # sara's ban runs out
    in_force = await sdk.client.chat.query_banned_users(
        QueryBannedUsersPayload(
            filter_conditions={}, exclude_expired_bans=True, limit=2, offset=1, sort=newest_first
        )
    )
    assert [b.user.id if b.user else None for b in in_force.data.bans] == [None, "bob"]
    older = await sdk.client.chat.query_banned_users(
        QueryBannedUsersPayload(
            filter_conditions={"user_id": {"$in": ["sara", "bob", "alice"]}},
            created_at_before=datetime.fromtimestamp(start + 2 * MINUTE, tz=UTC),
        )
    )
    assert sorted(b.user.id for b in older.data.bans if b.user) == ["bob", "sara"]


# -- users ----------------------------------------------------------------------------------------


async def test_deactivate_and_reactivate_a_user(sdk: Sdk) -> None:
    john = sdk.emulator.state.users["john"]

    answer = await sdk.client.deactivate_user("john", created_by_id="alice")
    assert john.deactivated is True
    assert answer.data.user is not None and answer.data.user.id == "john"
    assert nanos(answer.data.user.deactivated_at) == sdk.clock.time()
    assert sdk.gaps(answer) == set()

    again = await sdk.client.reactivate_user("john", created_by_id="alice", restore_messages=True)
    assert sdk.sent().body == {"created_by_id": "alice", "restore_messages": True}
    assert john.deactivated is False
    assert sdk.gaps(again) == set()


async def test_block_list_and_unblock_users(sdk: Sdk) -> None:
    blocked = await sdk.client.block_users(blocked_user_id="bob", user_id="sara")
    assert sdk.emulator.state.blocked_by("sara").keys() == {"bob"}
    assert (blocked.data.blocked_by_user_id, blocked.data.blocked_user_id) == ("sara", "bob")
    assert sdk.gaps(blocked) == set()

    listed = await sdk.client.get_blocked_users(user_id="sara")
    assert [(b.user_id, b.blocked_user_id) for b in listed.data.blocks] == [("sara", "bob")]
    assert nanos(listed.data.blocks[0].created_at) == sdk.clock.time()
    assert sdk.gaps(listed) == set()

    unblocked = await sdk.client.unblock_users(blocked_user_id="bob", user_id="sara")
    assert sdk.emulator.state.blocked_by("sara") == {}
    assert sdk.gaps(unblocked) == set()


async def test_upsert_the_bots_user(sdk: Sdk) -> None:
    user = UserRequest(id="callmod-bot", name="callmod", role="admin")

    answer = await sdk.client.update_users({"callmod-bot": user})

    assert sdk.sent().body == {
        "users": {"callmod-bot": {"id": "callmod-bot", "name": "callmod", "role": "admin"}}
    }
    saved = sdk.emulator.state.users["callmod-bot"]
    assert (saved.name, saved.role) == ("callmod", "admin")
    assert answer.data.users["callmod-bot"].role == "admin"
    assert sdk.gaps(answer) == set()


# -- live calls, participants, custom events, ending calls ---------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the SDK warns of each gap it fills
async def test_query_calls_and_their_cursors(sdk: Sdk) -> None:
    for n in range(3):
        sdk.emulator.add_call(f"default:c{n}", members=["sara"])
    by_id = [SortParamRequest(field="id", direction=1)]

    first = await sdk.client.video.query_calls(
        filter_conditions={"ongoing": True}, limit=2, sort=by_id
    )
    assert sdk.sent().body == {
        "filter_conditions": {"ongoing": True}, "limit": 2,
        "sort": [{"field": "id", "direction": 1}],
    }
    assert [c.call.cid for c in first.data.calls] == ["default:c0", "default:c1"]
    assert sdk.gaps(first) == call_gaps("calls[].call")
    second = await sdk.client.video.query_calls(
        filter_conditions={"ongoing": True}, limit=2, sort=by_id, next=first.data.next
    )
    assert [c.call.cid for c in second.data.calls] == ["default:c2", DEMO_CID]
    assert second.data.next is None and second.data.prev is not None
    demo = second.data.calls[1].call
    assert demo.session is not None and len(demo.session.participants) == 4
    assert demo.created_by.id == "sara"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
async def test_get_call(sdk: Sdk) -> None:
    answer = await sdk.client.video.get_call(CALL_TYPE, CALL_ID, members_limit=2)

    assert sdk.sent().query == {"api_key": KEY, "members_limit": "2"}
    call = answer.data.call
    assert call.session is not None and call.current_session_id == call.session.id
    assert nanos(call.session.started_at) == sdk.clock.time()
    assert len(answer.data.members) == 2
    assert sdk.gaps(answer) == call_gaps("call")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
async def test_query_call_participants(sdk: Sdk) -> None:
    answer = await sdk.client.video.query_call_participants(
        CALL_ID, CALL_TYPE, limit=50, filter_conditions={"published_tracks": {"$eq": "video"}}
    )

    assert sdk.sent().query == {"api_key": KEY, "limit": "50"}
    assert sdk.sent().body == {"filter_conditions": {"published_tracks": {"$eq": "video"}}}
    assert [p.user.id for p in answer.data.participants] == ["sara"]
    assert answer.data.total_participants == 1
    assert nanos(answer.data.participants[0].joined_at) == sdk.clock.time()
    assert sdk.gaps(answer) == call_gaps("call")
    everyone = await sdk.client.video.query_call_participants(CALL_ID, CALL_TYPE)
    assert sdk.sent().body == {}
    assert everyone.data.total_participants == 4


async def test_query_call_session_participant_stats(sdk: Sdk) -> None:
    session = sdk.emulator.state.calls[DEMO_CID].current_session_id
    await sdk.clock.advance(MINUTE)
    sdk.emulator.state.leave(DEMO_CID, "bob")

    answer = await sdk.client.video.query_call_session_participant_stats(
        CALL_TYPE, CALL_ID, session, limit=50,
        sort=[SortParamRequest(field="user_id", direction=1)],
        filter_conditions={"is_live": {"$eq": True}},
    )

    query = sdk.sent().query
    assert json.loads(query["filter_conditions"]) == {"is_live": {"$eq": True}}
    assert query["sort"].startswith("%7B")  # the SDK's URL-quoted JSON object
    stats = answer.data
    assert [p.user_id for p in stats.participants] == ["alice", "john", "sara"]
    sara = stats.participants[2].sessions[0]
    assert (sara.is_live, sara.published_tracks.audio, sara.published_tracks.video) == (
        True, True, True,
    )
    assert stats.counts.live_sessions == 3 and stats.counts.participants == 4
    assert stats.call_session_id == session
    assert sdk.gaps(answer) == set()


async def test_end_call(sdk: Sdk) -> None:
    answer = await sdk.client.video.end_call(CALL_TYPE, CALL_ID)

    request = sdk.sent()
    assert request.body is None and request.headers.get("content-length", "0") == "0"
    call = sdk.emulator.state.calls[DEMO_CID]
    assert call.ended_at == sdk.clock.time() and list(call.participants) == []
    assert sdk.gaps(answer) == set()


async def test_send_call_event(sdk: Sdk) -> None:
    custom = {"type": "callmod.notice", "action": "mute", "target_user_id": "sara", "text": "hi"}

    answer = await sdk.client.video.send_call_event(
        CALL_TYPE, CALL_ID, user_id="john", custom=custom
    )

    assert sdk.sent().body == {"user_id": "john", "custom": custom}
    (event,) = sdk.emulator.state.calls[DEMO_CID].events
    assert (event.user_id, event.custom) == ("john", custom)
    assert sdk.gaps(answer) == set()


async def test_update_users_partial(sdk: Sdk) -> None:
    sdk.emulator.state.users["sara"].image = "https://img/sara.png"

    answer = await sdk.client.update_users_partial(
        [UpdateUserPartialRequest(id="sara", set={"name": "user-1234"}, unset=["image"])]
    )

    assert sdk.sent().method == "PATCH"
    assert sdk.sent().body == {
        "users": [{"id": "sara", "set": {"name": "user-1234"}, "unset": ["image"]}]
    }
    sara = sdk.emulator.state.users["sara"]
    assert (sara.name, sara.image) == ("user-1234", None)
    assert answer.data.users["sara"].name == "user-1234"
    assert answer.data.users["sara"].image is None
    assert sdk.gaps(answer) == set()


async def test_query_users_with_the_sdks_nulls(sdk: Sdk) -> None:
    sdk.emulator.add_user("ross", "Bob Ross")

    answer = await sdk.client.query_users(
        QueryUsersPayload(filter_conditions={"name": {"$autocomplete": "bo"}}, limit=10)
    )

    payload = json.loads(sdk.sent().query["payload"])
    assert payload["id_gt"] is None and payload["offset"] is None
    assert [u.id for u in answer.data.users] == ["bob", "ross"]
    assert nanos(answer.data.users[0].created_at) == sdk.clock.time()
    assert sdk.gaps(answer) == set()


# -- every request model as it serializes, nulls and all -----------------------------------------


REQUESTS: list[tuple[str, str, Any]] = [
    ("POST", CALL_PATH + "/block", BlockUserRequest(user_id="sara")),
    ("POST", CALL_PATH + "/unblock", UnblockUserRequest(user_id="sara")),
    ("POST", CALL_PATH + "/kick", KickUserRequest(user_id="sara")),
    ("PATCH", CALL_PATH, UpdateCallRequest(settings_override=CallSettingsRequest(
        screensharing=ScreensharingSettingsRequest(enabled=True)))),
    ("POST", CALL_PATH + "/mute_users", MuteUsersRequest(mute_all_users=True, audio=True)),
    ("POST", CALL_PATH + "/user_permissions",
     UpdateUserPermissionsRequest(user_id="bob", grant_permissions=["screenshare"])),
    ("POST", "/api/v2/moderation/ban", BanRequest(target_user_id="john", banned_by_id="alice")),
    ("POST", "/api/v2/moderation/unban", UnbanRequest()),  # ?target_user_id=john
    ("POST", "/api/v2/users/bob/deactivate", DeactivateUserRequest()),
    ("POST", "/api/v2/users/bob/reactivate", ReactivateUserRequest()),
    ("POST", "/api/v2/users/block", BlockUsersRequest(blocked_user_id="bob", user_id="alice")),
    ("POST", "/api/v2/users/unblock",
     UnblockUsersRequest(blocked_user_id="bob", user_id="alice")),
    ("POST", "/api/v2/users", UpdateUsersRequest(users={"bob": UserRequest(id="bob")})),
    ("POST", "/api/v2/video/calls", QueryCallsRequest(filter_conditions={"ongoing": True})),
    ("POST", CALL_PATH + "/participants", QueryCallParticipantsRequest()),
    ("POST", CALL_PATH + "/event", SendCallEventRequest(user_id="john", custom={"a": 1})),
    ("PATCH", "/api/v2/users", UpdateUsersPartialRequest(
        users=[UpdateUserPartialRequest(id="bob", set={"name": "Robert"})])),
]


async def test_every_request_model_with_its_nulls_is_accepted(sdk: Sdk) -> None:
    sdk.emulator.state.calls[DEMO_CID].participants.add("sara")
    headers = {"Authorization": sdk.client.token, "stream-auth-type": "jwt"}
    async with httpx.AsyncClient(
        base_url=sdk.emulator.base_url, transport=LoopbackOnly(), headers=headers
    ) as http:
        for method, path, model in REQUESTS:
            body = model.to_dict()
            query = {"api_key": KEY}
            if path.endswith("/unban"):
                query["target_user_id"] = "john"
            response = await http.request(method, path, params=query, json=body)
            assert response.status_code == 200, (path, body, response.text)

    bodies = [request.body for request in sdk.emulator.requests]
    # Every body carries a null but block's and unblock's, whose one field is required.
    assert sum(None in _leaves(body) for body in bodies) == len(REQUESTS) - 2


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]

