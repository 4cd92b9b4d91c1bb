"""Several replicas (issue 16): callmod on Redis-backed shared state, one to three processes.

Run: `python -m benchmarks.replicas [--quick] [--part e2e|ack|all]`. A throwaway `redis-server`
is started on a free loopback port (no persistence; niced and pinned with the load generator and
the backend, as it would run on a host of its own in production); without `redis-server` on PATH
the Redis rows are reported as not run, with the reason. Every callmod process uses the same backend
process (Stream emulator + fake Slack) and the same SQLite case store file (one file shared by
the processes, as several replicas on one host would share it; PostgreSQL is the production
choice and is not what is measured here).

Part `e2e` (commands/s end to end; the cost of Redis per command). `benchmarks/e2e.py`'s load:
moderators in closed loops, `/kick --block` and `/unblock` of the moderator's own target, latency
from sending the request to the fake Slack receiving the response_url reply. Sides, all started
at once and loaded in turns (alternating order, as e2e.py does): callmod with in-process state,
one process pinned to the server CPU (the baseline of every row); one process on Redis, pinned
the same; two and three processes on Redis, not pinned (the kernel spreads them over both
cores, which they share with the load generator, the backend and Redis), the requests spread
round-robin over their addresses.

Part `ack` (how long Slack waits for the HTTP answer). `benchmarks/ack.py`'s bursts: `ROUNDS`
back-to-back bursts of `BURST` concurrent signed `/kick`, callmod still working on the previous
burst. Over a keep-alive pool: one callmod process on Redis and one with in-process state against
bare Bolt (ack only), all pinned to the server CPU. On new connections each (no keep-alive, as
Slack does not promise to reuse connections): bare Bolt (the floor), one callmod process
(in-process state), and two callmod processes on Redis accepting on one port (`REUSE_PORT`,
`SO_REUSEPORT`), one pinned to each core, then both pinned to the server core. Each side is
measured `REPEATS` times alternating with the others; the median repeat (by p99) is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import aiohttp

from benchmarks.ack import AckRun, BenchmarkError, kick_burst
from benchmarks.backend import BENCH_CALL, target
from benchmarks.e2e import E2ERun
from benchmarks.load import (
    Arrivals,
    Signed,
    backend_child,
    collector_paused,
    pool,
    post,
    server_child,
    slash,
)
from benchmarks.procs import Child, Placement, pinned, placement
from benchmarks.report import Row, format_table, percentile, row
from benchmarks.servers import BACKLOG, Kind, ServerConfig

MODERATORS = 50
COMMANDS_EACH = 40
CHUNK_EACH = 10
QUICK_MODERATORS = 6
QUICK_COMMANDS_EACH = 4
QUICK_CHUNK_EACH = 2
WARM_COMMANDS_EACH = 2
REPLY_TIMEOUT = 30.0

BURST = 200
ROUNDS = 5
REPEATS = 3
QUICK_BURST = 20
QUICK_ROUNDS = 1
QUICK_REPEATS = 1

REDIS_ACK_GOAL = 1.25  # ack p99 with Redis against the bare Bolt floor, as ack.py today
NEW_CONNECTIONS_GOAL = 1.10  # two processes, new connections each, against the bare floor

NOTES = (
    "Replicas (issue 16): callmod on Redis-backed shared state (a throwaway redis-server on "
    "loopback), one to three processes sharing one SQLite case store and one backend. e2e rows: "
    f"{MODERATORS} moderators in closed loops, {COMMANDS_EACH} commands each per side, requests "
    "spread round-robin over the replicas; baseline: one process with in-process state pinned to "
    "the server CPU, measured in turns with the others; one process on Redis pinned the same, "
    "two and three unpinned. Ack rows: bursts of "
    f"{BURST} signed /kick ({ROUNDS} back to back, {REPEATS} repeats alternating, median "
    "repeat), keep-alive (callmod on Redis and in-process) and new connections each; two "
    "processes share one port with REUSE_PORT "
    "(SO_REUSEPORT), one pinned to each core, and both pinned to the server core; baseline: "
    "bare Bolt that only acks, one process "
    "pinned to the server CPU."
)


# -- a throwaway Redis -----


# Redis shares the load generator's core here; in production it runs on its own host. Niced,
# its work for the replicas' earlier commands does not take CPU from the load generator or the
# replica on that core while acks are timed (two replicas one per core, new connections:
# per-burst p99 59-94 ms at the default priority, 56-76 ms niced; the bare floor 55-61 ms).
REDIS_NICENESS = 10


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(cpus: frozenset[int] | None) -> Iterator[str]:
    """A redis-server on a free loopback port, nothing persisted; yields its URL. Raises
    `RedisMissing` when there is no `redis-server` on PATH or it does not come up."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisMissing("redis-server is not on PATH")
    port = _free_port()
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    args += ["--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if cpus is not None and hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(process.pid, cpus)
        with contextlib.suppress(OSError):  # as the backend is niced (benchmarks/backend.py)
            os.setpriority(os.PRIO_PROCESS, process.pid, REDIS_NICENESS)
        deadline = time.monotonic() + 10
        while not _ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RedisMissing(f"redis-server did not start on 127.0.0.1:{port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RedisMissing(RuntimeError):
    pass


# -- replicas -----


@dataclass(frozen=True)
class Replicas:
    children: list[Child]
    urls: list[str]  # events URL of each process (the same URL when they share a port)

    async def idle(self) -> None:
        await asyncio.gather(*(child.request("idle") for child in self.children))


@contextlib.asynccontextmanager
async def replicas(
    backend: Child,
    secret: str,
    *,
    count: int,
    redis_url: str | None,
    cpus: Sequence[frozenset[int] | None],
    kind: Kind = "callmod",
    one_port: bool = False,
    one_socket: bool = False,
) -> AsyncIterator[Replicas]:
    """`count` server processes of `kind` (one_port: all on the port of the first, with
    REUSE_PORT; one_socket: all serving one listening socket made here, one accept queue);
    process i is pinned to cpus[i % len(cpus)]."""
    async with contextlib.AsyncExitStack() as stack:
        children: list[Child] = []
        urls: list[str] = []
        port = 0
        shared = stack.enter_context(_listening_socket()) if one_socket else None
        for i in range(count):
            config = ServerConfig(
                kind,
                secret,
                backend.info,
                redis_url=redis_url,
                port=port,
                reuse_port=one_port,
                sock=shared,
            )
            child = server_child(config, cpus[i % len(cpus)])
            child.name = f"{kind}-{i}"
            await stack.enter_async_context(child)
            url = str(child.info["events_url"])
            children.append(child)
            urls.append(url)
            if one_port:
                port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        yield Replicas(children, urls)


@contextlib.contextmanager
def _listening_socket() -> Iterator[socket.socket]:
    """A listening socket on a free loopback port, for several server processes to share."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(BACKLOG)
        sock.setblocking(False)
        yield sock


# -- part e2e: commands per second with 1, 2 and 3 processes -----


@dataclass(frozen=True)
class E2ESide:
    label: str
    count: int
    redis: bool
    pin: bool  # pinned to the server CPU (one process) or left to the kernel


E2E_SIDES = (
    E2ESide("in-process ×1", 1, False, True),
    E2ESide("redis ×1", 1, True, True),
    E2ESide("redis ×2", 2, True, False),
    E2ESide("redis ×3", 3, True, False),
)


def _command(moderator: int, j: int) -> tuple[str, str]:
    if j % 2 == 0:
        return "/kick", f"{target(moderator)} {BENCH_CALL} --block"
    return "/unblock", f"{target(moderator)} {BENCH_CALL}"


@dataclass
class Loaded:
    """A running side: its processes, where to send, and what it measured."""

    side: E2ESide
    servers: Replicas
    secret: str
    result: E2ERun = field(default_factory=E2ERun)
    turn: itertools.count[int] = field(default_factory=itertools.count)


async def _moderator(
    session: aiohttp.ClientSession,
    to: Loaded,
    arrivals: Arrivals,
    slack_base: str,
    moderator: int,
    commands: range,
    label: str,
    into: E2ERun,
) -> None:
    for j in commands:
        name, text = _command(moderator, j)
        key = f"{label}-{moderator}-{j}"
        request = slash(
            name, text, response_url=f"{slack_base}/response/{key}", signing_secret=to.secret
        )
        urls = to.servers.urls
        url = urls[next(to.turn) % len(urls)]  # round-robin over the replicas
        sent = time.monotonic()
        status = await post(session, url, request)
        if status != 200:
            into.failures.append(f"{name} {text}: ack HTTP {status}")
            continue
        async with asyncio.timeout(REPLY_TIMEOUT):
            arrival = await arrivals.wait(key)
        into.latencies.append(arrival.at - sent)
        if arrival.status != 200 or arrival.text.startswith(":x:"):
            into.failures.append(f"{name} {text}: {arrival.text[:120]}")


async def _turn(
    session: aiohttp.ClientSession,
    to: Loaded,
    backend: Child,
    arrivals: Arrivals,
    moderators: int,
    commands: range,
    label: str,
    into: E2ERun,
) -> None:
    slack_base = str(backend.info["slack_base_url"])
    started = time.monotonic()
    async with asyncio.TaskGroup() as group:
        for m in range(moderators):
            group.create_task(
                _moderator(session, to, arrivals, slack_base, m, commands, label, into)
            )
    into.seconds += time.monotonic() - started
    into.commands += moderators * len(commands)
    await to.servers.idle()
    await backend.request("reset")


async def measure_e2e(
    backend: Child,
    arrivals: Arrivals,
    place: Placement,
    redis_url: str | None,
    *,
    moderators: int,
    commands: int,
    chunk: int,
) -> dict[str, E2ERun]:
    sides = [side for side in E2E_SIDES if redis_url is not None or not side.redis]
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(pool())
        loaded: list[Loaded] = []
        for side in sides:
            secret = secrets.token_hex(16)
            servers = await stack.enter_async_context(
                replicas(
                    backend,
                    secret,
                    count=side.count,
                    redis_url=redis_url if side.redis else None,
                    cpus=[place.server if side.pin else None],
                )
            )
            loaded.append(Loaded(side, servers, secret))
        for to in loaded:  # Bolt's auth.test in every process, the keep-alive pool
            label = f"warm-{to.side.count}{to.side.redis}"
            warm = range(WARM_COMMANDS_EACH)  # round-robin: every process gets some
            await _turn(session, to, backend, arrivals, moderators, warm, label, E2ERun())
        for turn, start in enumerate(range(0, commands, chunk)):
            span = range(start, min(start + chunk, commands))
            for to in loaded if turn % 2 == 0 else loaded[::-1]:
                label = f"e2e{turn}-{to.side.count}{to.side.redis}"
                await _turn(session, to, backend, arrivals, moderators, span, label, to.result)
        return {to.side.label: to.result for to in loaded}


def _e2e_rows(runs: dict[str, E2ERun], moderators: int, skipped: str | None) -> list[Row]:
    base = runs["in-process ×1"]
    rows = [
        row("1 process, in-process state, e2e throughput", moderators, base.throughput,
            None, "cmd/s"),
    ]
    for side in E2E_SIDES[1:]:
        name = f"{side.count} process{'es' if side.count > 1 else ''} on Redis, e2e throughput"
        if side.label not in runs:
            rows.append(_not_run(name, moderators, skipped))
            continue
        ours = runs[side.label]
        rows.append(row(name, moderators, ours.throughput, base.throughput, "cmd/s"))
    if "redis ×1" in runs:
        ours = runs["redis ×1"]
        for pct in (50, 99):
            rows.append(
                row(
                    f"Redis state e2e p{pct}, 1 process",
                    moderators,
                    percentile(ours.latencies, pct) * 1e3,
                    percentile(base.latencies, pct) * 1e3,
                    "ms",
                )
            )
    else:
        rows.append(_not_run("Redis state e2e p50/p99, 1 process", moderators, skipped))
    failed = sum(len(run.failures) for run in runs.values())
    total = sum(run.commands for run in runs.values())
    rows.append(
        row("replicas e2e failed commands", moderators, float(failed), None, f"of {total}",
            goal="0", met=failed == 0)
    )
    return rows


def _not_run(name: str, n: int, reason: str | None) -> Row:
    return {
        "name": f"{name} (not run: {reason})",
        "n": n,
        "value": None,
        "unit": "",
        "baseline": None,
        "ratio": None,
        "goal": None,
        "met": None,
    }


# -- part ack: bursts with Redis, and on new connections each -----


@dataclass(frozen=True)
class AckSide:
    label: str
    kind: Kind
    count: int
    redis: bool
    keep_alive: bool
    one_port: bool = False
    one_socket: bool = False
    one_core: bool = False  # every process pinned to the server CPU, not one per core


BARE_KEEP_ALIVE = AckSide("bare, keep-alive", "bare-noop", 1, False, True)
REDIS_KEEP_ALIVE = AckSide("callmod on Redis ×1, keep-alive", "callmod", 1, True, True)
ONE_KEEP_ALIVE = AckSide("callmod ×1, keep-alive", "callmod", 1, False, True)
BARE_NEW = AckSide("bare, new connections", "bare-noop", 1, False, False)
ONE_NEW = AckSide("callmod ×1, new connections", "callmod", 1, False, False)
TWO_NEW = AckSide("callmod on Redis ×2, one port, new connections", "callmod", 2, True, False,
                  one_port=True)
TWO_SHARED_NEW = AckSide("callmod on Redis ×2, one socket, new connections", "callmod", 2, True,
                         False, one_socket=True)
TWO_NEW_ONE_CORE = AckSide("callmod on Redis ×2, one port, one core, new connections",
                           "callmod", 2, True, False, one_port=True, one_core=True)
ACK_SIDES = (
    BARE_KEEP_ALIVE,
    REDIS_KEEP_ALIVE,
    ONE_KEEP_ALIVE,
    BARE_NEW,
    ONE_NEW,
    TWO_NEW,
    TWO_SHARED_NEW,
    TWO_NEW_ONE_CORE,
)


@contextlib.asynccontextmanager
async def _client(keep_alive: bool) -> AsyncIterator[aiohttp.ClientSession]:
    if keep_alive:
        async with pool() as session:
            yield session
        return
    # A new TCP connection for every request, closed after its answer.
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


async def _timed(session: aiohttp.ClientSession, url: str, request: Signed) -> tuple[float, int]:
    started = time.perf_counter()
    status = await post(session, url, request)
    return time.perf_counter() - started, status


async def _burst(
    session: aiohttp.ClientSession, urls: list[str], requests: list[Signed]
) -> list[float]:
    results = await asyncio.gather(
        *(_timed(session, urls[i % len(urls)], r) for i, r in enumerate(requests))
    )
    refused = [status for _, status in results if status != 200]
    if refused:
        raise BenchmarkError(f"{len(refused)} acks were not HTTP 200 (e.g. {refused[0]})")
    return [seconds for seconds, _ in results]


def _cpus(side: AckSide, place: Placement) -> list[frozenset[int] | None]:
    if side.count == 1 or side.one_core or place.server is None or place.others is None:
        return [place.server]
    return [place.server, place.others]  # one process on each core


async def measure_ack(
    side: AckSide,
    backend: Child,
    place: Placement,
    redis_url: str | None,
    *,
    burst: int,
    rounds: int,
) -> AckRun:
    secret = secrets.token_hex(16)
    slack_base = str(backend.info["slack_base_url"])
    async with (
        replicas(
            backend,
            secret,
            count=side.count,
            redis_url=redis_url if side.redis else None,
            cpus=_cpus(side, place),
            kind=side.kind,
            one_port=side.one_port,
            one_socket=side.one_socket,
        ) as servers,
        _client(side.keep_alive) as session,
    ):
        urls = servers.urls
        tag = f"{side.kind}{side.count}{side.redis}{side.keep_alive}"
        # Warm-up: a few requests (each process's auth.test), then a whole burst.
        await _burst(session, urls, kick_burst(f"warm-{tag}", 4 * side.count, secret, slack_base))
        await _burst(session, urls, kick_burst(f"warmer-{tag}", burst, secret, slack_base))
        await servers.idle()
        await backend.request("reset")
        latencies: list[float] = []
        with collector_paused():
            for r in range(rounds):
                latencies += await _burst(
                    session, urls, kick_burst(f"ack-{tag}-{r}", burst, secret, slack_base)
                )
        last_ack = time.perf_counter()
        await servers.idle()
        drain = time.perf_counter() - last_ack
        counts = await backend.request("reset")
    responses = int(counts["responses"])
    if side.kind == "callmod" and responses != burst * rounds:
        raise BenchmarkError(
            f"{side.label}: replied to {responses} of {burst * rounds} commands; the acks "
            "measured something other than the full /kick"
        )
    return AckRun(latencies, drain, responses, int(counts["failed_replies"]))


def _median(runs: list[AckRun]) -> AckRun:
    ranked = sorted(runs, key=lambda run: percentile(run.latencies, 99))
    middle = ranked[len(ranked) // 2]
    return AckRun(
        middle.latencies,
        middle.drain,
        sum(run.responses for run in runs),
        sum(run.failed for run in runs),
    )


def _p99(run: AckRun) -> float:
    return percentile(run.latencies, 99) * 1e3


def _ack_rows(runs: dict[AckSide, list[AckRun]], burst: int, skipped: str | None) -> list[Row]:
    medians = {side: _median(found) for side, found in runs.items()}
    rows: list[Row] = []
    bare = medians[BARE_KEEP_ALIVE]
    if REDIS_KEEP_ALIVE in medians:
        ours = medians[REDIS_KEEP_ALIVE]
        rows.append(
            row("ack p99, Redis, keep-alive", burst, _p99(ours), _p99(bare), "ms",
                goal=f"≤ {REDIS_ACK_GOAL:g}× bare",
                met=_p99(ours) <= REDIS_ACK_GOAL * _p99(bare))
        )
    else:
        rows.append(_not_run("ack p99, Redis, keep-alive", burst, skipped))
    # The same harness without Redis, for telling Redis's share from the run's noise.
    alone = medians[ONE_KEEP_ALIVE]
    rows.append(row("ack p99, in-process, keep-alive", burst, _p99(alone), _p99(bare), "ms"))
    if REDIS_KEEP_ALIVE in medians:
        ours = medians[REDIS_KEEP_ALIVE]
        rows.append(
            row("ack p99, Redis vs in-process, keep-alive", burst, _p99(ours), _p99(alone), "ms")
        )
    floor = medians[BARE_NEW]
    one = medians[ONE_NEW]
    rows.append(row("ack p99, new conns, 1 process", burst, _p99(one), _p99(floor), "ms"))
    if TWO_NEW in medians:
        two = medians[TWO_NEW]
        rows.append(
            row("ack p99, new conns, 2 processes (Redis, one port)", burst, _p99(two),
                _p99(floor), "ms", goal=f"≤ {NEW_CONNECTIONS_GOAL:g}× bare",
                met=_p99(two) <= NEW_CONNECTIONS_GOAL * _p99(floor))
        )
        accept_queue = medians[TWO_SHARED_NEW]
        rows.append(
            row("ack p99, new conns, 2 processes (Redis, one shared socket)", burst,
                _p99(accept_queue), _p99(floor), "ms", goal=f"≤ {NEW_CONNECTIONS_GOAL:g}× bare",
                met=_p99(accept_queue) <= NEW_CONNECTIONS_GOAL * _p99(floor))
        )
        shared = medians[TWO_NEW_ONE_CORE]
        rows.append(
            row("ack p99, new conns, 2 processes on the server core", burst, _p99(shared),
                _p99(floor), "ms", goal=f"≤ {NEW_CONNECTIONS_GOAL:g}× bare",
                met=_p99(shared) <= NEW_CONNECTIONS_GOAL * _p99(floor))
        )
    else:
        rows.append(_not_run("ack p99, new conns, 2 processes", burst, skipped))
    for side, ours in medians.items():
        if side.kind != "callmod":
            continue
        rows.append(row(f"ack p50, {side.label}", burst,
                        percentile(ours.latencies, 50) * 1e3,
                        percentile((floor if not side.keep_alive else bare).latencies, 50) * 1e3,
                        "ms"))
        rows.append(row(f"post-ack drain, {side.label}", burst, ours.drain * 1e3, None, "ms"))
    failed = sum(run.failed for side, run in medians.items() if side.kind == "callmod")
    rows.append(row("replicas failed /kick replies", burst, float(failed), None, "",
                    goal="0", met=failed == 0))
    return rows


# -- running it -----


async def _run(quick: bool, part: str) -> list[Row]:
    place = placement()
    reason: str | None = None
    with contextlib.ExitStack() as stack:
        try:
            redis_url: str | None = stack.enter_context(redis_server(place.others))
        except RedisMissing as missing:
            redis_url, reason = None, str(missing)
        rows: list[Row] = []
        if part in ("e2e", "all"):
            rows += await _run_e2e(quick, place, redis_url, reason)
        if part in ("ack", "all"):
            rows += await _run_ack(quick, place, redis_url, reason)
        return rows


async def _run_e2e(
    quick: bool, place: Placement, redis_url: str | None, reason: str | None
) -> list[Row]:
    moderators, commands, chunk = (
        (QUICK_MODERATORS, QUICK_COMMANDS_EACH, QUICK_CHUNK_EACH)
        if quick
        else (MODERATORS, COMMANDS_EACH, CHUNK_EACH)
    )
    backend, arrivals = backend_child(moderators, place.others)
    with pinned(place.others):
        async with backend:
            await backend.request("push", on=True)
            arrivals.attach()
            try:
                runs = await measure_e2e(
                    backend, arrivals, place, redis_url,
                    moderators=moderators, commands=commands, chunk=chunk,
                )
            finally:
                arrivals.detach()
    return _e2e_rows(runs, moderators, reason)


async def _run_ack(
    quick: bool, place: Placement, redis_url: str | None, reason: str | None
) -> list[Row]:
    burst, rounds, repeats = (
        (QUICK_BURST, QUICK_ROUNDS, QUICK_REPEATS) if quick else (BURST, ROUNDS, REPEATS)
    )
    sides = [side for side in ACK_SIDES if redis_url is not None or not side.redis]
    runs: dict[AckSide, list[AckRun]] = {side: [] for side in sides}
    backend, _ = backend_child(burst, place.others)
    with pinned(place.others):
        async with backend:
            for repeat in range(repeats):  # A B C …, then … C B A
                for side in sides if repeat % 2 == 0 else sides[::-1]:
                    print(f"  ack: {side.label} ...", file=sys.stderr, flush=True)
                    runs[side].append(
                        await measure_ack(
                            side, backend, place, redis_url, burst=burst, rounds=rounds
                        )
                    )
    return _ack_rows(runs, burst, reason)


def run(quick: bool = False, part: str = "all") -> list[Row]:
    return asyncio.run(_run(quick, part))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replicas")
    parser.add_argument("--quick", action="store_true", help="small loads, for a smoke run")
    parser.add_argument("--part", choices=("e2e", "ack", "all"), default="all")
    args = parser.parse_args()
    started = time.monotonic()
    load = os.getloadavg()[0]
    rows = run(quick=args.quick, part=args.part)
    print(format_table(rows))
    print(
        f"({time.monotonic() - started:.0f} s; load average {load:.2f} → {os.getloadavg()[0]:.2f};"
        f" {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC)"
    )


if __name__ == "__main__":
    main()
