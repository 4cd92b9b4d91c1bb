"""A property test of the whole ban lifecycle through the real stack: any interleaving of ban and
unban commands, Unban clicks, expiries, restarts and Stream's own bans and unbans (webhooks in any
order, some duplicated, some lost) ends — after one reconciliation — with callmod agreeing with
Stream, and every ban announced and closed at most once."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.local.fake_slack import PostedMessage
from bot.local.stack import ADMIN, LocalStack
from bot.moderation.bans.render import UNBAN_ACTION
from bot.util.clock import ManualClock
from bot.util.timefmt import format_stream_time
from tests.commands.cmdtest import find_button

USERS = ("sara", "bob")
CLOSED = re.compile(r"(Expired at|Unbanned by|Replaced by a newer ban at) ")


@dataclass(frozen=True)
class Op:
    kind: str
    user: str = "sara"
    minutes: int | None = None
    webhook: str = "once"  # once, twice, lost


users = st.sampled_from(USERS)
webhooks = st.sampled_from(["once", "twice", "lost"])
operations = st.one_of(
    st.builds(Op, st.just("ban"), users, st.sampled_from([30, 90, None])),
    st.builds(Op, st.just("unban"), users),
    st.builds(Op, st.just("click_unban"), users),
    st.builds(Op, st.just("advance"), minutes=st.sampled_from([10, 40, 100])),
    st.builds(Op, st.just("restart")),
    st.builds(Op, st.just("stream_ban"), users, st.sampled_from([30, None]), webhooks),
    st.builds(Op, st.just("stream_unban"), users, webhook=webhooks),
)


async def _webhook(stack: LocalStack, event: dict[str, object], how: str) -> None:
    for _ in range({"once": 1, "twice": 2, "lost": 0}[how]):
        await stack.emulator.send_event(event)
    await stack.idle()


async def _apply(stack: LocalStack, clock: ManualClock, op: Op) -> None:
    state = stack.emulator.state
    if op.kind == "ban":
        length = f" {op.minutes}m" if op.minutes else ""
        await stack.slash(f"/ban {op.user}{length} spam")
    elif op.kind == "unban":
        await stack.slash(f"/unban {op.user}")
    elif op.kind == "click_unban":
        open_ones = [
            m for m in _notifications(stack, op.user) if find_button(m.blocks, UNBAN_ACTION)
        ]
        if open_ones and stack.driver is not None:
            await stack.driver.click(
                action_id=UNBAN_ACTION,
                value=op.user,
                user_id=ADMIN.user_id,
                user_name=ADMIN.user_name,
                message=open_ones[-1],
            )
            await stack.idle()
    elif op.kind == "advance":
        await clock.advance((op.minutes or 0) * 60)
        await stack.idle()
    elif op.kind == "restart":
        await stack.stop_callmod()
        callmod = await stack.start_callmod()
        await callmod.bans.rehydrated.wait()
        await stack.idle()
    elif op.kind == "stream_ban":
        ban = state.ban(
            op.user, banned_by="john", reason="dash", timeout_minutes=op.minutes, ip_ban=False
        )
        event: dict[str, object] = {
            "type": "user.banned",
            "user": {"id": op.user},
            "created_by": {"id": "john"},
            "created_at": format_stream_time(ban.created_at),
        }
        if ban.expires_at is not None:
            event["expiration"] = format_stream_time(ban.expires_at)
        await _webhook(stack, event, op.webhook)
    elif op.kind == "stream_unban":
        if state.active_ban(op.user) is None:
            return
        state.unban(op.user, unbanned_by="john")
        event = {
            "type": "user.unbanned",
            "user": {"id": op.user},
            "created_by": {"id": "john"},
            "created_at": format_stream_time(clock.time()),
        }
        await _webhook(stack, event, op.webhook)


def _notifications(stack: LocalStack, user: str) -> list[PostedMessage]:
    prefix = f":hammer: `{user}` was banned"
    return [m for m in stack.slack.messages_in("C0MODLOG") if m.text.startswith(prefix)]


async def _run(ops: list[Op]) -> None:
    clock = ManualClock()
    stack = LocalStack(clock=clock, mod_reconcile_seconds=300)
    await stack.start()
    try:
        assert stack.callmod is not None
        await stack.callmod.bans.rehydrated.wait()
        for op in ops:
            await _apply(stack, clock, op)
        book = stack.callmod.bans
        book.reconciled.clear()
        await clock.advance(300)  # one reconciliation round
        await book.reconciled.wait()
        await stack.idle()

        state = stack.emulator.state
        in_stream = {user for user in USERS if state.active_ban(user) is not None}
        listed = await stack.slash("/bans")
        [answer] = stack.replies(listed)
        shown = set(re.findall(r"^• `([a-z]+)`", answer, re.MULTILINE))
        assert shown == in_stream, (answer, ops)

        made = Counter(op.user for op in ops if op.kind in ("ban", "stream_ban"))
        expiries = Counter(
            m.text.split("`")[1]
            for m in stack.slack.messages_in("C0MODLOG")
            if m.text.startswith(":hourglass:")
        )
        for user in USERS:
            messages = _notifications(stack, user)
            still_open = [m for m in messages if find_button(m.blocks, UNBAN_ACTION)]
            assert len(still_open) <= 1, (user, ops)
            if still_open:
                assert user in in_stream, (user, ops)
            for message in messages:
                versions = [v["text"] for v in message.history] + [message.text]
                closings = {
                    m.group(0) + v.split(m.group(0))[1] for v in versions if (m := CLOSED.search(v))
                }
                assert len(closings) <= 1, (versions, ops)  # closed once, never re-closed
            assert expiries[user] <= made[user], (user, ops)  # never announced twice
    finally:
        await stack.stop()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(operations, min_size=1, max_size=10))
# Found by this test: a ban replaced in Stream while callmod was away (its webhook lost) left the
# old notification open with its Unban button after the restart.
@example(
    [
        Op("ban", "bob", 30),
        Op("advance", minutes=10),
        Op("stream_ban", "bob", 30, "lost"),
        Op("restart"),
        Op("unban", "bob"),
    ]
)
# Found by this test (under load): a periodic reconciliation round woken during an `advance` was
# still making its HTTP calls when the test asked for the next round, and its late `reconciled`
# answered for a round that never ran; `BanBook.idle` now waits for a round under way.
@example(
    [Op("ban", "sara", 30), Op("advance", minutes=10), Op("stream_unban", "sara", webhook="lost")]
)
def test_any_interleaving_ends_agreeing_with_stream(ops: list[Op]) -> None:
    import asyncio

    asyncio.run(_run(ops))
