"""Users against the emulator: deactivation, user blocks and the bot's own user."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.local.emulator import StreamEmulator
from bot.stream import StreamAPIError, StreamClient, UserBlock
from bot.util.clock import ManualClock

from .expect import assert_stream_request, only_request


async def test_deactivate_and_reactivate(client: StreamClient, emulator: StreamEmulator) -> None:
    await client.deactivate_user("sara")
    assert emulator.state.users["sara"].deactivated

    await client.reactivate_user("sara", created_by_id="john", restore_messages=True)
    assert not emulator.state.users["sara"].deactivated

    first, second = emulator.requests
    assert_stream_request(first, "POST", "/api/v2/users/sara/deactivate", {})
    assert_stream_request(
        second,
        "POST",
        "/api/v2/users/sara/reactivate",
        {"created_by_id": "john", "restore_messages": True},
    )


async def test_deactivate_sends_optional_fields_when_set(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    await client.deactivate_user("bob", created_by_id="alice", mark_messages_deleted=True)

    assert emulator.state.users["bob"].deactivated
    assert only_request(emulator).body == {"created_by_id": "alice", "mark_messages_deleted": True}


async def test_deactivating_twice_is_a_real_error_on_a_first_attempt(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    emulator.state.users["sara"].deactivated = True

    with pytest.raises(StreamAPIError) as caught:
        await client.deactivate_user("sara")

    error = caught.value
    assert str(error) == "sara is already deactivated"
    assert (error.status, error.code, error.retryable) == (400, 4, False)
    assert "already deactivated" in error.message
    assert len(emulator.requests) == 1


async def test_reactivating_an_active_user_is_a_real_error(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    with pytest.raises(StreamAPIError) as caught:
        await client.reactivate_user("john")

    assert caught.value.sentence == "john is not deactivated"


async def test_deactivate_unknown_user(client: StreamClient, emulator: StreamEmulator) -> None:
    with pytest.raises(StreamAPIError) as caught:
        await client.deactivate_user("nobody", created_by_id="sara")

    assert caught.value.sentence == 'user "nobody" was not found'
    assert caught.value.status == 404


async def test_unknown_acting_user_is_the_one_named(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    with pytest.raises(StreamAPIError) as caught:
        await client.deactivate_user("sara", created_by_id="ghost")

    assert caught.value.sentence == 'user "ghost" was not found'
    assert not emulator.state.users["sara"].deactivated


async def test_user_blocks_round_trip(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await client.block_users("sara", "john")
    assert "john" in emulator.state.user_blocks["sara"]

    blocks = await client.get_blocked_users("sara")
    assert blocks == [UserBlock("sara", "john", datetime.fromtimestamp(clock.time(), tz=UTC))]

    await client.unblock_users("sara", "john")
    assert "john" not in emulator.state.user_blocks.get("sara", {})
    assert await client.get_blocked_users("sara") == []

    block, listing, unblock, _ = emulator.requests
    assert_stream_request(
        block, "POST", "/api/v2/users/block", {"blocked_user_id": "john", "user_id": "sara"}
    )
    assert_stream_request(listing, "GET", "/api/v2/users/block", None, user_id="sara")
    assert_stream_request(
        unblock, "POST", "/api/v2/users/unblock", {"blocked_user_id": "john", "user_id": "sara"}
    )


async def test_blocking_yourself_is_rejected_without_retry(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    with pytest.raises(StreamAPIError) as caught:
        await client.block_users("sara", "sara")

    assert caught.value.status == 400
    assert caught.value.sentence.startswith("Stream rejected the request: ")
    assert "block themselves" in caught.value.sentence
    assert len(emulator.requests) == 1


async def test_blocked_users_of_unknown_user(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    with pytest.raises(StreamAPIError) as caught:
        await client.get_blocked_users("nobody")

    assert caught.value.sentence == 'user "nobody" was not found'
    assert caught.value.maybe_applied is False


async def test_upsert_user(client: StreamClient, emulator: StreamEmulator) -> None:
    await client.upsert_user("callmod-bot", name="callmod")
    await client.upsert_user("helper", role="user")

    bot_user = emulator.state.users["callmod-bot"]
    assert (bot_user.name, bot_user.role) == ("callmod", "admin")
    assert emulator.state.users["helper"].role == "user"
    first, second = emulator.requests
    assert_stream_request(
        first,
        "POST",
        "/api/v2/users",
        {"users": {"callmod-bot": {"id": "callmod-bot", "role": "admin", "name": "callmod"}}},
    )
    assert second.body == {"users": {"helper": {"id": "helper", "role": "user"}}}
