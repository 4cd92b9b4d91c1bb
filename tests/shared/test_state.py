"""The shared-state contract, run on both implementations: in this process and in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.shared import InProcessState, SharedState, SharedStateError
from bot.shared.redis_state import RedisState
from bot.util.clock import ManualClock
from tests.shared.redis_server import redis_state


@pytest.fixture(params=["in-process", "redis"])
async def state(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[SharedState]:
    if request.param == "in-process":
        yield InProcessState(clock)
        return
    async with redis_state(clock) as redis:
        yield redis


async def test_remember_once_is_true_once_until_the_ttl_passes(
    state: SharedState, clock: ManualClock
) -> None:
    assert await state.remember_once("wh-1", 60)
    assert not await state.remember_once("wh-1", 60)
    assert await state.remember_once("wh-2", 60)
    await clock.advance(61)
    assert await state.remember_once("wh-1", 60)


async def test_remember_once_under_a_concurrent_burst_answers_true_exactly_once(
    state: SharedState,
) -> None:
    answers = await asyncio.gather(*(state.remember_once("same", 60) for _ in range(50)))
    assert answers.count(True) == 1
    # A burst far past the Redis connection pool waits for connections instead of failing.
    burst = await asyncio.gather(*(state.remember_once(f"id-{i}", 60) for i in range(500)))
    assert burst == [True] * 500


async def test_a_claim_names_its_holder_until_released_or_expired(
    state: SharedState, clock: ManualClock
) -> None:
    assert await state.claim("click", "replica-a", 30) is None
    assert await state.claim("click", "replica-b", 30) == "replica-a"
    assert await state.claim("click", "replica-a", 30) == "replica-a"  # no second take
    assert await state.holder("click") == "replica-a"
    assert not await state.release("click", "replica-b")
    assert await state.holder("click") == "replica-a"
    assert await state.release("click", "replica-a")
    assert await state.holder("click") is None
    assert await state.claim("click", "replica-b", 30) is None
    await clock.advance(31)
    assert await state.holder("click") is None
    assert await state.claim("click", "replica-c", 30) is None
    assert state.stats.claim_conflicts == 2


async def test_concurrent_claims_have_one_winner(state: SharedState) -> None:
    answers = await asyncio.gather(*(state.claim("k", f"owner-{i}", 30) for i in range(20)))
    assert answers.count(None) == 1
    winner = f"owner-{answers.index(None)}"
    assert {a for a in answers if a is not None} == {winner}


async def test_values_are_kept_until_their_ttl_passes(
    state: SharedState, clock: ManualClock
) -> None:
    assert await state.get("request:1") is None
    await state.put("request:1", '{"user": "sara"}\nsecond line', 60)
    await state.put("request:2", "two", 600)
    assert await state.get("request:1") == '{"user": "sara"}\nsecond line'
    await state.put("request:2", "two, again", 60)  # a new value and ttl
    await clock.advance(61)
    assert await state.get("request:1") is None
    assert await state.get("request:2") is None


async def test_hits_count_within_a_fixed_window(state: SharedState, clock: ManualClock) -> None:
    start = 60 * (int(clock.time()) // 60 + 1)
    await clock.advance(start - clock.time())
    assert [await state.hit("report:U1", 60) for _ in range(3)] == [1, 2, 3]
    assert await state.hit("report:U2", 60) == 1
    await clock.advance(60)
    assert await state.hit("report:U1", 60) == 1


async def test_the_schedule_hands_a_due_item_to_one_owner(
    state: SharedState, clock: ManualClock
) -> None:
    now = clock.time()
    await state.schedule("bans", "sara", now + 10, '{"user": "sara"}')
    await state.schedule("bans", "john", now + 20, '{"user": "john"}')
    assert await state.take_due("bans", "a", 30) == []
    assert await state.take("bans", "sara", "a", 30) is None  # not due yet
    await clock.advance(10)
    taken = await state.take_due("bans", "a", 30)
    assert [(d.item, d.payload, d.due, d.taken_over_from) for d in taken] == [
        ("sara", '{"user": "sara"}', now + 10, None)
    ]
    assert await state.take_due("bans", "b", 30) == []  # a's lease is live
    assert await state.take("bans", "sara", "b", 30) is None
    assert await state.take("bans", "sara", "a", 30) is not None  # its owner may take it again
    assert await state.finish("bans", "sara", "a")
    assert await state.scheduled("bans") == 1
    await clock.advance(10)
    assert [d.item for d in await state.take_due("bans", "b", 30)] == ["john"]
    assert not await state.finish("bans", "john", "a")  # not a's
    entry = await state.lookup("bans", "john")
    assert entry is not None
    assert (entry.due, entry.owner, entry.lease_until) == (now + 20, "b", clock.time() + 30)
    assert await state.lookup("bans", "sara") is None


async def test_an_owner_whose_lease_ran_out_is_taken_over(
    state: SharedState, clock: ManualClock
) -> None:
    await state.schedule("bans", "sara", clock.time(), "p")
    assert [d.item for d in await state.take_due("bans", "dead", 30)] == ["sara"]
    await clock.advance(29)
    assert await state.take_due("bans", "alive", 30) == []
    await clock.advance(2)
    (taken,) = await state.take_due("bans", "alive", 30)
    assert taken.taken_over_from == "dead"
    assert state.stats.takeovers == 1
    assert not await state.finish("bans", "sara", "dead")  # too late: it is not dead's any more
    assert await state.finish("bans", "sara", "alive")
    assert await state.scheduled("bans") == 0


async def test_rescheduling_replaces_the_item_and_drops_its_owner(
    state: SharedState, clock: ManualClock
) -> None:
    await state.schedule("bans", "sara", clock.time(), "first")
    await state.take_due("bans", "a", 30)
    await state.schedule("bans", "sara", clock.time() + 5, "second")
    assert not await state.finish("bans", "sara", "a")  # a new item: not a's to finish
    await clock.advance(5)
    (taken,) = await state.take_due("bans", "b", 30)
    assert (taken.payload, taken.taken_over_from) == ("second", None)
    await state.schedule("bans", "sara", clock.time() + 99, "third", replace=False)
    entry = await state.lookup("bans", "sara")
    assert entry is not None and (entry.owner, entry.due) == ("b", clock.time())
    await state.schedule("bans", "sara", clock.time() + 99, "third", replace=False)  # kept
    assert (await state.lookup("bans", "sara")) is not None
    await state.schedule("bans", "new", clock.time(), "fresh", replace=False)
    assert await state.scheduled("bans") == 2
    await state.unschedule("bans", "new")
    await state.unschedule("bans", "sara")
    assert await state.scheduled("bans") == 0
    await state.unschedule("bans", "nobody")  # removing what is not there is fine


async def test_concurrent_takers_each_get_distinct_items(
    state: SharedState, clock: ManualClock
) -> None:
    for i in range(30):
        await state.schedule("bans", f"user-{i}", clock.time(), str(i))
    batches = await asyncio.gather(*(state.take_due("bans", f"r{i}", 30, 7) for i in range(6)))
    taken = [d.item for batch in batches for d in batch]
    assert sorted(taken) == sorted(f"user-{i}" for i in range(30))


async def test_unreachable_redis_raises_shared_state_error(clock: ManualClock) -> None:
    state = RedisState.from_url("redis://127.0.0.1:1/0", clock)
    seen: list[str] = []
    state.stats.on_latency = lambda name, seconds: seen.append(name)
    try:
        with pytest.raises(SharedStateError, match="Redis claim failed"):
            await state.claim("k", "a", 30)
        with pytest.raises(SharedStateError):
            await state.ping()
    finally:
        await state.close()
    assert state.stats.errors == 2
    assert seen == []


async def test_redis_latency_is_observed(clock: ManualClock) -> None:
    async with redis_state(clock) as state:
        seen: list[tuple[str, float]] = []
        state.stats.on_latency = lambda name, seconds: seen.append((name, seconds))
        await state.ping()
        await state.claim("k", "a", 30)
    assert [name for name, _ in seen] == ["ping", "claim"]
    assert all(0 <= seconds < 5 for _, seconds in seen)
