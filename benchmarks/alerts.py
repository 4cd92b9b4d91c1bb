"""Stream alerts under a flood: webhook to card, and what the flood does to `/kick` acks.

Run: `python -m benchmarks.alerts [--quick]`. The full callmod server runs in its own process
(emulator and fake Slack in the backend process, as for `benchmarks.ack`); this process sends
`ITEMS` signed `review_queue_item.new` webhooks in Stream's shape at once (`USERS` users, so
hits coalesce onto cards and the rest overflow into the digest), and while they are in flight a
burst of `KICKS` signed `/kick` commands.

- webhook → card: for each item, from the receiver accepting the webhook to callmod's Slack call
  for the message that shows it having returned (`AlertStats.shown_after`, measured in the
  server on its own clock). Goal: p99 ≤ 1 s.
- the `/kick` ack p99 during the flood against a bare Bolt app that only acks and whose webhook
  route only checks the signature and reads the JSON, sent the same flood; and without a flood,
  against the same bare app (`benchmarks.ack`'s baseline). All measured in this run: the flood
  should leave the ratio where it was (the flood's ratio at most 1.25× the ratio without it,
  1.25 being the ack benchmark's own tolerance).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from benchmarks import ack
from benchmarks.backend import BENCH_CALL, target
from benchmarks.load import Signed, backend_child, pool, post, server_child
from benchmarks.procs import Child, Info, Placement, pinned, placement
from benchmarks.report import Row, format_table, percentile, row
from benchmarks.servers import Kind, ServerConfig

ITEMS = 1000
USERS = 400
KICKS = 200
QUICK_ITEMS = 100
QUICK_USERS = 40
QUICK_KICKS = 20
P99_GOAL_MS = 1000.0
RATIO_GOAL = ack.RATIO_GOAL

NOTES = (
    f"Alerts: {ITEMS} signed review_queue_item.new webhooks (Stream's shape, {USERS} users) sent "
    f"at once, with a burst of {KICKS} signed /kick in flight; webhook → card is from the "
    "receiver accepting a webhook to callmod's Slack call for the message showing it returning "
    "(measured in the server). /kick ack p99 with and without the flood, each against a bare "
    "Bolt app that only acks, measured in the same run."
)


class BenchmarkError(RuntimeError):
    pass


@dataclass(frozen=True)
class FloodRun:
    shown_after: list[float]  # seconds, one per item
    webhook_acks: list[float]  # seconds, send → HTTP answer
    kick_acks: list[float]
    alerts: int
    hits: int
    posts: int
    edits: int


def _webhook(n: int, run: str, users: int, api_key: str, api_secret: str) -> Signed:
    call_type, _, call_id = BENCH_CALL.partition(":")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    item = {
        "id": f"rq-{run}-{n}",
        "created_at": now,
        "updated_at": now,
        "entity_type": "stream:v1:call",
        "entity_id": call_id,
        "entity_creator_id": target(n % users),
        "status": "pending",
        "recommended_action": "flag",
        "reviewed_by": "",
        "languages": [],
        "severity": 3,
        "ai_text_severity": "",
        "latest_moderator_action": "",
        "bans": [],
        "flags": [{"type": "flag", "reason": "keyframe rule", "labels": ["nudity"], "result": []}],
        "actions": [],
        "flags_count": 1,
        "escalated": False,
        "call": {"cid": BENCH_CALL, "id": call_id, "type": call_type},
        "moderation_payload": {"texts": [], "images": [], "custom": {}},
    }
    event = {"type": "review_queue_item.new", "created_at": now, "custom": {},
             "review_queue_item": item, "flags": []}
    return _signed(event, f"wh-{run}-{n}", api_key, api_secret)


def _signed(event: Mapping[str, object], webhook_id: str, api_key: str, api_secret: str) -> Signed:
    body = json.dumps(event).encode()
    return Signed(
        body,
        {
            "Content-Type": "application/json",
            "X-Api-Key": api_key,
            "X-Signature": hmac.new(api_secret.encode(), body, hashlib.sha256).hexdigest(),
            "X-Webhook-Id": webhook_id,
            "X-Webhook-Attempt": "1",
        },
    )


async def _timed_all(
    session: aiohttp.ClientSession, url: str, requests: list[Signed]
) -> list[float]:
    async def one(request: Signed) -> tuple[float, int]:
        started = time.perf_counter()
        status = await post(session, url, request)
        return time.perf_counter() - started, status

    results = await asyncio.gather(*(one(r) for r in requests))
    refused = [status for _, status in results if status != 200]
    if refused:
        raise BenchmarkError(f"{len(refused)} requests were not HTTP 200 (e.g. {refused[0]})")
    return [seconds for seconds, _ in results]


async def flood(
    kind: Kind, backend: Child, place: Placement, *, items: int, users: int, kicks: int
) -> FloodRun:
    secret = secrets.token_hex(16)
    info: Info = backend.info
    slack_base = str(info["slack_base_url"])
    key, api_secret = str(info["stream_api_key"]), str(info["stream_api_secret"])
    run = secrets.token_hex(3)
    config = ServerConfig(kind, secret, info)
    async with server_child(config, place.server) as server, pool() as session:
        events_url, webhook_url = str(server.info["events_url"]), str(server.info["webhook_url"])
        # Warm-up: Bolt's auth.test, then the keep-alive pool for both paths (webhooks of a type
        # callmod does not act on exercise the receiver without posting anything).
        for label, size in ((f"warm-{run}", 1), (f"warmer-{run}", kicks)):
            await _timed_all(session, events_url, ack.kick_burst(label, size, secret, slack_base))
        ignored = [
            _signed({"type": "call.created", "created_at": 0}, f"warm-{run}-{n}", key, api_secret)
            for n in range(kicks)
        ]
        await _timed_all(session, webhook_url, ignored)
        await server.request("idle")
        await backend.request("reset")
        webhooks = [_webhook(n, run, users, key, api_secret) for n in range(items)]
        sending = asyncio.ensure_future(_timed_all(session, webhook_url, webhooks))
        await asyncio.sleep(0)
        burst = ack.kick_burst(f"k-{run}", kicks, secret, slack_base)
        kick_acks = await _timed_all(session, events_url, burst)
        webhook_acks = await sending
        await server.request("idle")
        stats: Info = {"shown_after": [], "alerts": 0, "hits": 0, "posts": 0, "edits": 0}
        if kind == "callmod":
            stats = await server.request("alert_stats")
        await backend.request("reset")
    return FloodRun(
        shown_after=[float(s) for s in stats["shown_after"]],
        webhook_acks=webhook_acks,
        kick_acks=kick_acks,
        alerts=int(stats["alerts"]),
        hits=int(stats["hits"]),
        posts=int(stats["posts"]),
        edits=int(stats["edits"]),
    )


async def _run(quick: bool) -> list[Row]:
    sizes = (QUICK_ITEMS, QUICK_USERS, QUICK_KICKS) if quick else (ITEMS, USERS, KICKS)
    items, users, kicks = sizes
    place = placement()
    backend, _ = backend_child(kicks, place.others)
    with pinned(place.others):
        async with backend:
            bare = await ack.measure("bare-noop", backend, place, burst=kicks, rounds=1)
            plain = await ack.measure("callmod", backend, place, burst=kicks, rounds=1)
            bare_flood = await flood(
                "bare-noop", backend, place, items=items, users=users, kicks=kicks
            )
            flooded = await flood("callmod", backend, place, items=items, users=users, kicks=kicks)
    if len(flooded.shown_after) != items or flooded.hits != items:
        raise BenchmarkError(
            f"{flooded.hits} of {items} items counted, {len(flooded.shown_after)} shown"
        )
    return _rows(flooded, bare_flood, plain.latencies, bare.latencies, items, kicks)


def _rows(
    flooded: FloodRun,
    bare_flood: FloodRun,
    plain: list[float],
    bare: list[float],
    items: int,
    kicks: int,
) -> list[Row]:
    def ms(samples: list[float], pct: int) -> float:
        return percentile(samples, pct) * 1e3

    card99 = ms(flooded.shown_after, 99)
    flood99, plain99, bare99 = ms(flooded.kick_acks, 99), ms(plain, 99), ms(bare, 99)
    bare_flood99 = ms(bare_flood.kick_acks, 99)
    return [
        row("alert webhook→card p50", items, ms(flooded.shown_after, 50), None, "ms"),
        row(
            "alert webhook→card p99",
            items,
            card99,
            None,
            "ms",
            goal=f"≤ {P99_GOAL_MS / 1e3:g} s",
            met=card99 <= P99_GOAL_MS,
        ),
        row("alert webhook→card max", items, max(flooded.shown_after) * 1e3, None, "ms"),
        row(
            "alert webhook ack p99",
            items,
            ms(flooded.webhook_acks, 99),
            ms(bare_flood.webhook_acks, 99),
            "ms",
        ),
        row(
            "alert Slack messages (posts)",
            items,
            float(flooded.posts),
            None,
            f"+ {flooded.edits} edits, {flooded.alerts} alerts",
            goal="a handful (≤ 10)",
            met=flooded.posts <= 10,
        ),
        row(
            "/kick ack p99 during alert flood",
            kicks,
            flood99,
            bare_flood99,
            "ms",
        ),
        row("/kick ack p99 without alerts", kicks, plain99, bare99, "ms"),
        # Unchanged: the flood moves callmod's ack ratio by no more than the ack goal's margin.
        row(
            "/kick ack ratio, flood ÷ no flood",
            kicks,
            flood99 / bare_flood99,
            plain99 / bare99,
            "×",
            goal=f"≤ {RATIO_GOAL:g}",
            met=flood99 / bare_flood99 <= RATIO_GOAL * plain99 / bare99,
        ),
    ]


def run(quick: bool = False) -> list[Row]:
    return asyncio.run(_run(quick))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.alerts")
    parser.add_argument("--quick", action="store_true", help="a small flood, for a smoke run")
    args = parser.parse_args()
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
