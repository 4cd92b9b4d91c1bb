"""`/roster` on a 100-person call: signed slash command → Stream emulator (20 ms added to every
request) → response_url reply, against `/roster` on a 1-person call as the baseline.

Run: `python -m benchmarks.roster [--quick]`. Two phases: one moderator alone (the issue's goal:
how long one `/roster` takes to answer), then five moderators at once (for information). In both,
each moderator is a closed loop alternating the two commands (100-person call, then 1-person
call), so load and drift hit both sides alike. Latency runs from sending the request (this
process) to the fake Slack receiving the reply (backend process; both read the system-wide
monotonic clock): the ack and the reply.

One `/roster` is four Stream requests (the participants query, then the three track queries at
once), so the 20 ms floor is about 40 ms whatever the call's size; the ratio is what 100 people
cost beyond that: reading 100 participants, sorting, and drawing the 50-block page. A reply the
fake Slack refused (over a Block Kit limit) or that is not a roster counts as failed.

The server (full callmod, `benchmarks.servers.CallmodServer`), the backend (emulator + fake
Slack) and this load generator each run in their own process (DESIGN.md §7).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import secrets
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import aiohttp

from benchmarks.backend import Backend
from benchmarks.load import Arrivals, pool, post, server_child, slash
from benchmarks.procs import Child, Info, pinned, placement, run_child
from benchmarks.report import Row, format_table, percentile, row
from benchmarks.servers import ServerConfig

BIG_CALL = "default:roster-100"
SOLO_CALL = "default:roster-1"
PEOPLE = 100
STREAM_LATENCY = 0.020  # seconds added to every Stream request (issue 13)
ALONE_ROUNDS = 100  # one moderator: 100 of each command
CROWD = 5  # then five moderators at once
CROWD_ROUNDS = 20  # each: 20 of each command
QUICK_ALONE_ROUNDS = 4
QUICK_CROWD_ROUNDS = 2
WARM_ROUNDS = 2
REPLY_TIMEOUT = 30.0
P99_GOAL_MS = 1000.0

NOTES = (
    f"Roster: one moderator, {ALONE_ROUNDS} rounds of `/roster` on a {PEOPLE}-person call then "
    f"on a 1-person call (the baseline); then {CROWD} moderators at once, {CROWD_ROUNDS} rounds "
    f"each; the emulator adds {STREAM_LATENCY * 1e3:g} ms to every Stream request; latency from "
    "sending the request to the fake Slack receiving the reply (ack + reply). Goal (issue 13): "
    "p99 ≤ 1 s for one moderator's /roster."
)


class RosterBackend(Backend):
    """The benchmark backend with the two calls and Stream's added latency."""

    async def start(self) -> Info:
        info = await super().start()
        people = [f"person-{i:03d}" for i in range(PEOPLE)]
        for i, person in enumerate(people):
            self.emulator.add_user(person, f"Person {i} <*{i}*>")
        self.emulator.add_call(BIG_CALL, members=people)
        for i, person in enumerate(people):
            tracks = ["audio", "video"] if i % 3 == 0 else ["audio"] if i % 3 == 1 else []
            if tracks:
                self.emulator.state.publish(BIG_CALL, person, tracks)
        self.emulator.add_call(SOLO_CALL, members=["solo-000"])
        self.emulator.faults.latency(STREAM_LATENCY, times=None)
        return info


def backend_main(conn: Connection, arrivals: Connection, cpus: frozenset[int] | None) -> None:
    run_child(conn, RosterBackend(0, arrivals), cpus)


def roster_backend(cpus: frozenset[int] | None) -> tuple[Child, Arrivals]:
    reader, writer = multiprocessing.get_context("spawn").Pipe(duplex=False)
    return Child("backend", backend_main, writer, cpus), Arrivals(reader)


@dataclass
class Side:
    call: str
    latencies: list[float] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    session: aiohttp.ClientSession
    url: str
    secret: str
    slack_base: str
    arrivals: Arrivals


