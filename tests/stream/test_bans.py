"""Bans against the emulator: ban, unban, one page of bans, and every ban past the offset cap."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.local.emulator import Ban as EmulatedBan
from bot.local.emulator import StreamEmulator
from bot.stream import Ban, StreamAPIError, StreamClient
from bot.util.clock import ManualClock

from .expect import assert_stream_request, only_request


def at(clock_seconds: float) -> datetime:
    return datetime.fromtimestamp(clock_seconds, tz=UTC)


async def test_permanent_ban_sends_no_optional_fields(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await client.ban("sara", banned_by_id="john")

    ban = emulator.state.active_ban("sara")
    assert ban is not None
    assert (ban.banned_by, ban.reason, ban.expires_at, ban.ip_ban) == ("john", None, None, False)
    assert ban.created_at == clock.time()
    assert_stream_request(
        only_request(emulator),
        "POST",
        "/api/v2/moderation/ban",
        {"target_user_id": "sara", "banned_by_id": "john"},
    )


async def test_timed_ip_ban_with_reason(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await client.ban("bob", banned_by_id="alice", reason="spam <!channel>", timeout_minutes=90,
                     ip_ban=True)

    ban = emulator.state.active_ban("bob")
    assert ban is not None
    assert ban.expires_at == clock.time() + 90 * 60
    assert (ban.reason, ban.ip_ban) == ("spam <!channel>", True)
    assert only_request(emulator).body == {
        "target_user_id": "bob",
        "banned_by_id": "alice",
        "reason": "spam <!channel>",
        "timeout": 90,
        "ip_ban": True,
    }
    await clock.advance(90 * 60)
    assert emulator.state.active_ban("bob") is None


async def test_ban_of_unknown_user(client: StreamClient, emulator: StreamEmulator) -> None:
    with pytest.raises(StreamAPIError) as caught:
        await client.ban("nobody", banned_by_id="john")

    assert caught.value.sentence == 'user "nobody" was not found'
    assert emulator.state.bans == {}


async def test_unban_posts_target_in_query_and_json_body(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    await client.ban("sara", banned_by_id="john")
    await client.ban("bob", banned_by_id="john")
    emulator.requests.clear()

    await client.unban("sara")
    await client.unban("bob", unbanned_by_id="alice")

    assert emulator.state.active_ban("sara") is None
    assert emulator.state.active_ban("bob") is None
    first, second = emulator.requests
    assert_stream_request(first, "POST", "/api/v2/moderation/unban", {}, target_user_id="sara")
    assert_stream_request(
        second,
        "POST",
        "/api/v2/moderation/unban",
        {"unbanned_by_id": "alice"},
        target_user_id="bob",
    )


async def test_query_bans_reads_every_field(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await client.ban("sara", banned_by_id="john", reason="spam", timeout_minutes=60)
    await clock.advance(10)
    await client.ban("bob", banned_by_id="alice")
    emulator.requests.clear()

    bans = await client.query_bans()

    start = clock.time() - 10
    assert bans == [
        Ban("bob", "Bob", "alice", at(start + 10), None, None),
        Ban("sara", "Sara", "john", at(start), at(start + 3600), "spam"),
    ]
    assert bans[0].permanent and not bans[1].permanent
    request = only_request(emulator)
    assert_stream_request(
        request, "GET", "/api/v2/chat/query_banned_users", None, payload=request.query["payload"]
    )
    assert json.loads(request.query["payload"]) == {
        "filter_conditions": {},
        "exclude_expired_bans": True,
        "limit": 300,
        "offset": 0,
        "sort": [{"field": "created_at", "direction": -1}],
    }


async def test_query_bans_filters_and_skips_expired(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await client.ban("sara", banned_by_id="john", timeout_minutes=1)
    await client.ban("bob", banned_by_id="john")
    await clock.advance(61)

    assert [b.user_id for b in await client.query_bans()] == ["bob"]
    assert await client.query_bans(user_id="sara") == []
    assert [b.user_id for b in await client.query_bans(user_id="bob")] == ["bob"]
    payload = json.loads(emulator.requests[-1].query["payload"])
    assert payload["filter_conditions"] == {"user_id": "bob"}

    everything = await client.query_bans(include_expired=True)
    assert [b.user_id for b in everything] == ["bob", "sara"]
    assert json.loads(emulator.requests[-1].query["payload"])["exclude_expired_bans"] is False
    assert [b.user_id async for b in client.iter_bans(include_expired=True)] == ["bob", "sara"]


async def test_query_bans_created_before_and_paging(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    for user in ("sara", "john", "alice"):
        await client.ban(user, banned_by_id="bob")
        await clock.advance(60)
    alice_banned = at(clock.time() - 60)

    older = await client.query_bans(created_before=alice_banned)
    assert [b.user_id for b in older] == ["john", "sara"]
    payload = json.loads(emulator.requests[-1].query["payload"])
    assert payload["filter_conditions"] == {
        "created_at": {"$lt": alice_banned.isoformat().replace("+00:00", ".000000Z")}
    }
    page = await client.query_bans(limit=1, offset=1)
    assert [b.user_id for b in page] == ["john"]


async def test_query_bans_refuses_limits_stream_refuses(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    with pytest.raises(ValueError):
        await client.query_bans(limit=301)
    with pytest.raises(ValueError):
        await client.query_bans(offset=10_001)
    assert emulator.requests == []


async def test_iter_bans_over_several_pages(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    users = ["sara", "john", "alice", "bob", "zoe"]
    emulator.add_user("zoe")
    for user in users:
        await client.ban(user, banned_by_id="sara" if user != "sara" else "john")
        await clock.advance(1)
    emulator.requests.clear()

    seen = [ban.user_id async for ban in client.iter_bans(page_size=2)]

    assert seen == list(reversed(users))
    offsets = [json.loads(r.query["payload"])["offset"] for r in emulator.requests]
    assert offsets == [0, 2, 4]


async def test_iter_bans_for_one_user(client: StreamClient, emulator: StreamEmulator) -> None:
    await client.ban("sara", banned_by_id="john")
    await client.ban("bob", banned_by_id="john")

    assert [b.user_id async for b in client.iter_bans(user_id="bob")] == ["bob"]


def plant_bans(emulator: StreamEmulator, count: int, *, start: float, same_instant: int) -> None:
    """`count` bans straight into the emulator's state; runs of `same_instant` share a time."""
    emulator.add_user("mod")
    for n in range(count):
        user = f"user-{n:05d}"
        emulator.add_user(user)
        emulator.state.bans[user] = EmulatedBan(
            target=user, banned_by="mod", reason=None, created_at=start + n // same_instant
        )


