"""Post-ack work kept behind the acks: the gate, its quiet spell, and the collector held off."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from bot.util import collector
from bot.util.inflight import InFlight


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def collection_on() -> Iterator[None]:
    """Each test starts and ends with automatic collection on and no holder left."""
    gc.enable()
    collector._collector.holders = 0
    collector._collector.switched_off = False
    yield
    collector._collector.holders = 0
    collector._collector.switched_off = False
    gc.enable()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(collector, "time", fake)
    return fake


def post_ack_work(inflight: InFlight) -> tuple[asyncio.Task[None], asyncio.Event]:
    """Post-ack work started now; the event is set once it gets through the gate."""
    started = asyncio.Event()

    async def work() -> None:
        async with inflight.slot():
            started.set()

    return asyncio.create_task(work()), started


async def turns(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_work_waits_for_the_pending_ack_then_goes() -> None:
    inflight = InFlight(4, quiet=0)
    order: list[str] = []
    answered = asyncio.Event()

    async def request() -> None:
        async with inflight.awaiting_ack():
            await answered.wait()
            order.append("ack")

    async def work() -> None:
        async with inflight.slot():
            order.append("work")

    pending = asyncio.create_task(request())
    await turns()
    running = asyncio.create_task(work())
    await turns()
    assert order == []  # the work waits while the request has no answer
    answered.set()
    await asyncio.gather(pending, running)
    assert order == ["ack", "work"]


async def test_during_a_burst_the_gate_stays_shut_through_the_quiet_spell() -> None:
    inflight = InFlight(4, quiet=3600, burst=1)  # every arrival makes a burst
    async with inflight.awaiting_ack():
        pass
    running, started = post_ack_work(inflight)
    await turns(50)
    assert not started.is_set()  # no ack pending, but not quiet for long enough yet
    running.cancel()
    inflight._reopen()  # what the quiet spell's timer does when it fires


async def test_a_request_within_the_quiet_spell_keeps_the_gate_shut() -> None:
    inflight = InFlight(4, quiet=0, burst=1)
    async with inflight.awaiting_ack():
        pass
    running, started = post_ack_work(inflight)  # the reopening is due at the next turn ...
    async with inflight.awaiting_ack():  # ... but another request comes first
        await turns()
        assert not started.is_set()
    await asyncio.wait_for(running, 5)
    assert started.is_set()


async def test_collection_is_off_while_acks_are_pending_and_back_on_after() -> None:
    inflight = InFlight(4, quiet=0)
    assert gc.isenabled()
    async with inflight.awaiting_ack():
        assert not gc.isenabled()
        async with inflight.awaiting_ack():
            assert not gc.isenabled()
    await turns()
    assert gc.isenabled()


async def test_a_hold_longer_than_the_bound_lets_collection_run(clock: FakeMonotonic) -> None:
    inflight = InFlight(4, quiet=0)
    async with inflight.awaiting_ack():
        assert not gc.isenabled()
        clock.now += collector.MAX_HOLD + 0.01
        async with inflight.awaiting_ack():  # a steady stream: the next request ends the hold
            assert gc.isenabled()
    await turns()
    assert gc.isenabled()
    async with inflight.awaiting_ack():  # the next burst holds it off again
        assert not gc.isenabled()
    await turns()
    assert gc.isenabled()


async def test_collection_switched_off_elsewhere_stays_off() -> None:
    gc.disable()
    inflight = InFlight(4, quiet=0)
    async with inflight.awaiting_ack():
        pass
    await turns()
    assert not gc.isenabled()  # not ours to switch on


async def test_two_inflights_in_one_process_share_the_hold() -> None:
    first, second = InFlight(4, quiet=0), InFlight(4, quiet=0)
    second_answered = asyncio.Event()

    async def on_second() -> None:
        async with second.awaiting_ack():
            await second_answered.wait()

    pending = asyncio.create_task(on_second())
    await turns()
    async with first.awaiting_ack():
        pass
    await turns()
    assert not gc.isenabled()  # the second still waits for its ack
    second_answered.set()
    await pending
    await turns()
    assert gc.isenabled()


async def test_during_a_burst_an_accepted_connection_shuts_the_gate_before_its_request() -> None:
    inflight = InFlight(4, quiet=0, burst=1)
    inflight.connection_opened()
    assert not gc.isenabled()
    running, started = post_ack_work(inflight)
    async with inflight.awaiting_ack():  # its request reached a handler: shut until the ack
        await turns()
        assert not started.is_set()
    await asyncio.wait_for(running, 5)
    assert gc.isenabled()


async def test_a_connection_without_a_request_reopens_the_gate_after_the_quiet_spell() -> None:
    inflight = InFlight(4, quiet=0, burst=1)
    inflight.connection_opened()
    assert not gc.isenabled()
    async with asyncio.timeout(5):
        async with inflight.slot():  # goes once the quiet spell (here: one turn) has passed
            pass
    assert gc.isenabled()


async def test_outside_a_burst_the_gate_reopens_with_the_last_ack() -> None:
    inflight = InFlight(4, quiet=3600, burst=5, burst_window=3600)
    for _ in range(2):  # a connection and its request, twice: four arrivals, fewer than a burst
        inflight.connection_opened()
        assert gc.isenabled()  # a connection alone does not shut the gate
        async with inflight.awaiting_ack():
            assert not gc.isenabled()
        assert gc.isenabled()  # no quiet spell: open again at once
    async with asyncio.timeout(5):
        async with inflight.slot():
            pass
    async with inflight.awaiting_ack():  # the fifth arrival within the window: a burst
        pass
    assert not gc.isenabled()  # shut for the quiet spell
    inflight._reopen()
    assert gc.isenabled()

