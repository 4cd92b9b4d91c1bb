"""`make ha-demo`: three replicas behind a round-robin proxy, with the emulator and the fake
Slack, on the harness the replica tests use (bot/local/replicas.py).

Shared state is Redis when `REDIS_URL` is set (a client per replica, as separate processes
have), one in-process state otherwise; the case store is `DATABASE_URL` (PostgreSQL) when set, a
throwaway SQLite file otherwise. It sends a burst (bans and permission requests, each request
delivered twice as Stream's retries are), kills one replica as `kill -9` would, lets the ban
expiries fall due, and prints what each replica did and what Slack was sent.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import aiohttp

from bot.local.emulator.webhooks import sign_webhook
from bot.local.replicas import ReplicaSet
from bot.local.stack import LOG_CHANNEL, MODERATOR, REQUESTS_CHANNEL
from bot.shared import InProcessState, SharedState
from bot.shared.redis_state import RedisState
from bot.util.clock import ManualClock

LEASE = 30.0
MINUTE = 60.0


async def _redeliver_all(replicas: ReplicaSet) -> None:
    """Stream's retry of every permission request: same body and X-Webhook-Id, through the
    proxy, so to another replica than the first delivery."""
    emulator = replicas.emulator
    url = f"{replicas.proxy.base_url}/stream/webhook"
    async with aiohttp.ClientSession() as session:
        for delivery in emulator.webhooks_sent:
            if delivery.event["type"] != "call.permission_request":
                continue
            headers = {
                "Content-Type": "application/json",
                "X-Signature": sign_webhook(delivery.body, emulator.api_secret),
                "X-Api-Key": emulator.api_key,
                "X-Webhook-Id": delivery.webhook_id,
                "X-Webhook-Attempt": "2",
            }
            async with session.post(url, data=delivery.body, headers=headers) as answer:
                await answer.read()


async def _step(replicas: ReplicaSet, clock: ManualClock, seconds: float) -> None:
    while seconds > 0:
        moved = min(seconds, LEASE / 6)
        await clock.advance(moved)
        await replicas.idle()
        seconds -= moved


async def run() -> None:
    clock = ManualClock()
    redis_url = os.environ.get("REDIS_URL", "").strip()
    one = InProcessState(clock)

    def shared(_: str) -> SharedState:
        if redis_url:
            return RedisState.from_url(redis_url, clock, prefix="callmod-ha-demo:")
        return one

    settings: dict[str, Any] = {"mod_lease_seconds": LEASE}
    if os.environ.get("DATABASE_URL"):
        settings["database_url"] = os.environ["DATABASE_URL"]
    replicas = ReplicaSet(clock=clock, shared=shared, count=3, **settings)
    await replicas.start()
    try:
        print(f"shared state: {'Redis' if redis_url else 'in-process (set REDIS_URL for Redis)'}")
        print(f"case store: {replicas.settings().database_url.get_secret_value().split('://')[0]}")
        for minutes, user in ((10, "sara"), (20, "john"), (30, "alice")):
            await replicas.slash(f"/ban {user} {minutes}m demo", MODERATOR, trigger=False)
        for i in range(30):
            user = f"guest-{i}"
            replicas.emulator.add_user(user)
            await replicas.emulator.raise_permission_request(
                "default:call-123", user, ["send-audio"]
            )
        await replicas.idle()
        await _redeliver_all(replicas)
        await replicas.idle()
        await _step(replicas, clock, 10 * MINUTE + 1)
        print("killing replica-1 (no lease or claim given back)")
        replicas.kill(1)
        await _step(replicas, clock, 20 * MINUTE + 2 * LEASE)
        print()
        print(f"{'replica':<12}{'webhooks':>10}{'retries':>9}{'posts':>7}{'takeovers':>11}"
              f"{'conflicts':>11}")
        for replica in replicas.replicas:
            stats = replica.webhooks.stats
            posted = replica.permission_requests.stats.messages_posted
            print(
                f"{replica.replica:<12}{stats.accepted:>10}{stats.duplicates:>9}{posted:>7}"
                f"{replica.shared.stats.takeovers:>11}{replica.shared.stats.claim_conflicts:>11}"
            )
        print()
        print(f"{LOG_CHANNEL} (ban notifications and expiries):")
        for line in replicas.log_lines():
            if line.startswith((":hammer:", ":hourglass:")):
                print(f"  {line.splitlines()[0]}")
        requests = replicas.slack.messages_in(REQUESTS_CHANNEL)
        print(f"{REQUESTS_CHANNEL}: {len(requests)} request messages for 30 requests")
    finally:
        await replicas.stop()


def main() -> None:
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
