"""The action form under a burst (issue 14): does `views.open` still happen within Slack's 3 s?

Run: `python -m benchmarks.forms [--quick]`. The full callmod server (own process), the
emulator and the fake Slack (backend process) and this load generator, as in `ack.py`. Each of
`ROUNDS` back-to-back bursts is `BURST` concurrent signed slash commands: every
`FORM_EVERY`-th is `/mute` with nothing after it (it opens the action form, with a trigger_id
the fake Slack was told of), the rest `/kick <target> default:bench` — so from the second burst
on, callmod is still kicking, auditing and replying for the previous one when the forms ask
to open. Measured in the same run:

- form: from sending the `/mute` to the fake Slack receiving its `views.open` (the backend
  stamps each views.open with `time.monotonic()`, the system-wide clock this process reads);
- baseline: from sending a `/kick` to its HTTP ack — the ack every command must beat.

Goal: every views.open inside the trigger's 3 s (p99 < 3 s, none refused as expired); the
ratio says how much later than an ack the form opens.
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

from benchmarks.backend import BENCH_CALL, Arrival, Backend, target
from benchmarks.load import Arrivals, pool, post, server_child, slash
from benchmarks.procs import Child, Info, pinned, placement, run_child
from benchmarks.report import Row, format_table, percentile, row
from benchmarks.servers import ServerConfig
from bot.local.fake_slack import ApiCall, SlackEvent

BURST = 200
ROUNDS = 5
FORM_EVERY = 10  # one /mute form in ten commands: 20 forms a burst
QUICK_BURST = 20
QUICK_ROUNDS = 2
TRIGGER_MS = 3000.0  # Slack: views.open must use the trigger_id within 3 s
OPEN_TIMEOUT = 30.0

NOTES = (
    f"Forms: {ROUNDS} back-to-back bursts of {BURST} concurrent signed commands, every "
    f"{FORM_EVERY}th a bare `/mute` (opens the action form), the rest `/kick`; form latency "
    "from sending the command to the fake Slack receiving views.open, baseline the /kick acks "
    "of the same bursts (send → HTTP answer). Goal (issue 14): views.open within Slack's 3 s."
)


class FormsBackend(Backend):
    """The benchmark backend that accepts the load generator's trigger_ids and reports each
    views.open as it arrives (keyed by its trigger_id)."""

    async def handle(self, command: str, args: Info) -> Info:
        if command == "triggers":
            for trigger_id in args["ids"]:
                self.slack.register_trigger(str(trigger_id), None)
            return {}
        if command == "views":
            opened = self.slack.calls_to("views.open")
            return {"opened": sum(1 for c in opened if c.error is None), "all": len(opened)}
        return await super().handle(command, args)

    def _on_slack(self, event: SlackEvent) -> None:
        if isinstance(event, ApiCall) and event.method == "views.open":
            trigger_id = str(event.args.get("trigger_id") or "")
            status = 200 if event.error is None else 400
            self._arrivals.send(Arrival(trigger_id, time.monotonic(), status, event.error or ""))


def backend_main(conn: Connection, arrivals: Connection, cpus: frozenset[int] | None) -> None:
    run_child(conn, FormsBackend(BURST, arrivals), cpus)


def forms_backend(cpus: frozenset[int] | None) -> tuple[Child, Arrivals]:
    reader, writer = multiprocessing.get_context("spawn").Pipe(duplex=False)
    return Child("backend", backend_main, writer, cpus), Arrivals(reader)


@dataclass
class Samples:
    forms: list[float] = field(default_factory=list)  # send → views.open arrival, seconds
    form_acks: list[float] = field(default_factory=list)
    kick_acks: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    session: aiohttp.ClientSession
    url: str
    secret: str
    slack_base: str
    arrivals: Arrivals
    backend: Child


async def _kick(to: Target, samples: Samples, key: str, i: int) -> None:
    request = slash(
        "/kick",
        f"{target(i)} {BENCH_CALL}",
        response_url=f"{to.slack_base}/response/{key}",
        signing_secret=to.secret,
    )
    sent = time.monotonic()
    status = await post(to.session, to.url, request)
    samples.kick_acks.append(time.monotonic() - sent)
    if status != 200:
        samples.failures.append(f"/kick ack HTTP {status}")


async def _form(to: Target, samples: Samples, key: str, trigger_id: str) -> None:
    request = slash(
        "/mute",
        "",
        response_url=f"{to.slack_base}/response/{key}",
        signing_secret=to.secret,
        trigger_id=trigger_id,
    )
    sent = time.monotonic()
    status = await post(to.session, to.url, request)
    samples.form_acks.append(time.monotonic() - sent)
    if status != 200:
        samples.failures.append(f"/mute ack HTTP {status}")
        return
    async with asyncio.timeout(OPEN_TIMEOUT):
        arrival = await to.arrivals.wait(trigger_id)
    samples.forms.append(arrival.at - sent)
    if arrival.status != 200:
        samples.failures.append(f"views.open refused: {arrival.text}")


async def _burst(to: Target, samples: Samples, size: int, label: str) -> None:
    triggers = {
        i: f"{i}.{int(time.time())}.{secrets.token_hex(8)}" for i in range(0, size, FORM_EVERY)
    }
    await to.backend.request("triggers", ids=list(triggers.values()))
    async with asyncio.TaskGroup() as group:
        for i in range(size):
            key = f"{label}-{i}"
            if i in triggers:
                group.create_task(_form(to, samples, key, triggers[i]))
            else:
                group.create_task(_kick(to, samples, key, i))


async def measure(quick: bool) -> Samples:
    burst, rounds = (QUICK_BURST, QUICK_ROUNDS) if quick else (BURST, ROUNDS)
    place = placement()
    backend, arrivals = forms_backend(place.others)
    with pinned(place.others):
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(backend)
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
                backend,
            )
            await _burst(to, Samples(), burst, "warm")  # auth.test, the keep-alive pool
            await server.request("idle")
            await backend.request("reset")
            samples = Samples()
            # Back to back: each burst starts while callmod still works on the previous one.
            for r in range(rounds):
                await _burst(to, samples, burst, f"burst-{r}")
            await server.request("idle")
    return samples


def rows(samples: Samples, burst: int) -> list[Row]:
    def ms(values: list[float], pct: int) -> float:
        return percentile(values, pct) * 1e3

    p99, kick99 = ms(samples.forms, 99), ms(samples.kick_acks, 99)
    n = len(samples.forms)
    return [
        row("form views.open p50", n, ms(samples.forms, 50), ms(samples.kick_acks, 50), "ms"),
        row(
            "form views.open p99",
            n,
            p99,
            kick99,
            "ms",
            goal=f"< {TRIGGER_MS / 1e3:g} s (the trigger's life)",
            met=p99 < TRIGGER_MS and not samples.failures,
        ),
        row("form views.open max", n, max(samples.forms) * 1e3, None, "ms"),
        row("form /mute ack p99", n, ms(samples.form_acks, 99), kick99, "ms"),
        row(
            "forms refused or late",
            n,
            float(len(samples.failures)),
            None,
            f"of {n} (burst {burst})",
            goal="0",
            met=not samples.failures,
        ),
    ]


def run(quick: bool = False) -> list[Row]:
    samples = asyncio.run(measure(quick))
    if not samples.forms or not samples.kick_acks:
        raise RuntimeError(f"nothing measured: {samples.failures[:3]}")
    return rows(samples, QUICK_BURST if quick else BURST)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.forms")
    parser.add_argument("--quick", action="store_true", help="small bursts, for a smoke run")
    args = parser.parse_args()
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
