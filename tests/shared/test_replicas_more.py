"""Exactly once across three replicas, second part (issue 16): Stream alert cards (the click
claim, which card a hit joins, the card budget and digest, one escalation ping), the /report
limit, the App Home refresh fan-out and the periodic reconciliation, each on one real Redis and
on one in-process state the three share. Time moves by the manual clock; nothing sleeps."""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.cases import Kind, MessagePurpose
from bot.core.model import MessageRef
from bot.local.replicas import ReplicaSet
from bot.local.stack import ADMIN, LOG_CHANNEL, MODERATOR, OUTSIDER, REQUESTS_CHANNEL
from bot.moderation.alerts import render
from bot.moderation.bans.shared_expiry import EXPIRY_QUEUE
from bot.moderation.history.book import Ticket
from bot.shared import SharedStateError
from bot.slack.poster import SlackPostError
from bot.util.clock import ManualClock
from tests.commands.cmdtest import slash
from tests.moderation.alerting import (
    CALL,
    cards,
    click,
    replies,
    signed,
    submitted,
    text_of,
    warning,
)
from tests.shared.replica_fixtures import LEASE, replica_set
from tests.shared.test_replicas import HOUR, step

BACKENDS = ["redis", "in-process"]


@pytest.fixture(params=BACKENDS)
async def replicas(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[ReplicaSet]:
    async with replica_set(request.param, clock) as running:
        yield running


async def deliver(replicas: ReplicaSet, payload: dict[str, Any]) -> int:
    """A Stream webhook through the proxy (so to the next replica in turn)."""
    body, headers = signed(replicas, payload)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{replicas.proxy.base_url}/stream/webhook", data=body, headers=headers) as
        answer,
    ):
        await answer.read()
        return answer.status


def thread_pings(replicas: ReplicaSet) -> list[str]:
    return [m.text for m in replicas.slack.messages_in(REQUESTS_CHANNEL) if m.thread_ts]


# -- 1. alert cards ----------------------------------------------------------------------------


async def test_hits_on_three_replicas_share_one_card_per_user_and_call(
    replicas: ReplicaSet,
) -> None:
    for _ in range(6):  # two hits reach each replica
        assert await deliver(replicas, warning("sara")) == 200
    await replicas.idle()
    [card] = cards(replicas)
    assert "6 hits since" in text_of(card)
    assert len(set(replicas.proxy.sent)) == 3
    assert len(replicas.slack.calls_to("chat.postMessage")) == 1


async def test_a_flood_to_three_replicas_posts_a_handful_of_messages(
    replicas: ReplicaSet,
) -> None:
    semaphore = asyncio.Semaphore(8)
    users = [f"user{n}" for n in range(40)]

    async def one(user: str) -> int:
        async with semaphore:
            return await deliver(replicas, warning(user))

    statuses = await asyncio.gather(*(one(u) for _ in range(3) for u in users))
    await replicas.idle()
    assert set(statuses) == {200}
    posts = replicas.slack.calls_to("chat.postMessage")
    assert len(posts) <= 7, len(posts)  # 5 cards and a digest (or two, across a minute)
    shown = [m for m in cards(replicas) if "more Stream alerts" not in m.text]
    per_user = Counter(u for m in shown for u in users if f"`{u}`" in m.text)
    assert len(shown) == 5 and set(per_user.values()) == {1}
    digests = [m for m in replicas.slack.messages_in(REQUESTS_CHANNEL) if "more Stream" in m.text]
    assert len(digests) == 1
    assert "35 more Stream alerts" in text_of(digests[0])
    listed = text_of(digests[0])
    assert "3 hits" in listed  # hits that reached other replicas joined the same line


async def test_two_moderators_clicking_on_two_replicas_make_one_decision(
    replicas: ReplicaSet,
) -> None:
    replicas.emulator.moderation.rule("sara", CALL, ("nudity",))  # its webhooks, in turn
    await replicas.idle()
    [card] = cards(replicas)
    seen = copy.deepcopy(card)  # both moderators see the card with its buttons
    first = await click(replicas, seen, render.REVIEW_ACTION, MODERATOR)
    second = await click(replicas, seen, render.REVIEW_ACTION, ADMIN)
    await replicas.idle()
    assert len(submitted(replicas)) == 1
    assert replies(replicas, first)[0].startswith(":white_check_mark: Marked reviewed")
    assert replies(replicas, second) == [
        f"This alert was already handled by <@{MODERATOR.user_id}>; nothing was sent to Stream."
    ]
    [card] = cards(replicas)
    assert f"<@{MODERATOR.user_id}>" in text_of(card)
    assert len(set(replicas.proxy.sent)) >= 2


