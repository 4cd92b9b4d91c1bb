"""Bans: ban, both unban forms, expiry on the injected clock, and query_banned_users."""

from __future__ import annotations

from typing import Any

import pytest

from bot.local.emulator import StreamEmulator
from bot.util.clock import ManualClock
from bot.util.timefmt import format_stream_time, parse_stream_time

from .helpers import Api, assert_stream_error, event_types

BAN = "/api/v2/moderation/ban"
UNBAN = "/api/v2/moderation/unban"


async def _ban(api: Api, target: str, **extra: Any) -> None:
    response = await api.post(BAN, {"target_user_id": target, "banned_by_id": "john", **extra})
    assert response.status_code == 200, response.text


async def test_permanent_ban(api: Api, emulator: StreamEmulator, clock: ManualClock) -> None:
    await _ban(api, "sara", reason="spam <!channel>")

    ban = emulator.state.active_ban("sara")
    assert ban is not None
    assert (ban.banned_by, ban.reason, ban.expires_at, ban.ip_ban) == (
        "john",
        "spam <!channel>",
        None,
        False,
    )
    assert ban.created_at == clock.time()
    (delivery,) = emulator.webhooks_sent
    event = delivery.event
    assert event["type"] == "user.banned"
    assert (event["user"]["id"], event["user"]["name"]) == ("sara", "Sara")
    assert event["created_by"]["id"] == "john"
    assert event["reason"] == "spam <!channel>"
    assert "expiration" not in event
    assert event["total_bans"] == 1
    assert event["created_at"] == format_stream_time(clock.time())


async def test_timed_ban_expires_on_the_clock(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await _ban(api, "sara", timeout=30, ip_ban=True)
    event = emulator.webhooks_sent[0].event
    assert event["expiration"] == format_stream_time(clock.time() + 30 * 60)
    assert emulator.state.bans["sara"].ip_ban is True

    await clock.advance(29 * 60)
    assert emulator.state.active_ban("sara") is not None
    assert await api.query_ban_users(exclude_expired_bans=True) == ["sara"]

    await clock.advance(2 * 60)
    assert emulator.state.active_ban("sara") is None
    assert await api.query_ban_users(exclude_expired_bans=True) == []
    # Stream keeps listing expired bans unless asked not to.
    listed = (await api.query_bans()).json()["bans"]
    # Answers give dates as integer nanoseconds, webhooks as RFC 3339 text: the same instant.
    assert [b["user"]["id"] for b in listed] == ["sara"]
    assert isinstance(listed[0]["expires"], int)
    assert parse_stream_time(listed[0]["expires"]) == parse_stream_time(event["expiration"])
    assert listed[0]["user"]["banned"] is False


async def test_reban_replaces_and_counts(api: Api, emulator: StreamEmulator) -> None:
    await _ban(api, "sara", timeout=5, reason="first")
    await _ban(api, "sara", reason="second")

    ban = emulator.state.bans["sara"]
    assert (ban.reason, ban.expires_at) == ("second", None)
    assert [d.event["total_bans"] for d in emulator.webhooks_sent] == [1, 2]


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"target_user_id": "ghost", "banned_by_id": "john"}, 404, 16, 'user "ghost"'),
        ({"target_user_id": "sara", "banned_by_id": "callmod-bot"}, 404, 16, '"callmod-bot"'),
        ({"target_user_id": "sara", "banned_by_id": "john", "timeout": 0}, 400, 4, "timeout"),
        ({"target_user_id": "sara", "banned_by_id": "john", "timeout": "30"}, 400, 4, "timeout"),
        ({"target_user_id": "sara", "banned_by_id": "john", "timeout": 1.5}, 400, 4, "timeout"),
        ({"target_user_id": "sara"}, 400, 4, "banned_by_id is a required field"),
    ],
)
async def test_ban_refusals(
    api: Api, emulator: StreamEmulator, body: dict[str, Any], status: int, code: int, words: str
) -> None:
    response = await api.post(BAN, body)

    assert_stream_error(response, status, code, contains=words)
    assert emulator.state.bans == {}
    assert emulator.webhooks_sent == []


async def test_upserted_moderator_may_ban(api: Api, emulator: StreamEmulator) -> None:
    upsert = await api.post(
        "/api/v2/users", {"users": {"callmod-bot": {"id": "callmod-bot", "role": "admin"}}}
    )
    assert upsert.status_code == 200, upsert.text

    response = await api.post(BAN, {"target_user_id": "sara", "banned_by_id": "callmod-bot"})

    assert response.status_code == 200, response.text


async def test_unban_with_post(api: Api, emulator: StreamEmulator) -> None:
    await _ban(api, "sara")

    response = await api.post(UNBAN, {"unbanned_by_id": "john"}, target_user_id="sara")

    assert response.status_code == 200, response.text
    assert emulator.state.active_ban("sara") is None
    assert event_types(emulator) == ["user.banned", "user.unbanned"]
    unbanned = emulator.webhooks_sent[1].event
    assert (unbanned["user"]["id"], unbanned["created_by"]["id"]) == ("sara", "john")


