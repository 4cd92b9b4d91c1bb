"""Ack latency: how long Slack waits for the HTTP answer to a signed `/kick`, with callmod busy.

Run: `python -m benchmarks.ack [--quick]`. callmod (the full `Callmod`, with the Stream emulator
and the fake Slack in a backend process) and a bare Bolt app whose `/kick` only acks are each
served in their own process; this process is the load generator. Each side gets a warm-up (the
first request makes Bolt call auth.test; a full burst opens the keep-alive pool), then `ROUNDS`
bursts of `BURST` concurrent requests back to back: from the second burst on, callmod is still
kicking, auditing and replying for the previous one, which is the case users feel — how long
does the next ack wait while callmod works on earlier commands? Latency is send → HTTP answer.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from dataclasses import dataclass

import aiohttp

from benchmarks.backend import BENCH_CALL, target
from benchmarks.load import (
    Signed,
    backend_child,
    collector_paused,
    pool,
    post,
    server_child,
    slash,
)
from benchmarks.procs import Child, Info, Placement, pinned, placement
from benchmarks.report import Row, format_table, percentile, row
from benchmarks.servers import Kind, ServerConfig

BURST = 200
ROUNDS = 5
REPEATS = 3  # whole measurements per side, alternating; the median repeat is reported
QUICK_BURST = 20
QUICK_ROUNDS = 2
RATIO_GOAL = 1.25
ABSOLUTE_GOAL_MS = 3000.0

NOTES = (
    f"Ack latency: {ROUNDS} back-to-back bursts of {BURST} concurrent signed /kick requests per "
    f"side, repeated {REPEATS}× alternating sides (median repeat reported), over a persistent "
    "keep-alive pool (opened in the warm-up); time from send to the HTTP answer, measured in the "
    "load-generator process. Baseline: bare Bolt AsyncApp, /kick acks only."
)


class BenchmarkError(RuntimeError):
    pass


@dataclass(frozen=True)
class AckRun:
    latencies: list[float]  # seconds
    drain: float  # seconds from the last ack until the server had finished all post-ack work
    responses: int  # response_url posts the fake Slack received during the measured rounds
    failed: int  # of those, refused posts and replies saying the command failed


async def _timed(session: aiohttp.ClientSession, url: str, request: Signed) -> tuple[float, int]:
    started = time.perf_counter()
    status = await post(session, url, request)
    return time.perf_counter() - started, status


def kick_burst(label: str, size: int, secret: str, slack_base: str) -> list[Signed]:
    """`size` signed `/kick` requests, each with its own response_url (`label`-i), for a burst."""
    return [
        slash(
            "/kick",
            f"{target(i)} {BENCH_CALL}",
            response_url=f"{slack_base}/response/{label}-{i}",
            signing_secret=secret,
        )
        for i in range(size)
    ]


async def _burst(
    session: aiohttp.ClientSession, url: str, requests: list[Signed]
) -> list[float]:
    results = await asyncio.gather(*(_timed(session, url, r) for r in requests))
    refused = [status for _, status in results if status != 200]
    if refused:
        raise BenchmarkError(f"{len(refused)} acks were not HTTP 200 (e.g. {refused[0]})")
    return [seconds for seconds, _ in results]


async def measure(
    kind: Kind, backend: Child, place: Placement, *, burst: int, rounds: int
) -> AckRun:
    secret = secrets.token_hex(16)
    slack_base = str(backend.info["slack_base_url"])
    config = ServerConfig(kind, secret, backend.info)
    async with server_child(config, place.server) as server, pool() as session:
        url = str(server.info["events_url"])
        # Warm-up: one request first (Bolt's auth.test), then a whole burst to open the pool.
        await _burst(session, url, kick_burst(f"warm-{kind}", 1, secret, slack_base))
        await _burst(session, url, kick_burst(f"warmer-{kind}", burst, secret, slack_base))
        await server.request("idle")
        await backend.request("reset")
        latencies: list[float] = []
        with collector_paused():
            for r in range(rounds):
                requests = kick_burst(f"ack-{kind}-{r}", burst, secret, slack_base)
                latencies += await _burst(session, url, requests)
        last_ack = time.perf_counter()
        await server.request("idle")
        drain = time.perf_counter() - last_ack
        counts: Info = await backend.request("reset")
    return AckRun(latencies, drain, int(counts["responses"]), int(counts["failed_replies"]))


async def _run(quick: bool) -> list[Row]:
    burst, rounds = (QUICK_BURST, QUICK_ROUNDS) if quick else (BURST, ROUNDS)
    repeats = 1 if quick else REPEATS
    place = placement()
    backend, _ = backend_child(burst, place.others)
    bare_runs: list[AckRun] = []
    our_runs: list[AckRun] = []
    with pinned(place.others):
        async with backend:
            # A B B A A B …: drift in the machine's load hits both sides alike.
            for repeat in range(repeats):
                order: tuple[Kind, Kind] = ("bare-noop", "callmod")
                for kind in order if repeat % 2 == 0 else order[::-1]:
                    run = await measure(kind, backend, place, burst=burst, rounds=rounds)
                    (bare_runs if kind == "bare-noop" else our_runs).append(run)
    for ours in our_runs:
        if ours.responses != burst * rounds:
            raise BenchmarkError(
                f"callmod replied to {ours.responses} of {burst * rounds} commands; the acks "
                "measured something other than the full /kick"
            )
    return _rows(_median_run(our_runs), _median_run(bare_runs), burst, rounds * repeats)


def _median_run(runs: list[AckRun]) -> AckRun:
    """The repeat whose p99 is the median of the repeats' p99s (the failures of all repeats)."""
    ranked = sorted(runs, key=lambda run: percentile(run.latencies, 99))
    middle = ranked[len(ranked) // 2]
    return AckRun(
        middle.latencies,
        middle.drain,
        sum(run.responses for run in runs),
        sum(run.failed for run in runs),
    )


def _rows(ours: AckRun, bare: AckRun, burst: int, rounds: int) -> list[Row]:
    def ms(samples: list[float], pct: int) -> float:
        return percentile(samples, pct) * 1e3

    p99, base99 = ms(ours.latencies, 99), ms(bare.latencies, 99)
    return [
        row("ack p50", burst, ms(ours.latencies, 50), ms(bare.latencies, 50), "ms"),
        row(
            "ack p99",
            burst,
            p99,
            base99,
            "ms",
            goal=f"≤ {RATIO_GOAL:g}× baseline, < {ABSOLUTE_GOAL_MS / 1e3:g} s",
            met=p99 <= RATIO_GOAL * base99 and p99 < ABSOLUTE_GOAL_MS,
        ),
        row("ack max", burst, max(ours.latencies) * 1e3, max(bare.latencies) * 1e3, "ms"),
        # The bare app does nothing after its ack: there is no drain to compare with.
        row("post-ack drain", burst, ours.drain * 1e3, None, "ms"),
        row(
            "failed /kick replies",
            burst,
            float(ours.failed),
            None,
            f"of {burst * rounds}",
            goal="0",
            met=ours.failed == 0,
        ),
    ]


def run(quick: bool = False) -> list[Row]:
    return asyncio.run(_run(quick))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ack")
    parser.add_argument("--quick", action="store_true", help="small bursts, for a smoke run")
    args = parser.parse_args()
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