async def test_a_click_racing_on_two_replicas_acts_once(replicas: ReplicaSet) -> None:
    replicas.emulator.moderation.rule("sara", CALL, ("nudity",))  # its webhooks, in turn
    await replicas.idle()
    [card] = cards(replicas)
    both = await asyncio.gather(
        click(replicas, copy.deepcopy(card), render.REVIEW_ACTION, MODERATOR),
        click(replicas, copy.deepcopy(card), render.REVIEW_ACTION, ADMIN),
    )
    await replicas.idle()
    assert len(submitted(replicas)) == 1
    said = [t for result in both for t in replies(replicas, result)]
    assert sum(t.startswith(":white_check_mark: Marked reviewed") for t in said) == 1
    assert sum("already handled by" in t or "is handling" in t for t in said) == 1


async def test_an_undecided_card_is_escalated_once(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    for _ in range(3):
        await deliver(replicas, warning("sara"))
    await replicas.idle()
    await clock.advance(601)
    await replicas.idle()
    await clock.advance(601)
    await replicas.idle()
    [ping] = thread_pings(replicas)
    assert "Nobody has decided this alert about `sara`" in ping


async def test_a_card_decided_on_another_replica_is_not_escalated(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    replicas.emulator.moderation.rule("sara", CALL, ("nudity",))  # its webhooks, in turn
    await replicas.idle()
    [card] = cards(replicas)
    await click(replicas, card, render.REVIEW_ACTION, MODERATOR)
    await replicas.idle()
    await clock.advance(601)
    await replicas.idle()
    assert thread_pings(replicas) == []


# -- 2. /report --------------------------------------------------------------------------------


async def test_the_report_limit_holds_across_replicas(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    for n in range(5):
        sent = await replicas.slash(f"/report bob call-123 report number {n}", OUTSIDER)
        assert "went to the moderators" in replicas.replies(sent)[0]
    refused = await replicas.slash("/report bob call-123 one more", OUTSIDER)
    assert "try again in" in replicas.replies(refused)[0]
    flags = [r for r in replicas.emulator.requests if r.path.endswith("/moderation/flag")]
    assert len(flags) == 5
    assert len(set(replicas.proxy.sent)) == 3
    await clock.advance(601)
    again = await replicas.slash("/report bob call-123 later", OUTSIDER)
    assert "went to the moderators" in replicas.replies(again)[0]


# -- 3. App Home -------------------------------------------------------------------------------


async def test_an_action_on_another_replica_refreshes_the_home_tab(
    replicas: ReplicaSet,
) -> None:
    assert replicas.driver is not None
    status, _ = await replicas.driver.home_opened(MODERATOR.user_id)
    assert status == 200
    await replicas.idle()
    opened_on = replicas.proxy.sent[-1]
    assert len(replicas.slack.calls_to("views.publish")) == 1
    for _ in range(3):  # at least two of them reach a replica the tab was not opened on
        await replicas.slash(f"/kick sara {CALL}", MODERATOR)
        await replicas.emulator.join(CALL, "sara")
    await replicas.idle()
    acted_on = set(replicas.proxy.sent[-6:]) - {opened_on}
    assert acted_on
    assert len(replicas.slack.calls_to("views.publish")) == 4


# -- 4. reconciliation -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_reconciliation_round_runs_on_one_replica(
    backend: str, clock: ManualClock
) -> None:
    async with replica_set(backend, clock, mod_reconcile_seconds=300) as replicas:

        def bans_read() -> int:
            return sum(
                r.path.endswith("/query_banned_users") for r in replicas.emulator.requests
            )

        for replica in replicas.replicas:
            await replica.bans.rehydrated.wait()  # each read Stream's bans once at start-up
        before = bans_read()
        for _ in range(3):
            for replica in replicas.replicas:
                replica.bans.reconciled.clear()
            await clock.advance(300)
            await replicas.idle()
            done = [r for r in replicas.replicas if r.bans.reconciled.is_set()]
            assert len(done) == 1
        assert bans_read() - before == 3


# -- 5. the expiry line a dead replica posted but never linked ---------------------------------


async def test_a_takeover_links_the_expiry_line_slack_took_instead_of_posting_it_again(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    """The owner posts the expiry line and dies before the case store links it: the replica
    taking over finds the line in the channel's history by its `callmod_case` metadata."""
    await replicas.slash("/ban sara 1h", MODERATOR, trigger=False)
    await replicas.idle()

    async def never_finish(queue: str, item: str, owner: str) -> bool:
        raise SharedStateError("the replica died before this")

    async def never_linked(ticket: Ticket, message: MessageRef, purpose: MessagePurpose) -> None:
        return None  # died before the link was written

    for shared in {id(r.shared): r.shared for r in replicas.replicas}.values():
        shared.finish = never_finish  # type: ignore[method-assign]
    for replica in replicas.replicas:
        replica.cases.link = never_linked  # type: ignore[method-assign]
    for _ in range(30):  # other messages after it: the history is read page by page
        await replicas.slash("/kick nobody call-123", MODERATOR)
    await clock.advance(HOUR)
    await step(replicas, clock, 1)
    line = ":hourglass: The ban of `sara` has expired."
    assert [t for t in replicas.log_lines() if t == line] == [line]
    entry = await replicas.replicas[0].shared.lookup(EXPIRY_QUEUE, "sara")
    assert entry is not None and entry.owner is not None
    owner = next(i for i, r in enumerate(replicas.replicas) if r.replica == entry.owner)
    replicas.kill(owner)
    for replica in replicas.live():
        del replica.cases.link
    for shared in {id(r.shared): r.shared for r in replicas.live()}.values():
        del shared.finish
    for _ in range(3):
        await replicas.slash("/kick nobody call-123", MODERATOR)
    await step(replicas, clock, 3 * LEASE)
    assert [t for t in replicas.log_lines() if t == line] == [line]  # not posted again
    assert replicas.slack.calls_to("conversations.history")
    assert await replicas.live()[0].shared.lookup(EXPIRY_QUEUE, "sara") is None
    store = replicas.live()[0].cases.store
    await replicas.live()[0].cases.idle()
    page = await store.history_for_user("sara", limit=5)
    expired = next(c for c in page.cases if c.kind is Kind.BAN_EXPIRED)
    full = await store.get(expired.number)
    assert full is not None
    (posted,) = [m for m in replicas.slack.messages_in(LOG_CHANNEL) if m.text == line]
    assert [(m.purpose, m.ts) for m in full.messages] == [(MessagePurpose.AUDIT, posted.ts)]


async def test_a_retried_alert_delivery_merges_its_hit_once(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    """The hit is merged and saved, then showing it fails (Slack did not answer): callmod
    retries the delivery, which finds the record its first attempt saved instead of adding the
    hit again."""
    failures = ["once"]
    failed = asyncio.Event()
    for replica in replicas.replicas:
        desk = replica.alerts
        original = desk._show_shared

        async def fail_once(alert_id: str, _original: Any = original) -> None:
            if failures:
                failures.pop()
                failed.set()
                raise SlackPostError("Slack did not answer")
            await _original(alert_id)

        desk._show_shared = fail_once  # type: ignore[method-assign]
    assert await deliver(replicas, warning("sara")) == 200
    await asyncio.wait_for(failed.wait(), 10)  # the first attempt's real I/O, until it fails
    for _ in range(50):  # and into its retry's wait on the manual clock
        await asyncio.sleep(0)
    assert cards(replicas) == []
    await step(replicas, clock, LEASE / 6)  # past the retry's first wait (at most 1 s)
    [card] = cards(replicas)
    share = replicas.replicas[0].alerts.share
    assert share is not None
    found = await share.find("key", f"sara|{CALL}")
    assert found is not None
    record = await share.load(found)
    assert record is not None and record.alert.hits == 1
    assert "hits since" not in text_of(card)
    assert len(replicas.slack.calls_to("chat.postMessage")) == 1


async def _opener(replicas: ReplicaSet) -> tuple[int, str]:
    """The index of the replica that opened sara's card, and the card's alert id."""
    share = replicas.live()[0].alerts.share
    assert share is not None
    alert_id = await share.find("key", f"sara|{CALL}")
    assert alert_id is not None
    record = await share.load(alert_id)
    assert record is not None
    index = next(i for i, r in enumerate(replicas.replicas) if r.replica == record.opener)
    return index, alert_id


async def test_a_card_whose_opener_died_before_posting_is_posted_after_the_lease(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    skipped = ["the opener's first showing"]
    for replica in replicas.replicas:
        desk = replica.alerts
        original = desk._show_shared

        async def dies_first(alert_id: str, _original: Any = original) -> None:
            if skipped:
                skipped.pop()  # the opener saved the record, then died before posting
                return
            await _original(alert_id)

        desk._show_shared = dies_first  # type: ignore[method-assign]
    assert await deliver(replicas, warning("sara")) == 200
    await replicas.idle()
    opener, _ = await _opener(replicas)
    replicas.kill(opener)
    assert await deliver(replicas, warning("sara")) == 200  # within the lease: the opener's
    await replicas.idle()
    assert cards(replicas) == []
    await step(replicas, clock, LEASE + 1)
    assert await deliver(replicas, warning("sara")) == 200
    await replicas.idle()
    [card] = cards(replicas)
    assert "3 hits since" in text_of(card)
    assert sum(r.alerts.stats.takeovers for r in replicas.live()) == 1
    assert await deliver(replicas, warning("sara")) == 200  # and it is edited from then on
    await replicas.idle()
    [card] = cards(replicas)
    assert "4 hits since" in text_of(card)
    assert len(replicas.slack.calls_to("chat.postMessage")) == 1


async def test_a_card_whose_opener_died_before_sharing_its_ts_is_found_not_posted_again(
    replicas: ReplicaSet, clock: ManualClock
) -> None:
    lost = ["the opener's ts and claim"]  # it posted the card, then died
    for replica in replicas.replicas:
        share = replica.alerts.share
        assert share is not None
        original = share.keep_ts

        async def dropped(*args: Any, _original: Any = original) -> None:
            if lost:
                lost.pop()  # neither the ts shared nor the posting claim given back
                return
            await _original(*args)

        share.keep_ts = dropped  # type: ignore[method-assign,assignment]
    assert await deliver(replicas, warning("sara")) == 200
    await replicas.idle()
    [card] = cards(replicas)
    opener, alert_id = await _opener(replicas)
    replicas.kill(opener)
    await step(replicas, clock, LEASE + 1)
    assert await deliver(replicas, warning("sara")) == 200
    await replicas.idle()
    [card] = cards(replicas)  # found by its metadata and edited, not posted again
    assert "2 hits since" in text_of(card)
    assert card.metadata is not None
    assert card.metadata["event_payload"]["alert_id"] == alert_id
    assert len(replicas.slack.calls_to("chat.postMessage")) == 1
    assert replicas.slack.calls_to("conversations.history")


async def test_queue_and_a_ban_see_the_open_alerts_of_every_replica(
    replicas: ReplicaSet,
) -> None:
    users = ("ann", "bob", "sara")
    for user in users:  # one hit each, to the replicas in turn
        assert await deliver(replicas, warning(user)) == 200
    await replicas.idle()
    for _ in range(3):  # /queue on each replica in turn
        shown = json.dumps((await slash(replicas, "/queue", MODERATOR)).response_blocks)
        assert all(f"`{user}`" in shown for user in users), shown
    assert len(set(replicas.proxy.sent[-3:])) == 3
    opener, _ = await _opener(replicas)  # of sara's card
    replicas.proxy.down.add(opener)  # the ban reaches another replica
    await slash(replicas, "/ban sara 2h spam", MODERATOR, trigger=False)
    await replicas.idle()
    replicas.proxy.down.discard(opener)
    card = next(c for c in cards(replicas) if "`sara`" in c.text)
    assert "Actioned by <@U0MODER01>" in text_of(card) and "ban `sara` for 2h" in text_of(card)
    shown = json.dumps((await slash(replicas, "/queue", MODERATOR)).response_blocks)
    assert "`ann`" in shown and "`bob`" in shown and "`sara`" not in shown