async def test_unban_someone_not_banned_is_fine(api: Api, emulator: StreamEmulator) -> None:
    response = await api.post(UNBAN, {}, target_user_id="bob")

    assert response.status_code == 200, response.text
    assert emulator.webhooks_sent == []


async def test_unban_after_expiry_raises_nothing(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await _ban(api, "sara", timeout=1)
    await clock.advance(61)

    response = await api.post(UNBAN, {}, target_user_id="sara")

    assert response.status_code == 200
    assert emulator.state.bans == {}
    assert event_types(emulator) == ["user.banned"]


async def test_unban_needs_body_and_target(api: Api) -> None:
    no_body = await api.post_raw(UNBAN + "?target_user_id=sara", b"")
    no_target = await api.post(UNBAN, {})
    unknown = await api.post(UNBAN, {}, target_user_id="ghost")

    assert_stream_error(no_body, 400, 4, contains="not valid JSON")
    assert_stream_error(no_target, 400, 4, field="target_user_id")
    assert_stream_error(unknown, 404, 16, contains='user "ghost"')


async def test_old_delete_form_with_query(api: Api, emulator: StreamEmulator) -> None:
    await _ban(api, "sara")

    response = await api.call("DELETE", BAN, None, target_user_id="sara")

    assert response.status_code == 200, response.text
    assert emulator.state.active_ban("sara") is None
    assert event_types(emulator) == ["user.banned", "user.unbanned"]


async def test_old_delete_form_with_body(api: Api, emulator: StreamEmulator) -> None:
    await _ban(api, "bob")

    response = await api.call("DELETE", BAN, {"target_user_id": "bob"})

    assert response.status_code == 200, response.text
    assert emulator.state.active_ban("bob") is None


async def _three_bans(api: Api, emulator: StreamEmulator, clock: ManualClock) -> None:
    emulator.add_user("mod2", "Mod Two")
    await _ban(api, "sara", reason="spam")
    await clock.advance(60)
    await _ban(api, "bob", timeout=10)
    await clock.advance(60)
    response = await api.post(
        BAN, {"target_user_id": "alice", "banned_by_id": "mod2", "reason": "abuse"}
    )
    assert response.status_code == 200


async def test_query_lists_bans_with_their_fields(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await _three_bans(api, emulator, clock)

    response = await api.query_bans()

    assert response.status_code == 200, response.text
    bans = response.json()["bans"]
    assert [b["user"]["id"] for b in bans] == ["sara", "bob", "alice"]
    sara, bob, alice = bans
    assert (sara["user"]["name"], sara["banned_by"]["id"]) == ("Sara", "john")
    assert sara["reason"] == "spam"
    assert "expires" not in sara
    assert "reason" not in bob
    assert bob["expires"] == round(emulator.state.bans["bob"].expires_at or 0) * 10**9
    assert alice["banned_by"]["name"] == "Mod Two"
    assert "duration" in response.json()


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"user_id": "bob"}, ["bob"]),
        ({"user_id": {"$eq": "alice"}}, ["alice"]),
        ({"user_id": {"$in": ["alice", "sara", "nobody"]}}, ["sara", "alice"]),
        ({"banned_by_id": "mod2"}, ["alice"]),
        ({"banned_by_id": {"$in": ["john"]}}, ["sara", "bob"]),
        ({"reason": {"$eq": "spam"}}, ["sara"]),
        ({"reason": "abuse", "banned_by_id": "john"}, []),
        ({"channel_cid": "messaging:general"}, []),
    ],
)
async def test_query_filters(
    api: Api,
    emulator: StreamEmulator,
    clock: ManualClock,
    conditions: dict[str, Any],
    expected: list[str],
) -> None:
    await _three_bans(api, emulator, clock)

    assert await api.query_ban_users(filter_conditions=conditions) == expected


