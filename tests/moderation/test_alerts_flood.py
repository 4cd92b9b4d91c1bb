"""Coalescing and escalation of alert cards (issue 15, point 3): repeated hits share a card with a
counter, a flood of 1,000 items posts a handful of messages and loses none, and an alert nobody
decided gets one threaded ping to the moderators' user group."""

from __future__ import annotations

import asyncio

from bot.local.stack import MODERATOR, REQUESTS_CHANNEL, LocalStack
from bot.moderation.alerts import render
from bot.util.clock import ManualClock
from tests.moderation.alerting import (
    cards,
    click,
    item_event,
    only_card,
    post,
    text_of,
    warning,
)


def thread_replies(stack: LocalStack) -> list[str]:
    return [m.text for m in stack.slack.messages_in(REQUESTS_CHANNEL) if m.thread_ts is not None]


async def test_repeated_hits_on_one_user_and_call_update_one_card(stack: LocalStack) -> None:
    for _ in range(5):
        await post(stack, warning())
    assert "5 hits since" in text_of(only_card(stack))
    await post(stack, warning("john"))
    assert len(cards(stack)) == 2  # another user: a card of their own


async def test_hits_after_the_window_open_a_new_card(stack: LocalStack, clock: ManualClock) -> None:
    await post(stack, warning())
    await clock.advance(11 * 60)
    await post(stack, warning())
    assert len(cards(stack)) == 2


async def test_a_rules_trigger_and_its_review_item_are_one_hit(stack: LocalStack) -> None:
    stack.emulator.moderation.rule("sara", "default:call-123", ("nudity",))
    await stack.idle()
    shown = text_of(only_card(stack))
    assert "hits" not in shown
    assert "Nudity" not in shown and "Call safety (violation 1)" in shown
    stack.emulator.moderation.rule("sara", "default:call-123", ("nudity",), violation=2)
    await stack.idle()
    assert "2 hits since" in text_of(only_card(stack))


async def test_a_flood_of_1000_items_posts_a_handful_of_messages_and_loses_none(
    stack: LocalStack,
) -> None:
    semaphore = asyncio.Semaphore(32)

    async def one(n: int) -> int:
        async with semaphore:
            return await post(
                stack, item_event(item_id=f"rq-{n}", creator=f"user{n % 400}", entity_id="call-123")
            )

    stack.emulator.add_call("default:call-900")
    statuses = await asyncio.gather(*(one(n) for n in range(1000)))
    await stack.idle()
    assert set(statuses) == {200}
    posts = stack.slack.calls_to("chat.postMessage")
    assert len(posts) <= 10, len(posts)
    assert stack.callmod is not None
    desk = stack.callmod.alerts
    assert len(desk.open_alerts()) == 400  # 1,000 items about 400 users: 400 alerts
    assert sum(alert.hits for alert in desk.open_alerts()) == 1000  # none lost
    posted = stack.slack.messages_in(REQUESTS_CHANNEL)
    digest = [m for m in posted if "more Stream alerts" in m.text]
    assert len(digest) == 1
    assert "395 more Stream alerts" in text_of(digest[0])
    assert "`/queue` lists them" in text_of(digest[0])


async def test_an_undecided_alert_pings_the_moderators_group_once(clock: ManualClock) -> None:
    local = LocalStack(clock=clock, mod_moderators=["U0MODER01", "@oncall-mods"])
    local.slack.usergroups["oncall-mods"] = ["U0MODER02"]
    await local.start()
    try:
        await post(local, warning())
        await post(local, warning("john"))
        await click(local, cards(local)[1], render.REVIEW_ACTION, MODERATOR)  # john's: decided
        await clock.advance(9 * 60)
        await local.idle()
        assert thread_replies(local) == []
        await clock.advance(2 * 60)
        await local.idle()
        pings = thread_replies(local)
        assert len(pings) == 1, pings
        assert pings[0].startswith("<!subteam^")
        assert "Nobody has decided this alert about `sara` for 10 minutes" in pings[0]
        [ping] = [m for m in local.slack.messages_in(REQUESTS_CHANNEL) if m.thread_ts]
        assert ping.thread_ts == cards(local)[0].ts
        await clock.advance(30 * 60)
        await local.idle()
        assert len(thread_replies(local)) == 1
    finally:
        await local.stop()


async def test_mod_alert_escalate_after_is_a_setting(clock: ManualClock) -> None:
    local = LocalStack(clock=clock, mod_alert_escalate_after=60)
    await local.start()
    try:
        await post(local, warning())
        await clock.advance(61)
        await local.idle()
        pings = thread_replies(local)
        assert len(pings) == 1 and "<@U0MODER01>" in pings[0] and "for 1 minute." in pings[0]
    finally:
        await local.stop()


async def test_a_flood_digest_is_escalated_once_for_all_its_alerts(
    stack: LocalStack, clock: ManualClock
) -> None:
    for n in range(8):  # 5 cards, then 3 alerts in this minute's digest
        await post(stack, warning(f"user{n}"))
    await clock.advance(10 * 60 + 1)
    await stack.idle()
    pings = thread_replies(stack)
    assert len(pings) == 6, pings  # one per card, one for the digest
    assert sum("3 alerts listed here" in p for p in pings) == 1


async def test_a_new_flag_on_a_shown_item_is_another_hit(stack: LocalStack) -> None:
    await post(stack, item_event())
    await post(stack, item_event("review_queue_item.updated", flags_count=2))
    assert "2 hits since" in text_of(only_card(stack))


async def test_memory_is_bounded_and_forgotten_alerts_start_afresh(stack: LocalStack) -> None:
    from cachetools import FIFOCache

    assert stack.callmod is not None
    desk = stack.callmod.alerts
    desk.alerts = FIFOCache(4)  # as if 20,000 alerts had come before
    for n in range(10):
        await post(stack, warning(f"user{n}"))
    assert len(desk.alerts) == 4
    assert len(desk._by_key) <= 5 and len(desk._cards) + len(desk._digests) <= 5
    await post(stack, warning("user0"))  # forgotten: a new alert, not a crash
    assert desk.open_alerts()[-1].user_id == "user0"
    assert stack.callmod.webhooks.stats.dispatch_errors == 0
