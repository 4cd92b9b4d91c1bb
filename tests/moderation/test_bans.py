"""Timed bans end to end: notifications, expiry timers, start-up rehydration, bans made elsewhere,
the Unban button and the paged /bans list — through the whole local stack on a manual clock."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

import bot.moderation.bans.book
from bot.local.emulator.server import RecordedRequest
from bot.local.fake_slack import PostedMessage
from bot.local.stack import ADMIN, LOG_CHANNEL, MODERATOR, OUTSIDER, LocalStack
from bot.moderation.bans.book import BanBook
from bot.moderation.bans.render import UNBAN_ACTION
from bot.runtime.callmod import Callmod
from bot.slack.blocks import date_token
from bot.stream import StreamClient
from bot.util.clock import ManualClock
from bot.util.timefmt import format_stream_time
from commands.bans import BANS_PAGE_ACTION, BANS_PAGE_BACK_ACTION

BOT = "callmod-bot"
HISTORY_ACTION = "callmod_history"
MINUTE, HOUR = 60.0, 3600.0
DATE = re.compile(r"<!date\^(\d+)\^")


# -- helpers -------------------------------------------------------------------------------------


def callmod(stack: LocalStack) -> Callmod:
    assert stack.callmod is not None
    return stack.callmod


def book(stack: LocalStack) -> BanBook:
    return callmod(stack).bans


def notifications(stack: LocalStack, user: str) -> list[PostedMessage]:
    return [
        m
        for m in stack.slack.messages_in(LOG_CHANNEL)
        if m.text.startswith(f":hammer: `{user}` was banned")
    ]


def expiry_lines(stack: LocalStack, user: str) -> list[str]:
    return [t for t in stack.log_lines() if t == f":hourglass: The ban of `{user}` has expired."]


def offline_lines(stack: LocalStack, user: str) -> list[str]:
    return [
        t
        for t in stack.log_lines()
        if t.startswith(f":hourglass: The ban of `{user}` expired while callmod was offline")
    ]


def buttons(message_blocks: list[dict[str, Any]]) -> dict[str, str]:
    """action_id -> value of every button in the blocks."""
    found = {}
    for block in message_blocks:
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                found[element["action_id"]] = element.get("value", "")
    return found


def shown_text(message_blocks: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    for block in message_blocks:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(text["text"])
        for element in block.get("elements") or []:
            if element.get("type") == "mrkdwn":
                parts.append(element["text"])
    return "\n".join(parts)


def ban_queries(stack: LocalStack, user: str, since: int = 0) -> list[RecordedRequest]:
    """query_banned_users requests filtered on `user`, after request number `since`."""
    found = []
    for request in stack.emulator.requests[since:]:
        if request.path.endswith("/query_banned_users"):
            payload = json.loads(request.query["payload"])
            if payload["filter_conditions"].get("user_id") == user:
                found.append(request)
    return found


def ban_queries_since(stack: LocalStack, since: int) -> list[RecordedRequest]:
    return [r for r in stack.emulator.requests[since:] if r.path.endswith("/query_banned_users")]


def unbans(stack: LocalStack, user: str, since: int = 0) -> list[RecordedRequest]:
    return [
        r
        for r in stack.emulator.requests[since:]
        if r.path.endswith("/moderation/unban") and r.query.get("target_user_id") == user
    ]


async def advance(stack: LocalStack, clock: ManualClock, seconds: float) -> None:
    await clock.advance(seconds)
    await stack.idle()


async def click(
    stack: LocalStack, action_id: str, value: str, who: Any, **where: Any
) -> list[str]:
    assert stack.driver is not None
    result = await stack.driver.click(
        action_id=action_id, value=value, user_id=who.user_id, user_name=who.user_name, **where
    )
    await stack.idle()
    return [r.text for r in stack.slack.responses_for(result.response_key) if r.status == 200]


async def restart(stack: LocalStack) -> None:
    await stack.stop_callmod()
    await stack.start_callmod()
    await book(stack).rehydrated.wait()
    await stack.idle()


def reply(stack: LocalStack, result: Any) -> str:
    [text] = stack.replies(result)
    return text


# -- 2. the notification -------------------------------------------------------------------------


async def test_timed_ban_posts_a_notification_with_its_expiry_and_an_unban_button(
    stack: LocalStack, clock: ManualClock
) -> None:
    start = clock.time()
    result = await stack.slash("/ban sara 2h spamming <!channel> --ip")

    [message] = notifications(stack, "sara")
    until = date_token(start + 2 * HOUR)
    assert message.text == (
        f":hammer: `sara` was banned *by IP* by <@U0ADMIN01> for 2h, until {until}."
    )
    assert "Reason: spamming &lt;!channel&gt;" in shown_text(message.blocks)
    assert buttons(message.blocks) == {UNBAN_ACTION: "sara", HISTORY_ACTION: "sara"}
    assert f"(until {until})" in reply(stack, result)
    entry = book(stack).timers.get("sara")
    assert entry is not None and entry.deadline == start + 2 * HOUR


async def test_permanent_ban_has_no_timer(stack: LocalStack) -> None:
    await stack.slash("/ban sara", trigger=False)  # no form: the typed ban

    [message] = notifications(stack, "sara")
    assert "permanently" in message.text
    assert "sara" not in book(stack).timers
    assert [r.user_id for r in book(stack).active()] == ["sara"]


class TickingClock(ManualClock):
    """A manual clock that moves one second every time it is read, as a real one would between
    two reads during a request."""

    def time(self) -> float:
        self._now += 1.0
        return self._now


async def test_the_reply_and_the_notification_agree_on_the_expiry() -> None:
    stack = LocalStack(clock=TickingClock())
    await stack.start()
    try:
        result = await stack.slash("/ban sara 1w")
        [message] = notifications(stack, "sara")
        in_reply = DATE.findall(reply(stack, result))
        in_notification = DATE.findall(message.text)
        assert len(in_reply) == 1
        assert in_reply == in_notification
        entry = book(stack).timers.get("sara")
        assert entry is not None and str(int(entry.deadline)) == in_reply[0]
    finally:
        await stack.stop()


# -- 3. expiry -----------------------------------------------------------------------------------


async def test_expiry_checks_stream_lifts_the_lapsed_entry_and_announces(
    stack: LocalStack, clock: ManualClock
) -> None:
    start = clock.time()
    await stack.slash("/ban sara 30m")
    [message] = notifications(stack, "sara")
    before = len(stack.emulator.requests)

    await advance(stack, clock, 30 * MINUTE - 1)
    assert expiry_lines(stack, "sara") == []
    assert ban_queries(stack, "sara", before) == []

    await advance(stack, clock, 1)
    assert len(ban_queries(stack, "sara", before)) == 1  # asked Stream first
    # The emulator keeps the lapsed entry, as Stream does; callmod lifts it so that a restart
    # does not announce the ban again.
    assert len(unbans(stack, "sara", before)) == 1
    assert "sara" not in stack.emulator.state.bans
    assert buttons(message.blocks) == {HISTORY_ACTION: "sara"}
    assert f"Expired at {date_token(start + 30 * MINUTE)}" in shown_text(message.blocks)
    assert expiry_lines(stack, "sara") == [":hourglass: The ban of `sara` has expired."]
    assert book(stack).records == {} and len(book(stack).timers) == 0


async def test_expiry_when_stream_has_already_dropped_the_ban(
    stack: LocalStack, clock: ManualClock
) -> None:
    await stack.slash("/ban sara 30m")
    del stack.emulator.state.bans["sara"]
    before = len(stack.emulator.requests)

    await advance(stack, clock, 30 * MINUTE)

    assert len(ban_queries(stack, "sara", before)) == 1
    assert unbans(stack, "sara", before) == []
    assert len(expiry_lines(stack, "sara")) == 1


async def test_a_ban_stream_still_holds_past_its_expiry_is_lifted_by_callmod(
    stack: LocalStack, clock: ManualClock
) -> None:
    await stack.slash("/ban sara 30m")
    stack.emulator.state.bans["sara"].expires_at = None  # Stream did not let it run out
    before = len(stack.emulator.requests)

    await advance(stack, clock, 30 * MINUTE)

    [lift] = unbans(stack, "sara", before)
    assert lift.body == {"unbanned_by_id": BOT}
    assert stack.emulator.state.active_ban("sara") is None
    assert len(expiry_lines(stack, "sara")) == 1


async def test_a_newer_ban_stream_holds_is_followed_not_lifted(
    stack: LocalStack, clock: ManualClock
) -> None:
    await stack.slash("/ban sara 30m")
    [ours] = notifications(stack, "sara")
    await advance(stack, clock, 10 * MINUTE)
    # A ban made elsewhere whose webhook callmod never got.
    stack.emulator.state.ban(
        "sara", banned_by="john", reason="dashboard", timeout_minutes=None, ip_ban=False
    )
    before = len(stack.emulator.requests)

    await advance(stack, clock, 20 * MINUTE)

    assert unbans(stack, "sara", before) == []
    assert stack.emulator.state.active_ban("sara") is not None
    assert expiry_lines(stack, "sara") == []
    assert "Replaced by a newer ban" in shown_text(ours.blocks)
    [_, theirs] = notifications(stack, "sara")
    assert theirs.text.startswith(":hammer: `sara` was banned by `john` in Stream permanently")
    assert [r.user_id for r in book(stack).active()] == ["sara"]


async def test_a_failing_expiry_is_retried_with_backoff_until_slack_takes_it(
    stack: LocalStack, clock: ManualClock
) -> None:
    await stack.slash("/ban sara 30m")
    [message] = notifications(stack, "sara")
    before = len(stack.emulator.requests)
    stack.slack.fail_next("chat.update", error="internal_error", times=3)
    stack.slack.fail_next("chat.postMessage", error="internal_error", times=1)

    await advance(stack, clock, 30 * MINUTE)
    failed = [c for c in stack.slack.calls_to("chat.update") if c.error]
    assert len(failed) == 1
    assert buttons(message.blocks) == {UNBAN_ACTION: "sara", HISTORY_ACTION: "sara"}
    for backoff in (5.0, 10.0):  # retry_base 5 s, doubling; jitter only shortens the wait
        await advance(stack, clock, backoff)
    assert len([c for c in stack.slack.calls_to("chat.update") if c.error]) == 3
    assert expiry_lines(stack, "sara") == []

    await advance(stack, clock, 20.0)  # the update goes through; the line fails once
    assert buttons(message.blocks) == {HISTORY_ACTION: "sara"}
    assert expiry_lines(stack, "sara") == []
    await advance(stack, clock, 40.0)

    assert expiry_lines(stack, "sara") == [":hourglass: The ban of `sara` has expired."]
    # Steps that succeeded were not repeated by the retries.
    assert len(ban_queries(stack, "sara", before)) == 1
    assert len(unbans(stack, "sara", before)) == 1
    assert len([c for c in stack.slack.calls_to("chat.update") if not c.error]) == 1
    assert len(book(stack).timers) == 0


# -- 1. the timer registry: unban cancels, re-ban replaces ---------------------------------------


async def test_unban_before_expiry_cancels_the_timer(
    stack: LocalStack, clock: ManualClock
) -> None:
    await stack.slash("/ban sara 30m")
    assert "sara" in book(stack).timers

    await stack.slash("/unban sara")
    assert "sara" not in book(stack).timers
    before = len(stack.emulator.requests)

    await advance(stack, clock, HOUR)
    assert expiry_lines(stack, "sara") == []
    assert ban_queries(stack, "sara", before) == []


async def test_a_reban_replaces_the_timer_and_only_the_new_expiry_fires(
    stack: LocalStack, clock: ManualClock
) -> None:
    start = clock.time()
    await stack.slash("/ban sara 30m")
    await advance(stack, clock, 10 * MINUTE)
    await stack.slash("/ban sara 2h")
    first, second = notifications(stack, "sara")
    assert buttons(first.blocks) == {HISTORY_ACTION: "sara"}
    assert "Replaced by a newer ban" in shown_text(first.blocks)
    entry = book(stack).timers.get("sara")
    assert entry is not None and entry.deadline == start + 10 * MINUTE + 2 * HOUR

    await advance(stack, clock, 25 * MINUTE)  # past the first ban's expiry
    assert expiry_lines(stack, "sara") == []
    assert stack.emulator.state.active_ban("sara") is not None

    await advance(stack, clock, 2 * HOUR)
    assert len(expiry_lines(stack, "sara")) == 1
    expired_at = date_token(start + 10 * MINUTE + 2 * HOUR)
    assert f"Expired at {expired_at}" in shown_text(second.blocks)


# -- 4. start-up rehydration ---------------------------------------------------------------------


async def test_restart_rebuilds_timers_and_announces_a_lapsed_ban_once(
    stack: LocalStack, clock: ManualClock
) -> None:
    start = clock.time()
    await stack.slash("/ban sara 30m")
    await stack.slash("/ban john 2h")
    await stack.slash("/ban alice", trigger=False)
    await stack.stop_callmod()
    await clock.advance(45 * MINUTE)  # sara's ban lapses while callmod is down

    await stack.start_callmod()
    await book(stack).rehydrated.wait()
    await stack.idle()

    [line] = offline_lines(stack, "sara")
    assert date_token(start + 30 * MINUTE) in line
    assert "sara" not in stack.emulator.state.bans
    john = book(stack).timers.get("john")
    assert john is not None and john.deadline == start + 2 * HOUR
    assert "alice" not in book(stack).timers
    assert [r.user_id for r in book(stack).active()] == ["john", "alice"]

    await restart(stack)
    assert len(offline_lines(stack, "sara")) == 1
    assert "john" in book(stack).timers

    await advance(stack, clock, 75 * MINUTE)
    assert len(expiry_lines(stack, "john")) == 1
    assert expiry_lines(stack, "sara") == []


async def test_startup_answers_slack_before_the_rebuild_finishes(stack: LocalStack) -> None:
    state = stack.emulator.state
    state.ban("sara", banned_by="john", reason="spam", timeout_minutes=60, ip_ban=False)
    state.ban("bob", banned_by="john", reason=None, timeout_minutes=None, ip_ban=False)
    await stack.stop_callmod()
    stack.emulator.faults.latency(1.5, times=1, path="query_banned_users")
    before = len(stack.emulator.requests)

    await stack.start_callmod()
    bans = book(stack)
    assert not bans.rehydrated.is_set()  # start() returned while the rebuild is held up
    # Let the rebuild's request reach the emulator first, so that it is the one held up (the
    # emulator records requests in a plain list: there is no event to wait on).
    while not ban_queries_since(stack, before):  # noqa: ASYNC110
        await asyncio.sleep(0.005)

    kicked = await stack.slash("/kick sara call-123", who=MODERATOR)
    listed = await stack.slash("/bans", who=MODERATOR)

    assert reply(stack, kicked) == ":boot: `sara` was kicked from `default:call-123`.\n_Case #1_"
    text = reply(stack, listed)  # answered from Stream while the rebuild still waits
    assert text.startswith("*Active bans* (2)") and "`sara`" in text and "`bob`" in text
    assert not bans.rehydrated.is_set()

    await bans.rehydrated.wait()
    assert "sara" in bans.timers and {r.user_id for r in bans.active()} == {"sara", "bob"}


# -- 5. bans made elsewhere ----------------------------------------------------------------------


@pytest.fixture
async def dashboard(stack: LocalStack) -> AsyncIterator[StreamClient]:
    """Another Stream client (Stream's dashboard, another tool) acting as the user `john`."""
    emulator = stack.emulator
    async with StreamClient(emulator.api_key, emulator.api_secret, emulator.base_url) as client:
        yield client


async def test_a_ban_made_elsewhere_is_announced_and_timed(
    stack: LocalStack, clock: ManualClock, dashboard: StreamClient
) -> None:
    start = clock.time()
    await dashboard.ban("sara", banned_by_id="john", reason="spam", timeout_minutes=60)
    await stack.idle()

    [message] = notifications(stack, "sara")
    assert message.text == (
        f":hammer: `sara` was banned by `john` in Stream for 1h, until "
        f"{date_token(start + HOUR)}."
    )
    assert buttons(message.blocks) == {UNBAN_ACTION: "sara", HISTORY_ACTION: "sara"}
    entry = book(stack).timers.get("sara")
    assert entry is not None and entry.deadline == start + HOUR

    await advance(stack, clock, HOUR)
    assert len(expiry_lines(stack, "sara")) == 1
    assert buttons(message.blocks) == {HISTORY_ACTION: "sara"}


async def test_an_unban_made_elsewhere_closes_the_notification(
    stack: LocalStack, clock: ManualClock, dashboard: StreamClient
) -> None:
    await stack.slash("/ban sara 2h")
    [message] = notifications(stack, "sara")

    await dashboard.unban("sara", unbanned_by_id="john")
    await stack.idle()

    assert buttons(message.blocks) == {HISTORY_ACTION: "sara"}
    assert "Unbanned by `john` in Stream at <!date^" in shown_text(message.blocks)
    assert "sara" not in book(stack).timers
    await advance(stack, clock, 3 * HOUR)
    assert expiry_lines(stack, "sara") == []


async def test_callmods_own_ban_is_announced_once_despite_the_echo(stack: LocalStack) -> None:
    await stack.slash("/ban sara 2h")

    echoes = [
        d
        for d in stack.emulator.webhooks_sent
        if d.event["type"] == "user.banned" and d.event["user"]["id"] == "sara"
    ]
    assert [d.status for d in echoes] == ["delivered"]
    assert len(notifications(stack, "sara")) == 1
    assert len(stack.log_lines()) == 1


async def test_an_echo_that_overtakes_the_answer_is_merged_not_repeated(
    stack: LocalStack, clock: ManualClock
) -> None:
    now = clock.time()
    await stack.emulator.send_event(
        {
            "type": "user.banned",
            "user": {"id": "sara"},
            "created_by": {"id": BOT},
            "created_at": format_stream_time(now),
            "expiration": format_stream_time(now + 2 * HOUR),
        }
    )
    await stack.idle()
    [early] = notifications(stack, "sara")
    assert "banned by callmod" in early.text

    await stack.slash("/ban sara 2h")

    [message] = notifications(stack, "sara")
    assert message.text.startswith(":hammer: `sara` was banned by <@U0ADMIN01> for 2h")
    assert buttons(message.blocks) == {UNBAN_ACTION: "sara", HISTORY_ACTION: "sara"}


async def test_a_late_echo_is_recognised_by_content_not_by_a_time_window(
    stack: LocalStack, clock: ManualClock
) -> None:
    await stack.slash("/ban sara 1d")
    ban = stack.emulator.state.bans["sara"]
    await advance(stack, clock, 3600)  # long after any echo window
    assert book(stack).bans_in_flight == 0  # nothing is held once the ban is answered
    await stack.emulator.send_event(
        {
            "type": "user.banned",
            "user": {"id": "sara"},
            "created_by": {"id": BOT},
            "created_at": format_stream_time(ban.created_at),
            "expiration": format_stream_time(ban.created_at + 86400),
        }
    )
    await stack.idle()
    assert len(notifications(stack, "sara")) == 1  # the same ban: not announced again


async def test_closed_notifications_are_remembered_within_a_bound(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.moderation.bans.book, "MAX_CLOSED_MESSAGES", 2)
    await stack.stop_callmod()  # the bound is read when the book is made
    await stack.start_callmod()
    for user in ("sara", "john", "alice"):
        await stack.slash(f"/ban {user} 1d")
        await stack.slash(f"/unban {user}")
    assert book(stack).remembered_messages == 2


# -- 2. the Unban button -------------------------------------------------------------------------


async def test_unban_button_is_for_admins_and_says_who_got_there_first(
    stack: LocalStack,
) -> None:
    await stack.slash("/ban sara 2h", who=MODERATOR)
    [message] = notifications(stack, "sara")
    before = len(stack.emulator.requests)

    denied = await click(stack, UNBAN_ACTION, "sara", MODERATOR, message=message)
    assert len(denied) == 1 and "You need the *admin* role" in denied[0]
    assert stack.emulator.state.active_ban("sara") is not None
    assert message.history == [] and unbans(stack, "sara", before) == []

    done = await click(stack, UNBAN_ACTION, "sara", ADMIN, message=message)
    assert done == [":dove_of_peace: You unbanned `sara`.\n_Case #2_"]
    assert stack.emulator.state.active_ban("sara") is None
    assert buttons(message.blocks) == {HISTORY_ACTION: "sara"}
    assert "Unbanned by <@U0ADMIN01> at <!date^" in shown_text(message.blocks)
    assert "sara" not in book(stack).timers

    again = await click(stack, UNBAN_ACTION, "sara", ADMIN, message=message)
    assert len(again) == 1
    assert again[0].startswith("That ban was already closed: Unbanned by <@U0ADMIN01> at")
    assert len(unbans(stack, "sara", before)) == 1


async def test_two_clicks_at_once_unban_once(stack: LocalStack) -> None:
    await stack.slash("/ban sara 2h")
    [message] = notifications(stack, "sara")
    before = len(stack.emulator.requests)
    assert stack.driver is not None
    driver = stack.driver

    results = await asyncio.gather(
        *(
            driver.click(
                action_id=UNBAN_ACTION,
                value="sara",
                user_id=ADMIN.user_id,
                user_name=ADMIN.user_name,
                message=message,
            )
            for _ in range(2)
        )
    )
    await stack.idle()

    texts = sorted(
        r.text for result in results for r in stack.slack.responses_for(result.response_key)
    )
    assert len(texts) == 2
    assert texts[0] == ":dove_of_peace: You unbanned `sara`.\n_Case #2_"
    assert texts[1].startswith("That ban was already closed:")
    assert len(unbans(stack, "sara", before)) == 1


async def test_unban_button_from_before_a_restart_still_closes_its_message(
    stack: LocalStack,
) -> None:
    await stack.slash("/ban sara 2h")
    [message] = notifications(stack, "sara")
    await restart(stack)

    done = await click(stack, UNBAN_ACTION, "sara", ADMIN, message=message)

    assert done == [":dove_of_peace: You unbanned `sara`.\n_Case #2_"]
    assert stack.emulator.state.active_ban("sara") is None
    assert buttons(message.blocks) == {HISTORY_ACTION: "sara"}
    assert "Unbanned by <@U0ADMIN01>" in shown_text(message.blocks)


# -- 6. /bans, paged -----------------------------------------------------------------------------


async def test_bans_is_paged_with_next_and_previous_buttons(
    stack: LocalStack, clock: ManualClock
) -> None:
    state = stack.emulator.state
    users = [f"user{i:02d}" for i in range(45)]
    for hours, user in enumerate(users, start=1):
        state.add_user(user)
        reason = "<&>" * 150  # far longer than shown, and every character escaped
        state.ban(user, banned_by="john", reason=reason, timeout_minutes=hours * 60, ip_ban=False)
    await restart(stack)  # callmod knows them now, and /bans still pages Stream

    first = await stack.slash("/bans", who=MODERATOR)
    [page] = stack.slack.responses_for(first.response_key)
    seen = check_page(page.blocks, None)
    assert page.text.startswith("*Active bans* 1–20 (more on the next page)\n• `user")
    assert " left (until " in page.text and "— by `john` in Stream" in page.text
    assert set(buttons(page.blocks)) == {BANS_PAGE_ACTION}

    key = first.response_key
    for size in (20, 5):
        await click(stack, BANS_PAGE_ACTION, next_button(page.blocks), MODERATOR, response_key=key)
        page = stack.slack.responses_for(key)[-1]
        assert page.replace_original
        if size == 20:  # the middle page: both buttons, with distinct action_ids as Slack wants
            assert set(buttons(page.blocks)) == {BANS_PAGE_ACTION, BANS_PAGE_BACK_ACTION}
        listed = check_page(page.blocks, None)
        assert len(listed) == size
        seen += listed

    assert sorted(seen) == users  # every ban once, in Stream's order (newest first)
    assert page.text.startswith("*Active bans* 41–45")
    assert button_labels(page.blocks) == ["Previous page"]
    previous = buttons(page.blocks)[BANS_PAGE_BACK_ACTION]
    denied = await click(stack, BANS_PAGE_BACK_ACTION, previous, OUTSIDER)
    assert "You need the *moderator* role" in denied[0]
    await click(stack, BANS_PAGE_BACK_ACTION, previous, MODERATOR, response_key=key)
    page = stack.slack.responses_for(key)[-1]
    assert page.text.startswith("*Active bans* 21–40")


def button_labels(message_blocks: list[dict[str, Any]]) -> list[str]:
    return [
        element["text"]["text"]
        for block in message_blocks
        for element in block.get("elements") or []
        if element.get("type") == "button"
    ]


def next_button(message_blocks: list[dict[str, Any]]) -> str:
    for block in message_blocks:
        for element in block.get("elements") or []:
            if element.get("text", {}).get("text") == "Next page":
                return str(element["value"])
    raise AssertionError("no Next page button")


def check_page(message_blocks: list[dict[str, Any]], expected: list[str] | None) -> list[str]:
    assert len(message_blocks) <= 50
    sections = [b["text"]["text"] for b in message_blocks if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections)
    listed = [s.split("`")[1] for s in sections[1:]]
    if expected is not None:
        assert listed == expected
    return listed


async def test_bans_pages_through_stream_before_the_rebuild(stack: LocalStack) -> None:
    bans = book(stack)
    await bans.rehydrated.wait()
    bans.rehydrated.clear()  # as if the rebuild were still running: /bans asks Stream
    state = stack.emulator.state
    for i in range(25):
        state.add_user(f"user{i:02d}")
        state.ban(f"user{i:02d}", banned_by="john", reason=None, timeout_minutes=None, ip_ban=False)

    first = await stack.slash("/bans", who=MODERATOR)
    [page] = stack.slack.responses_for(first.response_key)
    assert page.text.startswith("*Active bans* 1–20 (more on the next page)")
    assert len(check_page(page.blocks, [f"user{i:02d}" for i in range(20)])) == 20

    await click(stack, BANS_PAGE_ACTION, next_button(page.blocks), MODERATOR,
                response_key=first.response_key)
    last = stack.slack.responses_for(first.response_key)[-1]
    assert last.text.startswith("*Active bans* 21–25")
    assert len(check_page(last.blocks, [f"user{i:02d}" for i in range(20, 25)])) == 5
