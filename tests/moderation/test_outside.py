"""Moderation done in Stream outside Slack: its webhooks become cases by "Stream (outside Slack)"
and coalesced lines in the log channel, while callmod's own actions, echoed by the same webhooks,
are recognised by content and recorded once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.cases import Kind, Source
from bot.local.fake_slack import PostedMessage
from bot.local.stack import LOG_CHANNEL, MODERATOR, LocalStack
from bot.stream import CallRef, StreamClient
from bot.util.clock import ManualClock
from bot.util.timefmt import format_stream_time

CALL = CallRef("default", "call-123")
DASHBOARD = "dashboard-admin"


@pytest.fixture
async def dashboard(stack: LocalStack) -> AsyncIterator[StreamClient]:
    """Another backend with the same app's credentials: what it does is not callmod's doing."""
    stack.emulator.add_user(DASHBOARD, "Dashboard Admin", role="admin")
    client = StreamClient(
        stack.emulator.api_key, stack.emulator.api_secret, stack.emulator.base_url
    )
    try:
        yield client
    finally:
        await client.aclose()


def log_messages(stack: LocalStack) -> list[PostedMessage]:
    return [m for m in stack.slack.messages_in(LOG_CHANNEL) if not m.ephemeral]


def outside_messages(stack: LocalStack) -> list[PostedMessage]:
    return [m for m in log_messages(stack) if "outside Slack" in m.text]


def rendered(message: PostedMessage) -> str:
    parts = [message.text]
    for block in message.blocks:
        if block["type"] == "section":
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(str(e.get("text", "")) for e in block["elements"])
    return "\n".join(parts)


async def cases_of(stack: LocalStack, user: str) -> list[Any]:
    assert stack.store is not None
    return list((await stack.store.history_for_user(user, limit=100)).cases)


async def test_a_kick_from_the_dashboard_is_a_case_and_an_audit_line(
    stack: LocalStack, dashboard: StreamClient
) -> None:
    await dashboard.kick_user(CALL, "sara", kicked_by_id=DASHBOARD)
    await stack.idle()

    [case] = await cases_of(stack, "sara")
    assert (case.kind, case.source, case.moderator) == (Kind.KICK, Source.STREAM, None)
    assert case.call_cid == CALL.cid
    assert "dashboard-admin" in (case.detail or "")
    [message] = outside_messages(stack)
    text = rendered(message)
    assert "kicked `sara` in `default:call-123`" in text
    assert f"Case #{case.number}" in text
    assert stack.store is not None
    whole = await stack.store.get(case.number)
    assert whole is not None
    assert [(m.channel_id, m.purpose.value) for m in whole.messages] == [(LOG_CHANNEL, "audit")]


async def test_callmods_own_kick_and_block_are_not_recorded_twice(
    stack: LocalStack, dashboard: StreamClient
) -> None:
    await stack.slash("/kick sara call-123", MODERATOR)
    await stack.slash("/block john call-123", MODERATOR)  # echoed with no maker: by content

    assert [c.source for c in await cases_of(stack, "sara")] == [Source.SLACK]
    assert [c.source for c in await cases_of(stack, "john")] == [Source.SLACK]
    assert outside_messages(stack) == []
    assert stack.callmod is not None and stack.callmod.outside.stats.echoes == 2


async def test_the_same_block_from_elsewhere_is_told_apart_by_content(
    stack: LocalStack, dashboard: StreamClient
) -> None:
    # Server-side blocks carry no maker: callmod's and the dashboard's look alike but for whom.
    await asyncio.gather(
        stack.slash("/block john call-123", MODERATOR), dashboard.block_user(CALL, "alice")
    )
    await stack.idle()

    assert [c.source for c in await cases_of(stack, "john")] == [Source.SLACK]
    assert [c.source for c in await cases_of(stack, "alice")] == [Source.STREAM]
    # Once callmod's echo is used up, an identical block from elsewhere is someone else's.
    await dashboard.unblock_user(CALL, "john")
    await dashboard.block_user(CALL, "john")
    await stack.idle()
    assert [c.source for c in await cases_of(stack, "john")] == [
        Source.STREAM,
        Source.STREAM,
        Source.SLACK,
    ]
    assert [c.kind for c in await cases_of(stack, "john")] == [Kind.BLOCK, Kind.UNBLOCK, Kind.BLOCK]


async def test_a_refused_write_is_not_expected_back(
    stack: LocalStack, dashboard: StreamClient
) -> None:
    stack.emulator.faults.server_error(503, times=None, path="/block")
    await stack.slash("/block john call-123", MODERATOR)
    stack.emulator.faults.clear()
    await dashboard.block_user(CALL, "john")
    await stack.idle()

    sources = [(c.source, c.outcome.value) for c in await cases_of(stack, "john")]
    assert sources == [(Source.STREAM, "done"), (Source.SLACK, "failed")]


async def test_a_burst_of_outside_mutes_is_a_handful_of_messages_and_every_one_a_case(
    stack: LocalStack, clock: ManualClock
) -> None:
    now = format_stream_time(clock.time())
    events = [
        {
            "type": "call.user_muted" if i % 2 else "call.kicked_user",
            "call_cid": CALL.cid,
            "created_at": now,
            **(
                {"from_user_id": DASHBOARD, "muted_user_ids": [f"user-{i}"], "reason": "noise"}
                if i % 2
                else {"user": {"id": f"user-{i}"}}
            ),
        }
        for i in range(2_000)
    ]
    await asyncio.gather(*(stack.emulator.send_event(event) for event in events))
    await stack.idle()

    assert stack.callmod is not None
    assert stack.callmod.outside.stats.actions == 2_000
    messages = outside_messages(stack)
    assert 1 <= len(messages) <= 5
    edits = stack.callmod.outside.messages[1]
    assert edits <= 2_000 // 20  # coalesced: an edit per few dozen actions at most
    shown = [rendered(m).partition("\n")[0] for m in messages]
    assert sum(int(line.split(" actions:")[0].rsplit(" ", 1)[1]) for line in shown) == 2_000
    assert stack.store is not None
    numbers = set()
    for i in (0, 1, 1_998, 1_999):
        [case] = await cases_of(stack, f"user-{i}")
        assert case.source is Source.STREAM
        numbers.add(case.number)
    assert len(numbers) == 4


async def test_a_retried_delivery_records_its_case_once(
    stack: LocalStack, clock: ManualClock
) -> None:
    start = clock.time()
    event = {
        "type": "call.unblocked_user",
        "call_cid": CALL.cid,
        "created_at": format_stream_time(clock.time()),
        "user": {"id": "bob"},
    }
    stack.slack.fail_next("chat.postMessage", error="fatal_error")
    await stack.emulator.send_event(event)
    await stack.emulator.wait_webhooks_idle()  # Stream got its 200; callmod retries on its own
    while not outside_messages(stack):
        assert clock.time() < start + 3_600, "the line was never posted"
        await clock.advance(10)  # past the retry's backoff
        await asyncio.sleep(0)
    await stack.idle()

    assert len(await cases_of(stack, "bob")) == 1
    assert len(outside_messages(stack)) == 1


async def test_user_deactivation_outside_slack(
    stack: LocalStack, dashboard: StreamClient
) -> None:
    await dashboard.deactivate_user("bob", created_by_id=DASHBOARD)
    await stack.idle()

    [case] = await cases_of(stack, "bob")
    assert (case.kind, case.source) == (Kind.DEACTIVATE, Source.STREAM)
    assert "deactivated `bob`" in rendered(outside_messages(stack)[0])


async def test_the_outside_line_carries_callmod_case_metadata(
    stack: LocalStack, dashboard: StreamClient
) -> None:
    """Issue 14, point 3: the user, call and case of a line about one action."""
    await dashboard.kick_user(CALL, "sara", kicked_by_id=DASHBOARD)
    await stack.idle()

    [case] = await cases_of(stack, "sara")
    [message] = outside_messages(stack)
    assert message.metadata == {
        "event_type": "callmod_case",
        "event_payload": {"user_id": "sara", "call_cid": CALL.cid, "case_number": case.number},
    }
