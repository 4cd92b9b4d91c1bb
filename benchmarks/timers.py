"""Timer registry cost against bare `loop.call_at` handles, measured side by side in one process.

Run: `python -m benchmarks.timers`. Memory is traced with tracemalloc (keys and ban-record
payloads included on both sides); schedule/cancel cost is wall time per operation on a registry
already holding n timers; lateness is fire time minus deadline for ~500 timers due within about a
second while 100k others are pending.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.util.clock import SystemClock
from bot.util.timers import TimerRegistry

Row = dict[str, object]

FAR_FUTURE = 3600.0
OPS_PER_MEASUREMENT = 30_000
LATENESS_PENDING = 100_000
LATENESS_DUE = 500
LATENESS_SPREAD = 1.0
LATENESS_LEAD = 0.2


@dataclass(slots=True)
class BanRecord:
    user_id: str
    banned_by: str
    reason: str
    created_at: float
    expires_at: float


async def _ignore(key: str, payload: BanRecord) -> None:
    return None


def _noop(*args: object) -> None:
    return None


def _key(i: int) -> str:
    return f"U{i:09d}"


def _ban(key: str, now: float, expires: float) -> BanRecord:
    return BanRecord(key, "U0MODERATOR", "spam", now, expires)


def _row(name: str, n: int, value: float, baseline: float, unit: str, goal: float | None) -> Row:
    return {
        "name": name,
        "n": n,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "ratio": value / baseline if baseline else float("nan"),
        "goal": None if goal is None else f"≤ {goal:g} {unit}",
        "met": None if goal is None else value <= goal,
    }


# -- memory -----


def _traced_bytes(build: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return float(after - before)


async def _memory_rows(n: int) -> list[Row]:
    loop = asyncio.get_running_loop()
    clock = SystemClock()
    rng = random.Random(n)
    offsets = [FAR_FUTURE + rng.random() * FAR_FUTURE for _ in range(n)]

    def build_registry() -> object:
        registry: TimerRegistry[BanRecord] = TimerRegistry(clock, _ignore)
        now = clock.time()
        for i, offset in enumerate(offsets):
            key = _key(i)
            registry.schedule(key, now + offset, _ban(key, now, now + offset))
        return registry

    def build_handles() -> object:
        # A keyed dict is what a call_at-based registry needs to cancel by user id.
        handles: dict[str, asyncio.TimerHandle] = {}
        now, wall = loop.time(), clock.time()
        for i, offset in enumerate(offsets):
            key = _key(i)
            handles[key] = loop.call_at(now + offset, _noop, key, _ban(key, wall, wall + offset))
        return handles

    ours = _traced_bytes(build_registry)
    theirs = _traced_bytes(build_handles)
    _drop_cancelled_handles(loop)
    goal = 50.0 if n >= 100_000 else None
    return [_row("memory", n, ours / 1e6, theirs / 1e6, "MB", goal)]


def _drop_cancelled_handles(loop: asyncio.AbstractEventLoop) -> None:
    # The handles built for a measurement are unreferenced now but still sit in the loop's timer
    # heap; clear them so they do not slow the next measurement.
    scheduled = getattr(loop, "_scheduled", None)
    if isinstance(scheduled, list):
        for handle in scheduled:
            handle.cancel()
        scheduled.clear()
    gc.collect()


# -- cost per operation -----


async def _cost_rows(n: int) -> list[Row]:
    loop = asyncio.get_running_loop()
    clock = SystemClock()
    rng = random.Random(n + 1)
    batch = min(n, 10_000)
    rounds = max(1, OPS_PER_MEASUREMENT // batch)
    prefill = [FAR_FUTURE + rng.random() * FAR_FUTURE for _ in range(n)]
    extra_keys = [f"X{i:09d}" for i in range(batch)]
    extra_offsets = [FAR_FUTURE + rng.random() * FAR_FUTURE for _ in range(batch)]

    # callmod
    registry: TimerRegistry[BanRecord] = TimerRegistry(clock, _ignore)
    registry.start()
    now = clock.time()
    for i, offset in enumerate(prefill):
        registry.schedule(_key(i), now + offset, _ban(_key(i), now, now + offset))
    bans = [_ban(k, now, now + o) for k, o in zip(extra_keys, extra_offsets, strict=True)]
    deadlines = [now + o for o in extra_offsets]
    replace_keys = [_key(rng.randrange(n)) for _ in range(batch)]
    t_schedule: list[float] = []
    t_cancel: list[float] = []
    t_replace: list[float] = []
    gc.collect()
    for _ in range(rounds):
        start = time.perf_counter()
        for key, deadline, ban in zip(extra_keys, deadlines, bans, strict=True):
            registry.schedule(key, deadline, ban)
        t_schedule.append(time.perf_counter() - start)
        start = time.perf_counter()
        for key in extra_keys:
            registry.cancel(key)
        t_cancel.append(time.perf_counter() - start)
        start = time.perf_counter()
        for key, deadline, ban in zip(replace_keys, deadlines, bans, strict=True):
            registry.schedule(key, deadline, ban)
        t_replace.append(time.perf_counter() - start)
    await registry.stop()
    del registry

    # baseline: call_at handles in a dict keyed by user id
    handles: dict[str, asyncio.TimerHandle] = {}
    lnow = loop.time()
    for i, offset in enumerate(prefill):
        handles[_key(i)] = loop.call_at(lnow + offset, _noop, _key(i), None)
    when = [lnow + o for o in extra_offsets]
    b_schedule: list[float] = []
    b_cancel: list[float] = []
    b_replace: list[float] = []
    gc.collect()
    for _ in range(rounds):
        start = time.perf_counter()
        for key, at, ban in zip(extra_keys, when, bans, strict=True):
            handles[key] = loop.call_at(at, _noop, key, ban)
        b_schedule.append(time.perf_counter() - start)
        start = time.perf_counter()
        for key in extra_keys:
            handles.pop(key).cancel()
        b_cancel.append(time.perf_counter() - start)
        start = time.perf_counter()
        for key, at, ban in zip(replace_keys, when, bans, strict=True):
            handles[key].cancel()
            handles[key] = loop.call_at(at, _noop, key, ban)
        b_replace.append(time.perf_counter() - start)
    del handles
    _drop_cancelled_handles(loop)

    def per_op(seconds: list[float]) -> float:
        return statistics.median(seconds) / batch * 1e6  # median round: robust to a stray GC pass

    return [
        _row(name, n, per_op(ours), per_op(theirs), "µs/op", 20.0)
        for name, ours, theirs in (
            ("schedule", t_schedule, b_schedule),
            ("cancel", t_cancel, b_cancel),
            ("replace", t_replace, b_replace),
        )
    ]


# -- lateness -----


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def _registry_lateness() -> list[float]:
    clock = SystemClock()
    lateness: list[float] = []
    done = asyncio.Event()

    async def record(key: str, payload: BanRecord) -> None:
        lateness.append(clock.time() - payload.expires_at)
        if len(lateness) == LATENESS_DUE:
            done.set()

    registry: TimerRegistry[BanRecord] = TimerRegistry(clock, record)
    now = clock.time()
    for i in range(LATENESS_PENDING):
        key = _key(i)
        registry.schedule(key, now + FAR_FUTURE + i, _ban(key, now, now + FAR_FUTURE + i))
    registry.start()
    now = clock.time()
    for i in range(LATENESS_DUE):
        key, deadline = f"D{i}", now + LATENESS_LEAD + i * LATENESS_SPREAD / LATENESS_DUE
        registry.schedule(key, deadline, _ban(key, now, deadline))
    await asyncio.wait_for(done.wait(), timeout=10)
    await registry.stop()
    return lateness


async def _call_at_lateness() -> list[float]:
    loop = asyncio.get_running_loop()
    lateness: list[float] = []
    done = asyncio.Event()

    def record(when: float) -> None:
        lateness.append(loop.time() - when)
        if len(lateness) == LATENESS_DUE:
            done.set()

    now = loop.time()
    far = [loop.call_at(now + FAR_FUTURE + i, _noop) for i in range(LATENESS_PENDING)]
    now = loop.time()
    for i in range(LATENESS_DUE):
        when = now + LATENESS_LEAD + i * LATENESS_SPREAD / LATENESS_DUE
        loop.call_at(when, record, when)
    await asyncio.wait_for(done.wait(), timeout=10)
    for handle in far:
        handle.cancel()
    _drop_cancelled_handles(loop)
    return lateness


async def _lateness_rows() -> list[Row]:
    ours_p50, ours_p99 = _percentiles(await _registry_lateness())
    base_p50, base_p99 = _percentiles(await _call_at_lateness())
    n = LATENESS_PENDING
    return [
        _row("lateness p50", n, ours_p50 * 1e3, base_p50 * 1e3, "ms", None),
        _row("lateness p99", n, ours_p99 * 1e3, base_p99 * 1e3, "ms", 50.0),
    ]


# -- entry points -----


async def _run(sizes: Sequence[int]) -> list[Row]:
    rows: list[Row] = []
    for n in sizes:
        rows += await _memory_rows(n)
    for n in sizes:
        rows += await _cost_rows(n)
    rows += await _lateness_rows()
    return rows


def run(sizes: Sequence[int] = (1_000, 10_000, 100_000)) -> list[Row]:
    return asyncio.run(_run(sizes))


def format_table(rows: Sequence[Row]) -> str:
    header = ("metric", "n", "callmod", "baseline", "ratio", "goal")
    lines = [header]
    for row in rows:
        unit = row["unit"]
        goal = row["goal"]
        met = row["met"]
        verdict = "" if goal is None else f"{goal} {'ok' if met else 'MISSED'}"
        lines.append(
            (
                str(row["name"]),
                f"{row['n']:,}",
                f"{row['value']:.3g} {unit}",
                f"{row['baseline']:.3g} {unit}",
                f"{row['ratio']:.2f}×",
                verdict,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    rendered = [
        " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    rendered.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(rendered)


def main() -> None:
    started = time.perf_counter()
    print(format_table(run()))
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