async def test_query_created_at_range(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    start = clock.time()
    await _three_bans(api, emulator, clock)

    after_first = {"created_at": {"$gt": format_stream_time(start)}}
    first_two = {
        "created_at": {
            "$gte": format_stream_time(start),
            "$lt": format_stream_time(start + 120),
        }
    }
    up_to_second = {"created_at": {"$lte": format_stream_time(start + 60)}}

    assert await api.query_ban_users(filter_conditions=after_first) == ["bob", "alice"]
    assert await api.query_ban_users(filter_conditions=first_two) == ["sara", "bob"]
    assert await api.query_ban_users(filter_conditions=up_to_second) == ["sara", "bob"]


async def test_query_sort_and_paging(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await _three_bans(api, emulator, clock)
    newest_first = [{"field": "created_at", "direction": -1}]

    assert await api.query_ban_users(sort=newest_first) == ["alice", "bob", "sara"]
    assert await api.query_ban_users(limit=2) == ["sara", "bob"]
    assert await api.query_ban_users(limit=2, offset=2) == ["alice"]
    assert await api.query_ban_users(limit=2, offset=3) == []


async def test_query_ties_are_broken_by_user_id(api: Api, emulator: StreamEmulator) -> None:
    for user in ("sara", "bob", "alice"):
        await _ban(api, user)

    assert await api.query_ban_users() == ["alice", "bob", "sara"]


async def test_query_default_limit_is_100(api: Api, emulator: StreamEmulator) -> None:
    for n in range(105):
        emulator.add_user(f"u{n:03d}")
        emulator.state.ban(
            f"u{n:03d}", banned_by="john", reason=None, timeout_minutes=None, ip_ban=False
        )

    assert len(await api.query_ban_users()) == 100
    assert len(await api.query_ban_users(limit=300)) == 105


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"limit": 301}, "limit"),
        ({"limit": -1}, "limit"),
        ({"offset": 10_001}, "offset"),
        ({"sort": [{"field": "reason", "direction": 1}]}, "sort.0.field"),
        ({"filter_conditions": {"team": "red"}}, "filter_conditions"),
        ({"filter_conditions": {"user_id": {"$ne": "sara"}}}, "filter_conditions"),
        ({"filter_conditions": {"created_at": {"$gt": "yesterday"}}}, "filter_conditions"),
        ({"exclude_expired_bans": "yes"}, "exclude_expired_bans"),
    ],
)
async def test_query_refusals(api: Api, payload: dict[str, Any], field: str) -> None:
    response = await api.query_bans(**payload)

    assert_stream_error(response, 400, 4, field=field)


async def test_query_needs_a_json_payload(api: Api) -> None:
    missing = await api.get("/api/v2/chat/query_banned_users")
    garbled = await api.get("/api/v2/chat/query_banned_users", payload="{nope")
    no_filter = await api.get("/api/v2/chat/query_banned_users", payload="{}")

    assert_stream_error(missing, 400, 4, field="payload")
    assert_stream_error(garbled, 400, 4, contains="not valid JSON")
    assert_stream_error(no_filter, 400, 4, field="filter_conditions")


# -- entries planted for clients that meet what they cannot read ------------------------------


async def test_a_planted_entry_is_listed_verbatim_in_its_place(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    start = clock.time()
    await _ban(api, "sara")
    await clock.advance(60)
    planted = emulator.plant_deleted_user_ban("john", reason="gone")
    await clock.advance(60)
    await _ban(api, "bob")

    response = await api.query_bans(sort=[{"field": "created_at", "direction": -1}])

    bans = response.json()["bans"]
    assert [b["user"] and b["user"]["id"] for b in bans] == ["bob", None, "sara"]
    assert bans[1] == planted.entry
    assert bans[1]["user"] is None and bans[1]["banned_by"]["id"] == "john"
    assert parse_stream_time(bans[1]["created_at"]).timestamp() == start + 60
    # Filters read what the entry has: no user id, so a user filter never matches it.
    assert await api.query_ban_users(filter_conditions={"user_id": "sara"}) == ["sara"]
    by_john = await api.query_bans(filter_conditions={"banned_by_id": "john"})
    assert len(by_john.json()["bans"]) == 3
    # Nothing else sees it: no webhook, no ban in the state.
    assert set(emulator.state.bans) == {"sara", "bob"}


async def test_a_planted_raw_entry_pages_like_a_ban(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await _ban(api, "sara")
    emulator.plant_ban_entry({"user": {"name": "no id"}, "created_at": "yesterday"},
                             created_at=clock.time() + 1)

    first = (await api.query_bans(limit=1, sort=[{"field": "created_at", "direction": -1}]))
    second = (await api.query_bans(limit=1, offset=1,
                                   sort=[{"field": "created_at", "direction": -1}]))

    assert first.json()["bans"] == [{"user": {"name": "no id"}, "created_at": "yesterday"}]
    assert [b["user"]["id"] for b in second.json()["bans"]] == ["sara"]


async def test_payload_created_at_bounds(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    start = clock.time()
    await _ban(api, "sara")
    await clock.advance(60)
    await _ban(api, "bob")
    await clock.advance(60)
    await _ban(api, "alice")

    middle = format_stream_time(start + 60)
    assert sorted(await api.query_ban_users(created_at_after=middle)) == ["alice"]
    assert sorted(await api.query_ban_users(created_at_after_or_equal=middle)) == ["alice", "bob"]
    assert sorted(await api.query_ban_users(created_at_before=middle)) == ["sara"]
    assert sorted(await api.query_ban_users(created_at_before_or_equal=middle)) == ["bob", "sara"]
