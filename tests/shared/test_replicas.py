"""Exactly once across three replicas (issue 16): every test runs three callmod replicas behind
a round-robin proxy, on one real Redis (and PostgreSQL when CALLMOD_TEST_POSTGRES_URL is set)
and, for the same logic without a server, on one in-process state the three share. Time moves
by the manual clock; nothing sleeps."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.core.dispatch import CONFIRM_ACTION
from bot.core.undo import UNDO_ACTION
from bot.local.emulator.server import RecordedRequest
from bot.local.emulator.webhooks import WebhookDelivery, sign_webhook
from bot.local.fake_slack import PostedMessage
from bot.local.replicas import ReplicaSet
from bot.local.slack_driver import SlashResult
from bot.local.stack import ADMIN, MODERATOR, REQUESTS_CHANNEL
from bot.moderation.bans.shared_expiry import EXPIRY_QUEUE
from bot.moderation.permission_requests import APPROVE_ACTION
from bot.shared import SharedStateError
from bot.util.clock import ManualClock
from tests.commands.cmdtest import button_value, click, slash
from tests.shared.replica_fixtures import LEASE, replica_set

HOUR = 3600.0


@pytest.fixture(params=["redis", "in-process"])
async def replicas(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[ReplicaSet]:
    async with replica_set(request.param, clock) as running:
        yield running


def expiry_lines(replicas: ReplicaSet, user: str) -> list[str]:
    line = f":hourglass: The ban of `{user}` has expired."
    return [t for t in replicas.log_lines() if t == line]


def notifications(replicas: ReplicaSet, user: str) -> list[str]:
    return [t for t in replicas.log_lines() if t.startswith(f":hammer: `{user}` was banned")]


def requests_to(replicas: ReplicaSet, path_end: str) -> list[RecordedRequest]:
    return [r for r in replicas.emulator.requests if r.path.endswith(path_end)]


async def step(replicas: ReplicaSet, clock: ManualClock, seconds: float) -> None:
    """Move time in sixths of a lease, letting every replica finish between steps: a sweep
    waiting on Redis is real I/O, which the manual clock does not wait for."""
    while seconds > 0:
        moved = min(seconds, LEASE / 6)
        await clock.advance(moved)
        await replicas.idle()
        seconds -= moved


async def redeliver(replicas: ReplicaSet, delivery: WebhookDelivery, attempt: int) -> int:
    """Stream's retry of a delivery: the same body and X-Webhook-Id, through the proxy (so to
    another replica)."""
    emulator = replicas.emulator
    headers = {
        "Content-Type": "application/json",
        "X-Signature": sign_webhook(delivery.body, emulator.api_secret),
        "X-Api-Key": emulator.api_key,
        "X-Webhook-Id": delivery.webhook_id,
        "X-Webhook-Attempt": str(attempt),
    }
    url = f"{replicas.proxy.base_url}/stream/webhook"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=delivery.body, headers=headers) as answer,
    ):
        return answer.status


async def test_a_ban_expiry_is_announced_once(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    await replicas.slash("/ban sara 1h spamming", MODERATOR, trigger=False)
    await replicas.idle()
    assert len(notifications(replicas, "sara")) == 1  # its echo reached another replica
    await clock.advance(HOUR)
    await step(replicas, clock, LEASE)  # past the due time; every sweep has run since
    assert expiry_lines(replicas, "sara") == [":hourglass: The ban of `sara` has expired."]
    assert len(notifications(replicas, "sara")) == 1
    assert "sara" not in replicas.emulator.state.bans
    for replica in replicas.replicas:
        assert await replica.shared.scheduled(EXPIRY_QUEUE) == 0
        assert "sara" not in replica.bans.records


async def test_stream_retries_to_other_replicas_post_each_of_200_requests_once(
    replicas: ReplicaSet,
) -> None:
    users = [f"user-{i}" for i in range(200)]
    for user in users:
        replicas.emulator.add_user(user)  # known to Stream
        await replicas.emulator.raise_permission_request("default:call-123", user, ["send-audio"])
    await replicas.idle()
    deliveries = [
        d for d in replicas.emulator.webhooks_sent if d.event["type"] == "call.permission_request"
    ]
    assert len(deliveries) == 200
    for attempt in (2, 3):  # each retry lands on another replica than the last
        statuses = [await redeliver(replicas, d, attempt) for d in deliveries]
        assert set(statuses) == {200}
    await replicas.idle()
    shown: Counter[str] = Counter()
    for message in replicas.slack.messages_in(REQUESTS_CHANNEL):
        for block in message.blocks:
            text = block.get("text", {}).get("text", "") if block.get("type") == "section" else ""
            for user in users:
                if f"`{user}` asks" in text:
                    shown[user] += 1
    assert shown == dict.fromkeys(users, 1)
    duplicates = sum(r.webhooks.stats.duplicates for r in replicas.replicas)
    assert duplicates == 400
    assert len(set(replicas.proxy.sent)) == 3  # the load was spread


async def test_two_confirm_clicks_on_two_replicas_act_once(replicas: ReplicaSet) -> None:
    result = await replicas.slash("/muteall call-123", ADMIN)
    prompt = replicas.slack.responses_for(result.response_key)[-1]
    value = next(
        element["value"]
        for block in prompt.blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"] == CONFIRM_ACTION
    )
    assert replicas.driver is not None
    before = len(requests_to(replicas, "/mute_users"))
    for who in (ADMIN, ADMIN):  # a double click; the proxy sends each to another replica
        await replicas.driver.click(
            action_id=CONFIRM_ACTION,
            value=value,
            user_id=who.user_id,
            user_name=who.user_name,
            response_key=result.response_key,
        )
    await replicas.idle()
    assert len(requests_to(replicas, "/mute_users")) == before + 1
    texts = [r.text for r in replicas.slack.responses_for(result.response_key)]
    assert any("already handled by" in t for t in texts)


async def test_a_killed_expiry_owner_is_taken_over_within_the_lease(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    await replicas.slash("/ban sara 1h", MODERATOR, trigger=False)
    await replicas.idle()
    # Slack refuses the expiry's edits for a while, so whoever takes the expiry is caught
    # holding it, mid-way, when it is killed.
    replicas.slack.fail_next("chat.update", times=1000, error="fatal_error")
    await clock.advance(HOUR)
    await step(replicas, clock, 1)
    entry = await replicas.replicas[0].shared.lookup(EXPIRY_QUEUE, "sara")
    assert entry is not None and entry.owner is not None
    owner = next(i for i, r in enumerate(replicas.replicas) if r.replica == entry.owner)
    replicas.kill(owner)
    replicas.slack.clear_failures()
    assert expiry_lines(replicas, "sara") == []
    await step(replicas, clock, LEASE + 1)  # within the lease (and one sweep) of the kill
    assert expiry_lines(replicas, "sara") == [":hourglass: The ban of `sara` has expired."]
    takeovers = sum(r.shared.stats.takeovers for r in replicas.live())
    assert takeovers >= 1
    await step(replicas, clock, 10 * LEASE)
    assert len(expiry_lines(replicas, "sara")) == 1


async def test_rolling_restart_under_load_loses_and_doubles_nothing(
    replicas: ReplicaSet,
) -> None:
    users = [f"load-{i}" for i in range(60)]
    for user in users:
        replicas.emulator.add_user(user)
        await replicas.emulator.join("default:call-123", user)
    assert replicas.driver is not None
    driver = replicas.driver

    async def load() -> list[SlashResult]:
        """A steady stream of /kick commands, one after another, none waited for."""
        sent = []
        for user in users:
            sent.append(
                await driver.slash(
                    "/kick", f"{user} call-123", user_id=MODERATOR.user_id, trigger=False
                )
            )
            await asyncio.sleep(0)
        return sent

    running = asyncio.create_task(load())
    for index in range(3):  # one after another, while the load runs
        await asyncio.sleep(0.01)
        await replicas.restart(index)
    results = await running
    await replicas.idle()
    assert [r.status for r in results] == [200] * len(users)  # every command was acked
    kicks = Counter(r.body["user_id"] for r in requests_to(replicas, "/kick"))
    assert kicks == dict.fromkeys(users, 1)
    audit = Counter(u for t in replicas.log_lines() for u in users if f"`{u}` " in t)
    assert audit == dict.fromkeys(users, 1)  # one audit line each
    for result in results:
        assert any("was kicked from" in t for t in replicas.replies(result)), result
    assert len(set(replicas.proxy.sent)) == 3


async def _raised_request(replicas: ReplicaSet) -> tuple[str, PostedMessage]:
    """A permission request for `sara` posted by one replica: the Approve value and message."""
    call = replicas.emulator.state.calls["default:call-123"]
    call.permissions["sara"].discard("send-audio")
    await replicas.emulator.raise_permission_request("default:call-123", "sara", ["send-audio"])
    await replicas.idle()
    (message,) = replicas.slack.messages_in(REQUESTS_CHANNEL)
    value = next(
        element["value"]
        for block in message.blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"] == APPROVE_ACTION
    )
    return value, message


async def test_two_approve_clicks_on_two_replicas_make_one_permissions_call(
    replicas: ReplicaSet,
) -> None:
    call = replicas.emulator.state.calls["default:call-123"]
    value, message = await _raised_request(replicas)
    # the proxy sends the two clicks to two replicas
    first = (await click(replicas, APPROVE_ACTION, value, MODERATOR, message=message)).replies
    second = (await click(replicas, APPROVE_ACTION, value, ADMIN, message=message)).replies
    assert len(requests_to(replicas, "/user_permissions")) == 1
    assert "send-audio" in call.permissions["sara"]
    assert first[0].startswith(":white_check_mark: Sara (`sara`) may now speak")
    assert second == [f"This request was already approved by <@{MODERATOR.user_id}>."]
    # The message, posted by one replica, says so whichever replica took the click.
    _, status = next(
        (section, after)
        for section, after in zip(message.blocks, message.blocks[1:], strict=False)
        if "(`sara`)" in section.get("text", {}).get("text", "")
    )
    assert status["type"] == "context"
    assert status["elements"][0]["text"].startswith(
        f":white_check_mark: Approved by <@{MODERATOR.user_id}>"
    )
    assert all(b["type"] != "actions" for b in message.blocks)


async def test_a_takeover_does_not_repeat_an_expiry_the_case_store_has_as_announced(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    """The replica that announced the expiry dies before taking it off the schedule: the
    replica taking it over finds the `ban_expired` case and its message in the case store."""
    await replicas.slash("/ban sara 1h", MODERATOR, trigger=False)
    await replicas.idle()

    async def never(queue: str, item: str, owner: str) -> bool:
        raise SharedStateError("the replica died before this")

    for shared in {id(r.shared): r.shared for r in replicas.replicas}.values():
        shared.finish = never  # type: ignore[method-assign]
    await clock.advance(HOUR)
    await step(replicas, clock, 1)
    assert expiry_lines(replicas, "sara") == [":hourglass: The ban of `sara` has expired."]
    entry = await replicas.replicas[0].shared.lookup(EXPIRY_QUEUE, "sara")
    assert entry is not None and entry.owner is not None  # still on the schedule, held
    owner = next(i for i, r in enumerate(replicas.replicas) if r.replica == entry.owner)
    replicas.kill(owner)
    for shared in {id(r.shared): r.shared for r in replicas.live()}.values():
        del shared.finish  # the living can finish again
    await step(replicas, clock, 3 * LEASE)
    assert sum(r.shared.stats.takeovers for r in replicas.live()) >= 1
    assert expiry_lines(replicas, "sara") == [":hourglass: The ban of `sara` has expired."]
    assert await replicas.live()[0].shared.lookup(EXPIRY_QUEUE, "sara") is None


async def test_undo_clicked_on_other_replicas_reverses_once(replicas: ReplicaSet) -> None:
    done = await slash(replicas, "/block sara call-123")
    value = button_value(done, UNDO_ACTION)
    first = await click(replicas, UNDO_ACTION, value, ADMIN, response_key=done.key)
    second = await click(replicas, UNDO_ACTION, value, MODERATOR, response_key=done.key)
    assert len(requests_to(replicas, "/unblock")) == 1  # offered by one replica, undone once
    assert "sara" not in replicas.emulator.state.calls["default:call-123"].blocked
    assert not any("no longer available" in t for t in first.replies + second.replies)
    assert second.replies[-1] == f"This was already undone by <@{ADMIN.user_id}>."


async def test_a_claim_left_by_a_replica_that_died_mid_decision_frees_up_after_the_lease(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    """kill -9 between claiming a request and deciding it leaves the claim and no decision."""
    value, message = await _raised_request(replicas)
    dead = replicas.replicas[1].permission_requests._shared
    assert dead is not None
    assert await dead.claim(value, MODERATOR.user_id) is None  # then the replica died
    waiting = (await click(replicas, APPROVE_ACTION, value, ADMIN, message=message)).replies
    assert waiting == [f"<@{MODERATOR.user_id}> is handling this request right now."]
    assert requests_to(replicas, "/user_permissions") == []
    await clock.advance(LEASE + 1)
    approved = (await click(replicas, APPROVE_ACTION, value, ADMIN, message=message)).replies
    assert approved[0].startswith(":white_check_mark: Sara (`sara`) may now speak")
    assert len(requests_to(replicas, "/user_permissions")) == 1
    late = (await click(replicas, APPROVE_ACTION, value, MODERATOR, message=message)).replies
    assert late == [f"This request was already approved by <@{ADMIN.user_id}>."]
    assert len(requests_to(replicas, "/user_permissions")) == 1


async def test_a_decided_request_whose_claim_ran_out_is_not_decided_again(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    """The deciding replica shared its decision and died before giving its claim back."""
    value, message = await _raised_request(replicas)

    async def died(request_id: str, user_id: str) -> None:
        raise SharedStateError("the replica died before this")

    for replica in replicas.replicas:
        share = replica.permission_requests._shared
        assert share is not None
        share.release = died  # type: ignore[method-assign]
    first = (await click(replicas, APPROVE_ACTION, value, MODERATOR, message=message)).replies
    assert first[0].startswith(":white_check_mark: Sara (`sara`) may now speak")
    for replica in replicas.replicas:
        share = replica.permission_requests._shared
        assert share is not None
        del share.release
    await clock.advance(LEASE + 1)  # the claim ran out; the decision did not
    again = (await click(replicas, APPROVE_ACTION, value, ADMIN, message=message)).replies
    assert again == [f"This request was already approved by <@{MODERATOR.user_id}>."]
    assert len(requests_to(replicas, "/user_permissions")) == 1
