"""Stream client overhead: callmod's `StreamClient` against a plain `httpx.AsyncClient` POST.

Run: `python -m benchmarks.client [--quick]`. The Stream emulator runs in its own process. Both
clients send the same requests (block, then unblock, of one target on `default:bench`) with the
same headers and server JWT, one at a time, each over its own warmed keep-alive connection. The
two run in alternating chunks so that drift (other load on the machine) hits both alike. What is
left between them is callmod's own cost per call: the retry loop, the deadline, the send tracker,
error mapping.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from benchmarks.backend import BENCH_CALL, target
from benchmarks.load import backend_child
from benchmarks.procs import pinned, placement
from benchmarks.report import Row, format_table, percentile, row
from benchmarks.servers import stream_headers
from bot.stream import CallRef, StreamClient
from bot.util.clock import SystemClock

CALLS = 3000
QUICK_CALLS = 100
CHUNK = 50
WARM_CALLS = 20
RATIO_GOAL = 1.25

NOTES = (
    f"Stream client: {CALLS} sequential calls per side (block/unblock alternating) to the "
    f"emulator in its own process, in alternating chunks of {CHUNK}; baseline: plain "
    "httpx.AsyncClient POST with the same headers, JWT and body."
)

Call = Callable[[int], Awaitable[None]]


def _callmod_calls(client: StreamClient) -> Call:
    call_type, call_id = BENCH_CALL.split(":")
    call = CallRef(call_type, call_id)

    async def one(i: int) -> None:
        if i % 2 == 0:
            await client.block_user(call, target(0))
        else:
            await client.unblock_user(call, target(0))

    return one


def _plain_calls(http: httpx.AsyncClient) -> Call:
    call_type, call_id = BENCH_CALL.split(":")
    base = f"/api/v2/video/call/{call_type}/{call_id}"

    async def one(i: int) -> None:
        action = "block" if i % 2 == 0 else "unblock"
        response = await http.post(f"{base}/{action}", json={"user_id": target(0)})
        response.raise_for_status()

    return one


async def _timed(call: Call, start: int, count: int, into: list[float]) -> None:
    for i in range(start, start + count):
        began = time.perf_counter()
        await call(i)
        into.append(time.perf_counter() - began)


async def _run(quick: bool) -> list[Row]:
    calls = QUICK_CALLS if quick else CALLS
    place = placement()
    backend, _ = backend_child(1, place.others)
    with pinned(place.server):
        async with backend:
            info = backend.info
            stream = StreamClient(
                str(info["stream_api_key"]),
                str(info["stream_api_secret"]),
                str(info["stream_base_url"]),
                clock=SystemClock(),
            )
            plain = httpx.AsyncClient(
                base_url=str(info["stream_base_url"]),
                params={"api_key": str(info["stream_api_key"])},
                headers=stream_headers(str(info["stream_api_secret"])),
                timeout=httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=5.0),
            )
            async with stream, plain:
                ours_call, plain_call = _callmod_calls(stream), _plain_calls(plain)
                ours: list[float] = []
                theirs: list[float] = []
                await _timed(ours_call, 0, WARM_CALLS, [])
                await _timed(plain_call, 0, WARM_CALLS, [])
                for start in range(0, calls, CHUNK):
                    count = min(CHUNK, calls - start)
                    await _timed(ours_call, start, count, ours)
                    await _timed(plain_call, start, count, theirs)
    return _rows(ours, theirs)


def _rows(ours: list[float], theirs: list[float]) -> list[Row]:
    n = len(ours)
    p50, base50 = percentile(ours, 50) * 1e6, percentile(theirs, 50) * 1e6
    p99, base99 = percentile(ours, 99) * 1e6, percentile(theirs, 99) * 1e6
    return [
        row(
            "stream call p50",
            n,
            p50,
            base50,
            "µs",
            goal=f"≤ {RATIO_GOAL:g}× baseline",
            met=p50 <= RATIO_GOAL * base50,
        ),
        row("stream call p99", n, p99, base99, "µs"),
    ]


def run(quick: bool = False) -> list[Row]:
    return asyncio.run(_run(quick))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.client")
    parser.add_argument("--quick", action="store_true", help="few calls, for a smoke run")
    args = parser.parse_args()
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