async def test_iter_bans_past_the_offset_cap_uses_a_cursor(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    plant_bans(emulator, 10_400, start=clock.time() - 100_000, same_instant=7)

    seen = [ban async for ban in client.iter_bans()]

    assert len(seen) == 10_400
    assert len({b.user_id for b in seen}) == 10_400
    assert all(a.created_at >= b.created_at for a, b in itertools.pairwise(seen))
    payloads = [json.loads(r.query["payload"]) for r in emulator.requests]
    assert max(p["offset"] for p in payloads) <= 10_000
    assert "created_at" in payloads[-1]["filter_conditions"]


async def test_iter_bans_cursor_keeps_bans_sharing_an_instant(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    plant_bans(emulator, 23, start=clock.time() - 1000, same_instant=3)
    client.max_bans_offset = 4

    seen = [ban.user_id async for ban in client.iter_bans(page_size=2)]

    assert sorted(seen) == sorted(f"user-{n:05d}" for n in range(23))
    assert len(seen) == 23
    payloads = [json.loads(r.query["payload"]) for r in emulator.requests]
    assert all(p["offset"] <= 4 for p in payloads)
    assert sum("created_at" in p["filter_conditions"] for p in payloads) > 1


async def test_ban_timeout_below_a_minute_is_refused(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    with pytest.raises(ValueError):
        await client.ban("sara", banned_by_id="john", timeout_minutes=0)
    assert emulator.requests == []


def test_ban_permanence() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    assert Ban("a", None, None, now, None, None).permanent
    assert not Ban("a", None, None, now, now + timedelta(hours=1), None).permanent
