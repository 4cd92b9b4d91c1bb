"""The timer registry on a manual clock: firing, replacing, cancelling, retries, shutdown."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.util.clock import ManualClock
from bot.util.timers import TimerRegistry, backoff_delay

START = 1_800_000_000.0


@dataclass(slots=True)
class Ban:
    user_id: str
    reason: str = "spam"


@dataclass
class Recorder:
    """An on_expire callback that records (key, payload, clock time) and can be made to fail."""

    clock: ManualClock
    fired: list[tuple[str, Ban, float]] = field(default_factory=list)
    failures_left: dict[str, int] = field(default_factory=dict)
    gate: asyncio.Event | None = None

    async def __call__(self, key: str, payload: Ban) -> None:
        self.fired.append((key, payload, self.clock.time()))
        if self.gate is not None:
            await self.gate.wait()
        if self.failures_left.get(key, 0) > 0:
            self.failures_left[key] -= 1
            raise RuntimeError(f"slack is down for {key}")

    @property
    def keys(self) -> list[str]:
        return [key for key, _, _ in self.fired]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def recorder(clock: ManualClock) -> Recorder:
    return Recorder(clock)


@pytest.fixture
async def registry(clock: ManualClock, recorder: Recorder) -> AsyncIterator[TimerRegistry[Ban]]:
    reg: TimerRegistry[Ban] = TimerRegistry(clock, recorder, retry_base=5.0, retry_cap=300.0)
    reg.start()
    yield reg
    await reg.stop()


async def settle() -> None:
    """Let ready tasks run before the clock jumps.

    ManualClock.advance() jumps straight to the earliest sleep registered *so far*; a runner that
    was just woken by schedule() (or just started) has not registered its new sleep yet.
    """
    for _ in range(20):
        await asyncio.sleep(0)


async def advance(clock: ManualClock, reg: TimerRegistry[Any], seconds: float) -> None:
    await settle()
    await clock.advance(seconds)
    await idle(reg)


async def idle(reg: TimerRegistry[Any]) -> None:
    # The timeout only turns a bug (a fire that never comes) into a failure instead of a hang.
    await asyncio.wait_for(reg.wait_idle(), timeout=5)


async def test_fires_at_deadline_not_before(
    clock: ManualClock, recorder: Recorder, registry: TimerRegistry[Ban]
) -> None:
    registry.schedule("U1", START + 60, Ban("U1"))
    assert "U1" in registry and len(registry) == 1
    assert registry.next_deadline() == START + 60

    await advance(clock, registry, 59)
    assert recorder.fired == []
    assert "U1" in registry

    await advance(clock, registry, 1)
    assert recorder.fired == [("U1", Ban("U1"), START + 60)]
    assert "U1" not in registry and len(registry) == 0
    assert registry.next_deadline() is None


async def test_replace_fires_only_new_deadline_once(
    clock: ManualClock, recorder: Recorder, registry: TimerRegistry[Ban]
) -> None:
    registry.schedule("U1", START + 10, Ban("U1", "old"))
    registry.schedule("U1", START + 30, Ban("U1", "new"))
    assert len(registry) == 1
    entry = registry.get("U1")
    assert entry is not None and entry.deadline == START + 30 and entry.payload.reason == "new"

    await advance(clock, registry, 20)
    assert recorder.fired == []
    await advance(clock, registry, 10)
    await advance(clock, registry, 100)
    assert recorder.fired == [("U1", Ban("U1", "new"), START + 30)]


async def test_replace_with_earlier_deadline(
    clock: ManualClock, recorder: Recorder, registry: TimerRegistry[Ban]
) -> None:
    registry.schedule("U1", START + 30, Ban("U1", "old"))
    await advance(clock, registry, 1)
    registry.schedule("U1", START + 5, Ban("U1", "new"))
    await advance(clock, registry, 100)
    assert recorder.fired == [("U1", Ban("U1", "new"), START + 5)]


async def test_cancel_never_fires(
    clock: ManualClock, recorder: Recorder, registry: TimerRegistry[Ban]
) -> None:
    registry.schedule("U1", START + 10, Ban("U1"))
    registry.schedule("U2", START + 20, Ban("U2"))
    assert registry.cancel("U1") is True
    assert registry.cancel("U1") is False
    assert registry.cancel("nobody") is False
    assert "U1" not in registry and registry.get("U1") is None

    await advance(clock, registry, 100)
    assert recorder.keys == ["U2"]
    assert registry.cancel("U2") is False  # already fired


async def test_many_timers_fire_in_deadline_order(
    clock: ManualClock, recorder: Recorder, registry: TimerRegistry[Ban]
) -> None:
    offsets = list(range(1, 201))
    random.Random(7).shuffle(offsets)
    for offset in offsets:
        registry.schedule(f"U{offset}", START + offset, Ban(f"U{offset}"))
    assert [e.deadline for e in registry.pending()] == [START + o for o in range(1, 201)]

    await advance(clock, registry, 1000)  # one jump over all deadlines
    assert recorder.keys == [f"U{o}" for o in range(1, 201)]
    # each fired when the clock reached its own deadline, not at the end of the jump
    assert [t for _, _, t in recorder.fired] == [START + o for o in range(1, 201)]


async def test_equal_deadlines_fire_in_scheduling_order(
    clock: ManualClock, recorder: Recorder, registry: TimerRegistry[Ban]
) -> None:
    for name in ["c", "a", "d", "b"]:
        registry.schedule(name, START + 5, Ban(name))
    registry.schedule("a", START + 5, Ban("a"))  # replacing moves it to the back of the tie
    await advance(clock, registry, 5)
    assert recorder.keys == ["c", "d", "b", "a"]


async def test_more_due_than_concurrency_limit(clock: ManualClock, recorder: Recorder) -> None:
    reg: TimerRegistry[Ban] = TimerRegistry(clock, recorder, max_concurrent_fires=2)
    recorder.gate = asyncio.Event()
    for i in range(6):
        reg.schedule(f"U{i}", START + 1, Ban(f"U{i}"))
    reg.start()
    await clock.advance(1)
    assert recorder.keys == ["U0", "U1"]  # two slots, both blocked in the callback
    assert reg.in_flight == 2
    recorder.gate.set()
    await idle(reg)
    assert recorder.keys == [f"U{i}" for i in range(6)]
    await reg.stop()


async def test_earlier_timer_wakes_sleeping_runner(
    clock: ManualClock, recorder: Recorder, registry: TimerRegistry[Ban]
) -> None:
    registry.schedule("late", START + 100, Ban("late"))
    await advance(clock, registry, 1)  # the runner now sleeps towards START + 100
    assert clock.pending_sleepers == 1

    registry.schedule("early", START + 10, Ban("early"))
    await advance(clock, registry, 9)
    assert recorder.fired == [("early", Ban("early"), START + 10)]

    await advance(clock, registry, 90)
    assert recorder.keys == ["early", "late"]


async def test_later_timer_does_not_wake_runner(
    clock: ManualClock, recorder: Recorder, registry: TimerRegistry[Ban]
) -> None:
    registry.schedule("first", START + 10, Ban("first"))
    await advance(clock, registry, 0)
    sleeps = len(clock.slept)
    registry.schedule("second", START + 50, Ban("second"))
    await advance(clock, registry, 0)
    assert len(clock.slept) == sleeps  # still the same sleep towards START + 10
    await advance(clock, registry, 50)
    assert recorder.keys == ["first", "second"]


async def test_failing_callback_retries_with_backoff_then_stops(clock: ManualClock) -> None:
    recorder = Recorder(clock, failures_left={"U1": 2})
    failures: list[tuple[str, str, int]] = []
    reg: TimerRegistry[Ban] = TimerRegistry(
        clock,
        recorder,
        retry_base=5.0,
        retry_cap=300.0,
        jitter=0.1,
        on_failure=lambda key, payload, exc, attempt: failures.append((key, str(exc), attempt)),
    )
    reg.start()
    reg.schedule("U1", START + 10, Ban("U1"))

    await advance(clock, reg, 10)
    assert failures == [("U1", "slack is down for U1", 1)]
    retry = reg.get("U1")
    assert retry is not None and retry.attempts == 1 and retry.payload == Ban("U1")
    assert START + 10 + 4.5 <= retry.deadline <= START + 15  # 5 s, up to 10 % shorter

    await advance(clock, reg, 4.4)
    assert len(recorder.fired) == 1
    await advance(clock, reg, 0.6)  # now at START + 15: the first retry is due
    assert len(recorder.fired) == 2
    assert [a for _, _, a in failures] == [1, 2]
    retry = reg.get("U1")
    assert retry is not None and retry.attempts == 2
    second_failed_at = recorder.fired[1][2]
    assert second_failed_at + 9.0 <= retry.deadline <= second_failed_at + 10.0  # 2 × 5 s

    await advance(clock, reg, 10)
    assert len(recorder.fired) == 3  # third attempt succeeds
    assert [a for _, _, a in failures] == [1, 2]
    assert len(reg) == 0
    await advance(clock, reg, 1000)
    assert len(recorder.fired) == 3
    await reg.stop()


async def test_failure_is_logged_with_key_not_payload(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(clock, failures_left={"U9": 1})
    reg: TimerRegistry[Ban] = TimerRegistry(clock, recorder)
    reg.start()
    reg.schedule("U9", START + 1, Ban("U9", reason="secret-reason"))
    with caplog.at_level(logging.ERROR, logger="callmod.timers"):
        await advance(clock, reg, 1)
    records = [r for r in caplog.records if r.name == "callmod.timers"]
    assert len(records) == 1
    assert "U9" in records[0].getMessage()
    assert "secret-reason" not in records[0].getMessage()
    assert records[0].exc_info is not None
    await reg.stop()


def test_backoff_delay_doubles_and_caps() -> None:
    assert [backoff_delay(n, 5.0, 300.0, 0.0, 0.5) for n in range(1, 9)] == [
        5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0,
    ]  # fmt: skip
    assert backoff_delay(10_000, 5.0, 300.0, 0.0, 0.0) == 300.0
    assert backoff_delay(1, 5.0, 300.0, 0.2, 0.5) == pytest.approx(4.5)
    assert backoff_delay(9, 5.0, 300.0, 0.2, 0.999) >= 240.0


@pytest.mark.parametrize("action", ["reschedule", "cancel"])
async def test_newer_state_wins_over_retry_of_failing_fire(
    clock: ManualClock, action: str
) -> None:
    recorder = Recorder(clock, failures_left={"U1": 1}, gate=asyncio.Event())
    failures: list[int] = []
    reg: TimerRegistry[Ban] = TimerRegistry(
        clock, recorder, on_failure=lambda key, payload, exc, attempt: failures.append(attempt)
    )
    reg.start()
    reg.schedule("U1", START + 10, Ban("U1", "old"))
    await clock.advance(10)
    assert recorder.keys == ["U1"] and reg.in_flight == 1  # fire blocked in the callback

    if action == "reschedule":
        reg.schedule("U1", START + 100, Ban("U1", "new"))
    else:
        assert reg.cancel("U1") is False  # nothing pending, but the retry is called off

    assert recorder.gate is not None
    recorder.gate.set()
    await idle(reg)
    assert failures == [1]  # the failure is still reported
    if action == "reschedule":
        entry = reg.get("U1")
        assert entry is not None
        assert (entry.deadline, entry.payload.reason, entry.attempts) == (START + 100, "new", 0)
    else:
        assert "U1" not in reg

    await advance(clock, reg, 1000)
    expected = ["old", "new"] if action == "reschedule" else ["old"]
    assert [payload.reason for _, payload, _ in recorder.fired] == expected
    await reg.stop()


async def test_schedule_during_successful_fire_stands_on_its_own(clock: ManualClock) -> None:
    recorder = Recorder(clock, gate=asyncio.Event())
    reg: TimerRegistry[Ban] = TimerRegistry(clock, recorder)
    reg.start()
    reg.schedule("U1", START + 1, Ban("U1", "first"))
    await clock.advance(1)
    reg.schedule("U1", START + 2, Ban("U1", "second"))
    await clock.advance(1)
    assert recorder.gate is not None
    recorder.gate.set()
    await idle(reg)
    assert [payload.reason for _, payload, _ in recorder.fired] == ["first", "second"]
    assert len(reg) == 0
    await reg.stop()


async def test_stop_waits_for_in_flight_fire(clock: ManualClock) -> None:
    finished: list[str] = []
    gate = asyncio.Event()

    async def slow(key: str, payload: Ban) -> None:
        await gate.wait()
        finished.append(key)

    reg: TimerRegistry[Ban] = TimerRegistry(clock, slow)
    reg.start()
    reg.schedule("U1", START + 1, Ban("U1"))
    reg.schedule("U2", START + 50, Ban("U2"))
    await clock.advance(1)
    assert reg.in_flight == 1

    stopping = asyncio.create_task(reg.stop())
    for _ in range(10):
        await asyncio.sleep(0)
    assert not stopping.done()  # held by the in-flight fire, which was not cancelled
    gate.set()
    await stopping
    assert finished == ["U1"]

    await clock.advance(100)  # runner is gone: U2 stays pending
    assert finished == ["U1"] and "U2" in reg
    reg.start()  # and a restart picks it up
    await clock.advance(0)
    await idle(reg)
    assert finished == ["U1", "U2"]
    await reg.stop()


async def test_cancelling_stop_does_not_cancel_fire(clock: ManualClock) -> None:
    finished: list[str] = []
    gate = asyncio.Event()

    async def slow(key: str, payload: Ban) -> None:
        await gate.wait()
        finished.append(key)

    reg: TimerRegistry[Ban] = TimerRegistry(clock, slow)
    reg.start()
    reg.schedule("U1", START + 1, Ban("U1"))
    await clock.advance(1)
    stopping = asyncio.create_task(reg.stop())
    await asyncio.sleep(0)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    gate.set()
    await idle(reg)
    assert finished == ["U1"]


async def test_heap_stays_bounded_under_churn(
    clock: ManualClock, recorder: Recorder, registry: TimerRegistry[Ban]
) -> None:
    rng = random.Random(1)
    keys = [f"U{i}" for i in range(500)]
    for key in keys:
        registry.schedule(key, START + 1000 + rng.random() * 1000, Ban(key))
    max_heap = 0
    for _ in range(20_000):
        key = rng.choice(keys)
        if rng.random() < 0.5:
            registry.schedule(key, START + 1000 + rng.random() * 1000, Ban(key))
        else:
            registry.cancel(key)
        max_heap = max(max_heap, registry.heap_size)
        assert registry.heap_size <= 2 * len(registry) + 65
    assert max_heap > len(keys)  # dead entries did accumulate before being compacted away

    live = {e.key: e.deadline for e in registry.pending()}
    await advance(clock, registry, 3000)
    assert recorder.keys == sorted(live, key=lambda k: live[k])


async def test_schedule_before_start(clock: ManualClock, recorder: Recorder) -> None:
    reg: TimerRegistry[Ban] = TimerRegistry(clock, recorder)
    reg.schedule("U1", START + 5, Ban("U1"))
    await clock.advance(10)
    assert recorder.fired == []
    reg.start()
    reg.start()  # idempotent: still one runner
    await advance(clock, reg, 0)
    assert recorder.keys == ["U1"]
    await reg.stop()


async def test_past_deadline_fires_on_start_and_on_advance_zero(
    clock: ManualClock, recorder: Recorder
) -> None:
    reg: TimerRegistry[Ban] = TimerRegistry(clock, recorder)
    reg.schedule("past", START - 3600, Ban("past"))
    reg.start()
    await advance(clock, reg, 0)
    assert recorder.keys == ["past"]

    reg.schedule("now", START, Ban("now"))
    await advance(clock, reg, 0)
    assert recorder.keys == ["past", "now"]
    await reg.stop()


async def test_rejects_non_finite_deadline(registry: TimerRegistry[Ban]) -> None:
    with pytest.raises(ValueError):
        registry.schedule("U1", float("nan"), Ban("U1"))
    assert len(registry) == 0


async def test_runner_crash_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenClock(ManualClock):
        async def sleep(self, seconds: float) -> None:
            raise OSError("clock broke")

    clock = BrokenClock(START)
    reg: TimerRegistry[Ban] = TimerRegistry(clock, Recorder(clock))
    reg.schedule("U1", START + 5, Ban("U1"))
    with caplog.at_level(logging.ERROR, logger="callmod.timers"):
        reg.start()
        for _ in range(5):
            await asyncio.sleep(0)
    assert any(
        r.name == "callmod.timers" and r.exc_info and "clock broke" in str(r.exc_info[1])
        for r in caplog.records
    )
    await reg.stop()


# -- property: the registry agrees with a dict-and-sort model ---------------------------------

KEYS = ["a", "b", "c", "d", "e"]
operations = st.lists(
    st.one_of(
        st.tuples(st.just("schedule"), st.sampled_from(KEYS), st.integers(-5, 40)),
        st.tuples(st.just("cancel"), st.sampled_from(KEYS), st.just(0)),
        st.tuples(st.just("advance"), st.just(""), st.integers(0, 25)),
    ),
    max_size=40,
)


async def _run_against_model(ops: list[tuple[str, str, int]]) -> None:
    clock = ManualClock(START)
    fired: list[tuple[str, int, float]] = []

    async def on_expire(key: str, payload: int) -> None:
        fired.append((key, payload, clock.time()))

    reg: TimerRegistry[int] = TimerRegistry(clock, on_expire)
    reg.start()
    model: dict[str, tuple[float, int, int]] = {}  # key -> (deadline, seq, payload)
    expected: list[tuple[str, int, float]] = []
    for seq, (op, key, arg) in enumerate(ops):
        if op == "schedule":
            deadline = clock.time() + arg
            reg.schedule(key, deadline, seq)
            model[key] = (deadline, seq, seq)
        elif op == "cancel":
            assert reg.cancel(key) == (model.pop(key, None) is not None)
        else:
            before, now = clock.time(), clock.time() + arg
            due = sorted((d, s, k, p) for k, (d, s, p) in model.items() if d <= now)
            for d, _, k, p in due:
                expected.append((k, p, max(d, before)))  # overdue ones fire at once
                del model[k]
            await advance(clock, reg, arg)
        assert fired == expected
        assert [(e.key, e.deadline) for e in reg.pending()] == [
            (k, d) for k, (d, _, _) in sorted(model.items(), key=lambda kv: kv[1])
        ]
    await reg.stop()


@settings(max_examples=150, deadline=None)
@given(operations)
def test_matches_reference_model(ops: list[tuple[str, str, int]]) -> None:
    asyncio.run(_run_against_model(ops))
