"""Redis unreachable at run time (issue 16): `/readyz` says so, commands that need no claim keep
working, a click whose claim cannot be taken answers "try again in a moment" and changes
nothing, a webhook that cannot be deduplicated is answered 503 for Stream to retry, and
/metrics counts it all. No Redis server is needed: the replica's Redis is a closed port."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.core.dispatch import CONFIRM_ACTION
from bot.local.emulator.webhooks import sign_webhook
from bot.local.replicas import ReplicaSet
from bot.local.slack_driver import SlashResult
from bot.local.stack import ADMIN, MODERATOR, Person
from bot.shared import InProcessState, SharedState, SharedStateError
from bot.shared.redis_state import RedisState
from bot.util.clock import ManualClock


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def cut_off(clock: ManualClock) -> AsyncIterator[ReplicaSet]:
    url = f"redis://127.0.0.1:{closed_port()}/0"

    def shared(_: str) -> SharedState:
        return RedisState.from_url(url, clock)

    replicas = ReplicaSet(clock=clock, shared=shared, count=1)
    await replicas.start()
    try:
        await replicas.idle()
        yield replicas
    finally:
        await replicas.stop()


async def slash(cut_off: ReplicaSet, line: str, who: Person) -> SlashResult:
    """A command, waited for by callmod alone: Stream's retries of the webhooks answered 503
    wait on the manual clock, which these tests do not move."""
    assert cut_off.driver is not None and cut_off.callmod is not None
    command, _, text = line.partition(" ")
    result = await cut_off.driver.slash(
        command, text, user_id=who.user_id, user_name=who.user_name, trigger=False
    )
    await cut_off.callmod.idle()
    return result


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_readyz_fails_while_redis_is_unreachable(cut_off: ReplicaSet) -> None:
    assert cut_off.callmod is not None
    status, text = await _get(cut_off.callmod.base_url + "/readyz")
    report = json.loads(text)
    assert status == 503 and not report["ok"]
    assert "shared_state" in report["not_ready"]
    assert report["checks"]["shared_state"]["detail"].startswith("unreachable: Redis ping failed")


async def test_commands_keep_working_and_clicks_ask_to_try_again(cut_off: ReplicaSet) -> None:
    result = await slash(cut_off, "/kick sara call-123", MODERATOR)
    assert any("was kicked from" in t for t in cut_off.replies(result))

    prompt = await slash(cut_off, "/muteall call-123", ADMIN)
    (confirm,) = cut_off.slack.responses_for(prompt.response_key)
    value = next(
        element["value"]
        for block in confirm.blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"] == CONFIRM_ACTION
    )
    assert cut_off.driver is not None
    mutes = sum(1 for r in cut_off.emulator.requests if r.path.endswith("/mute_users"))
    await cut_off.driver.click(
        action_id=CONFIRM_ACTION,
        value=value,
        user_id=ADMIN.user_id,
        user_name=ADMIN.user_name,
        response_key=prompt.response_key,
    )
    await cut_off.callmod.idle()
    answers = [r.text for r in cut_off.slack.responses_for(prompt.response_key)]
    assert answers[-1].endswith("nothing was changed. Try again in a moment.")
    assert sum(1 for r in cut_off.emulator.requests if r.path.endswith("/mute_users")) == mutes


async def test_webhooks_are_answered_503_for_stream_to_retry(cut_off: ReplicaSet) -> None:
    assert cut_off.callmod is not None
    body = json.dumps(
        {
            "type": "call.permission_request",
            "call_cid": "default:call-123",
            "created_at": "2027-01-15T08:00:00Z",
            "permissions": ["send-audio"],
            "user": {"id": "sara", "name": "Sara"},
        }
    ).encode()
    emulator = cut_off.emulator
    headers = {
        "Content-Type": "application/json",
        "X-Signature": sign_webhook(body, emulator.api_secret),
        "X-Api-Key": emulator.api_key,
        "X-Webhook-Id": "wh-unreachable",
    }
    url = cut_off.callmod.base_url + "/stream/webhook"
    async with aiohttp.ClientSession() as session, session.post(
        url, data=body, headers=headers
    ) as answer:
        assert answer.status == 503
    assert cut_off.callmod.webhooks.stats.unavailable == 1
    assert cut_off.callmod.webhooks.stats.accepted == 0


async def test_metrics_count_shared_state_errors(cut_off: ReplicaSet) -> None:
    assert cut_off.callmod is not None
    await slash(cut_off, "/kick sara call-123", MODERATOR)
    status, text = await _get(cut_off.callmod.base_url + "/metrics")
    assert status == 200
    errors = next(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("callmod_shared_state_errors_total ")
    )
    assert errors >= 1
    assert "callmod_lease_takeovers_total 0.0" in text
    assert "callmod_claim_conflicts_total 0.0" in text


class Unplugged(InProcessState):
    """The shared state, with a plug: while `down`, every operation fails as Redis would."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.down = False

    def __getattribute__(self, name: str) -> Any:
        found = super().__getattribute__(name)
        if name in SHARED_OPERATIONS and super().__getattribute__("down"):

            async def refuse(*args: Any, **kwargs: Any) -> Any:
                raise SharedStateError(f"Redis {name} failed: ConnectionError")

            return refuse
        return found


SHARED_OPERATIONS = frozenset(
    ("remember_once", "claim", "holder", "release", "put", "get", "hit", "schedule",
     "unschedule", "take", "take_due", "lookup", "finish", "scheduled", "ping")
)


async def test_a_ban_made_while_redis_is_away_still_expires_once_it_is_back(
    clock: ManualClock,
) -> None:
    plug = Unplugged(clock)
    replicas = ReplicaSet(clock=clock, shared=lambda _: plug, count=2)
    await replicas.start()
    try:
        await replicas.idle()
        plug.down = True
        done = await slash(replicas, "/ban sara 1h", MODERATOR)
        assert any("is banned" in t for t in replicas.replies(done))  # no Redis needed
        assert "sara" in replicas.emulator.state.bans
        assert replicas.callmod is not None
        status, _ = await _get(replicas.callmod.base_url + "/readyz")
        assert status == 503
        plug.down = False  # Redis is back before the ban ends
        await clock.advance(3600)
        for _ in range(12):
            await clock.advance(5)
            await replicas.callmod.idle()
            for replica in replicas.live():
                await replica.idle()
        lines = [t for t in replicas.log_lines() if t.startswith(":hourglass: The ban of `sara`")]
        assert lines == [":hourglass: The ban of `sara` has expired."]
        assert await plug.scheduled("ban-expiries") == 0
        banned = [t for t in replicas.log_lines() if t.startswith(":hammer: `sara` was banned")]
        assert len(banned) == 1  # its echo, retried by Stream once Redis was back: not again
    finally:
        await replicas.stop()