async def _one(to: Target, side: Side, key: str) -> None:
    request = slash(
        "/roster",
        side.call,
        response_url=f"{to.slack_base}/response/{key}",
        signing_secret=to.secret,
    )
    sent = time.monotonic()
    status = await post(to.session, to.url, request)
    side.acks.append(time.monotonic() - sent)
    if status != 200:
        side.failures.append(f"ack HTTP {status}")
        return
    async with asyncio.timeout(REPLY_TIMEOUT):
        arrival = await to.arrivals.wait(key)
    side.latencies.append(arrival.at - sent)
    if arrival.status != 200 or not arrival.text.startswith("*Who is in"):
        side.failures.append(f"{arrival.status}: {arrival.text[:120]}")


async def _moderator(to: Target, m: int, rounds: int, label: str, sides: list[Side]) -> None:
    """Closed loop: each round one /roster of every side, in turn."""
    for r in range(rounds):
        for side in sides:
            await _one(to, side, f"{label}-{m}-{r}-{side.call}")


@dataclass
class Phase:
    moderators: int
    big: Side = field(default_factory=lambda: Side(BIG_CALL))
    solo: Side = field(default_factory=lambda: Side(SOLO_CALL))


async def _phase(to: Target, phase: Phase, rounds: int, label: str) -> Phase:
    async with asyncio.TaskGroup() as group:
        for m in range(phase.moderators):
            group.create_task(_moderator(to, m, rounds, label, [phase.big, phase.solo]))
    return phase


async def measure(quick: bool) -> tuple[Phase, Phase]:
    """(one moderator alone, `CROWD` moderators at once)."""
    alone_rounds, crowd_rounds = (
        (QUICK_ALONE_ROUNDS, QUICK_CROWD_ROUNDS) if quick else (ALONE_ROUNDS, CROWD_ROUNDS)
    )
    place = placement()
    backend, arrivals = roster_backend(place.others)
    with pinned(place.others):
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(backend)
            await backend.request("push", on=True)
            arrivals.attach()
            stack.callback(arrivals.detach)
            secret = secrets.token_hex(16)
            config = ServerConfig("callmod", secret, backend.info)
            server = await stack.enter_async_context(server_child(config, place.server))
            session = await stack.enter_async_context(pool())
            to = Target(
                session,
                str(server.info["events_url"]),
                secret,
                str(backend.info["slack_base_url"]),
                arrivals,
            )
            await _phase(to, Phase(CROWD), WARM_ROUNDS, "warm")
            alone = await _phase(to, Phase(1), alone_rounds, "alone")
            crowd = await _phase(to, Phase(CROWD), crowd_rounds, "crowd")
            await server.request("idle")
    return alone, crowd


def rows(alone: Phase, crowd: Phase) -> list[Row]:
    big, solo = alone.big, alone.solo
    n, n_crowd = len(big.latencies), len(crowd.big.latencies)
    p50, p99 = (percentile(big.latencies, pct) * 1e3 for pct in (50, 99))
    base50, base99 = (percentile(solo.latencies, pct) * 1e3 for pct in (50, 99))
    crowd99, crowd_base99 = (
        percentile(side.latencies, 99) * 1e3 for side in (crowd.big, crowd.solo)
    )
    ack99, base_ack99 = (percentile(side.acks, 99) * 1e3 for side in (big, solo))
    failures = [f for p in (alone, crowd) for side in (p.big, p.solo) for f in side.failures]
    return [
        row("/roster 100 p50", n, p50, base50, "ms"),
        row(
            "/roster 100 p99",
            n,
            p99,
            base99,
            "ms",
            goal=f"≤ {P99_GOAL_MS:g} ms",
            met=p99 <= P99_GOAL_MS,
        ),
        row("/roster 100 ack p99", n, ack99, base_ack99, "ms"),
        row(f"/roster 100 p99, {CROWD} at once", n_crowd, crowd99, crowd_base99, "ms"),
        row(
            "/roster failed replies",
            2 * (n + n_crowd),
            float(len(failures)),
            None,
            f"of {2 * (n + n_crowd)}",
            goal="0",
            met=not failures,
        ),
    ]


def run(quick: bool = False) -> list[Row]:
    alone, crowd = asyncio.run(measure(quick))
    for side in (alone.big, alone.solo, crowd.big, crowd.solo):
        if not side.latencies:
            raise RuntimeError(f"no /roster {side.call} answered: {side.failures[:3]}")
    return rows(alone, crowd)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.roster")
    parser.add_argument("--quick", action="store_true", help="few commands, for a smoke run")
    args = parser.parse_args()
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
