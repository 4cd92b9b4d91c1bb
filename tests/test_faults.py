"""Fault suite: Stream and Slack misbehave; every command still ends with a definitive sentence,
no action is applied twice, and the audit line says what really happened."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.local.stack import LOG_CHANNEL, LocalStack
from bot.util.clock import ManualClock


@pytest.fixture
async def short_deadline_stack(clock: ManualClock) -> AsyncIterator[LocalStack]:
    local = LocalStack(clock=clock, stream_deadline=0.5)
    await local.start()
    await local.idle()
    try:
        yield local
    finally:
        local.emulator.faults.clear()
        await local.stop()


def writes(stack: LocalStack, fragment: str) -> int:
    return sum(1 for r in stack.emulator.requests if fragment in r.path and r.method != "GET")


async def test_rate_limited_beyond_the_deadline_changes_nothing_and_says_so(
    stack: LocalStack,
) -> None:
    stack.emulator.faults.rate_limit(times=None, reset_in=3.0, path="/kick")
    result = await stack.slash("/kick sara call-123")
    (reply,) = stack.replies(result)
    assert reply.startswith(":x: Could not kick `sara`")
    assert "rate limiting" in reply and "nothing was changed" in reply.lower()
    assert "sara" in stack.emulator.state.calls["default:call-123"].participants
    audit = stack.log_lines()[-1]
    assert "kick `sara`" in audit and "failed (nothing was changed)" in audit


async def test_server_errors_then_success_apply_the_action_once(stack: LocalStack) -> None:
    stack.emulator.faults.server_error(status=503, times=2, path="/block")
    result = await stack.slash("/block sara call-123")
    assert stack.replies(result) == [
        ":no_entry: `sara` is blocked from `default:call-123`.\n_Case #1_"
    ]
    assert writes(stack, "/block") == 3  # two refused, one applied
    assert "sara" in stack.emulator.state.calls["default:call-123"].blocked
    assert stack.log_lines()[-1].endswith(":white_check_mark: done · Case #1")


async def test_a_dropped_answer_after_the_change_is_retried_and_applied_once(
    stack: LocalStack,
) -> None:
    stack.emulator.faults.drop_connection(times=1, path="/deactivate", after_apply=True)
    result = await stack.slash("/deactivate john")
    confirm = stack.slack.responses_for(result.response_key)[-1]
    value = confirm.blocks[-1]["elements"][0]["value"]
    assert stack.driver is not None
    click = await stack.driver.click(
        action_id="callmod_confirm",
        value=value,
        user_id="U0ADMIN01",
        response_key=result.response_key,
    )
    await stack.idle()
    final = stack.slack.responses_for(click.response_key)[-1].text
    assert final.startswith(":zzz: `john` is deactivated")
    assert stack.emulator.state.users["john"].deactivated
    assert writes(stack, "/deactivate") == 2
    assert stack.log_lines()[-1].endswith(":white_check_mark: done · Case #1")


async def test_an_answer_slower_than_the_deadline_is_reported_as_maybe_applied(
    short_deadline_stack: LocalStack,
) -> None:
    stack = short_deadline_stack
    stack.emulator.faults.latency(2.0, times=1, path="/kick")
    result = await stack.slash("/kick sara call-123")
    (reply,) = stack.replies(result)
    assert reply.startswith(":x: Could not kick `sara`")
    assert "may have been applied" in reply
    assert "may have been applied" in stack.log_lines()[-1]
    assert writes(stack, "/kick") == 1  # a timed-out write is not blindly re-sent


async def test_slack_rate_limits_and_server_errors_on_posts_are_retried_and_none_lost(
    stack: LocalStack,
) -> None:
    stack.slack.fail_next("chat.postMessage", status=429, retry_after=0, times=2)
    await stack.slash("/kick sara call-123")
    stack.slack.fail_next("chat.postMessage", status=503, retry_after=0, times=2)
    await stack.slash("/kick john call-123")
    lines = stack.log_lines()
    assert sum("kick `sara`" in line for line in lines) == 1
    assert sum("kick `john`" in line for line in lines) == 1
    statuses = [c.status for c in stack.slack.calls_to("chat.postMessage")]
    assert statuses.count(429) == 2 and statuses.count(503) == 2


async def test_webhooks_arriving_while_slack_is_down_are_delivered_when_it_recovers(
    stack: LocalStack, clock: ManualClock
) -> None:
    # Slack answers every post with an error for a while: slack_sdk does not retry method
    # errors, so callmod's own webhook retry (on the injected clock) has to carry the event.
    stack.slack.fail_next("chat.postMessage", error="internal_error", times=5)
    posts = stack.slack.calls_to
    await stack.emulator.send_event(
        {
            "type": "user.banned",
            "user": {"id": "alice", "name": "Alice"},
            "created_by": {"id": "john", "name": "John"},
            "reason": "spam",
            "created_at": "2027-01-15T08:00:00Z",
        }
    )
    await stack.emulator.wait_webhooks_idle()
    await stack.slack.wait_for(lambda: len(posts("chat.postMessage")) >= 1)
    for attempt in range(2, 7):
        await clock.advance(61)  # the retry waits at most a minute
        await stack.slack.wait_for(lambda n=attempt: len(posts("chat.postMessage")) >= n)
    await stack.idle()
    notices = [m for m in stack.slack.messages_in(LOG_CHANNEL) if "`alice` was banned" in m.text]
    assert len(notices) == 1
    assert [c.error for c in posts("chat.postMessage")].count("internal_error") == 5
