"""Moderation done in Stream outside Slack (the dashboard, another backend, Stream's own rules),
seen in its webhooks: each action becomes a case by "Stream (outside Slack)" and a line in the
log channel.

callmod's own actions are echoed by the same webhooks; `EchoBook` recognises those by content
and they are left alone (their case and audit line exist already). The rest are grouped per call:
one message per call and window lists the latest actions with counts by kind, so a burst of
2,000 mutes is a handful of messages rather than 2,000, while every action is still its own case.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cachetools import LRUCache
from slack_sdk.models.blocks import Block

from bot.cases import Kind, MessagePurpose, NewCase, Outcome, Source
from bot.core.model import MessageRef
from bot.moderation.coalesced import CoalescedMessage
from bot.moderation.echoes import EchoBook
from bot.moderation.history.book import CaseBook, Ticket
from bot.moderation.history.render import REASON_SHOWN, counts_line, history_button
from bot.slack import blocks
from bot.slack.blocks import code, escape, truncate
from bot.slack.poster import Metadata, SlackPoster, case_metadata
from bot.stream.events import (
    ActionEvent,
    CallEnded,
    CallPermissionsUpdated,
    CallUserEvent,
    CallUserMuted,
    UserStateChanged,
)
from bot.util.clock import Clock
from bot.util.request_ids import request_id

log = logging.getLogger("callmod.outside")

BATCH_WINDOW = 60.0  # seconds a call's message keeps taking new actions
BATCH_MAX = 1_000  # actions per message; its counts line covers them all
LINES_SHOWN = 10  # the latest actions listed in a message
HISTORY_BUTTONS = 5
USER_EVENTS = ""  # the batch key of actions on users rather than calls

_CALL_USER_KINDS = {
    "call.kicked_user": Kind.KICK,
    "call.blocked_user": Kind.BLOCK,
    "call.unblocked_user": Kind.UNBLOCK,
}
_VERBS = {
    Kind.KICK: "kicked",
    Kind.BLOCK: "blocked",
    Kind.UNBLOCK: "unblocked",
    Kind.MUTE: "muted",
    Kind.MUTE_ALL: "muted everyone",
    Kind.PERMISSIONS: "changed the permissions of",
    Kind.END_CALL: "ended the call",
    Kind.DEACTIVATE: "deactivated",
    Kind.REACTIVATE: "reactivated",
}


@dataclass(frozen=True)
class OutsideAction:
    kind: Kind
    target: str | None
    call_cid: str | None
    by: str | None  # the Stream user Stream names as the maker, if any
    reason: str | None
    at: datetime
    detail: str = ""  # what else Stream said, mrkdwn (a permission change's new capabilities)

    @property
    def summary(self) -> str:
        target = f" {code(self.target)}" if self.target else ""
        where = f" in {code(self.call_cid)}" if self.call_cid else ""
        return f"{_VERBS[self.kind]}{target}{where}{self.detail}"


def actions_of(event: ActionEvent) -> list[OutsideAction]:
    """What an event reports, one action per affected user."""
    if isinstance(event, CallUserEvent):
        by = event.by.id if event.by else None
        kind = _CALL_USER_KINDS[event.type]
        return [OutsideAction(kind, event.user.id, event.call_cid, by, None, event.created_at)]
    if isinstance(event, CallUserMuted):
        if not event.muted_user_ids:
            return [
                OutsideAction(
                    Kind.MUTE_ALL,
                    None,
                    event.call_cid,
                    event.from_user_id,
                    event.reason,
                    event.created_at,
                )
            ]
        return [
            OutsideAction(
                Kind.MUTE, user, event.call_cid, event.from_user_id, event.reason, event.created_at
            )
            for user in dict.fromkeys(event.muted_user_ids)
        ]
    if isinstance(event, CallPermissionsUpdated):
        capabilities = [c for c in event.own_capabilities if isinstance(c, str)]
        now = f" (now: {escape(', '.join(capabilities)[:300])})" if capabilities else ""
        return [
            OutsideAction(
                Kind.PERMISSIONS, event.user.id, event.call_cid, None, None, event.created_at, now
            )
        ]
    if isinstance(event, CallEnded):
        by = event.user.id if event.user else None
        ended = OutsideAction(
            Kind.END_CALL, None, event.call_cid, by, event.reason, event.created_at
        )
        return [ended]
    assert isinstance(event, UserStateChanged)
    kind = Kind.DEACTIVATE if event.type == "user.deactivated" else Kind.REACTIVATE
    by = event.by.id if event.by else None
    return [OutsideAction(kind, event.user.id, None, by, None, event.created_at)]


@dataclass
class _Item:
    action: OutsideAction
    ticket: Ticket
    linked_to: str | None = None  # the ts of the message the case is linked to


@dataclass
class _Batch:
    key: str
    opened_at: float
    message: CoalescedMessage
    items: list[_Item] = field(default_factory=list)
    counts: Counter[Kind] = field(default_factory=Counter)


@dataclass
class OutsideStats:
    actions: int = 0  # recorded as cases
    echoes: int = 0  # callmod's own actions, left alone


class OutsideDesk:
    def __init__(
        self,
        *,
        cases: CaseBook,
        echoes: EchoBook,
        poster: SlackPoster,
        channel: str | None,
        clock: Clock,
    ) -> None:
        self._cases = cases
        self._echoes = echoes
        self._poster = poster
        self._channel = channel
        self._clock = clock
        self._open: dict[str, _Batch] = {}
        # A retried delivery shows its batch again rather than recording its cases twice.
        self._by_delivery: LRUCache[str, _Batch | None] = LRUCache(maxsize=10_000)
        self.stats = OutsideStats()

    async def on_event(self, event: ActionEvent, delivery_id: str) -> None:
        """Record the event's actions and show them; raises SlackPostError when the message
        could not be brought up to date (the caller retries with the same delivery id)."""
        if delivery_id in self._by_delivery:
            batch = self._by_delivery[delivery_id]
        else:
            batch = await self._take(event)
            self._by_delivery[delivery_id] = batch
        if batch is not None:
            await batch.message.show()
            await self._link(batch)

    async def _take(self, event: ActionEvent) -> _Batch | None:
        if self._echoes.is_own(event):
            self.stats.echoes += 1
            log.debug("%s is callmod's own action", event.type)
            return None
        actions = actions_of(event)
        if self._channel is None:
            for action in actions:
                await self._cases.record(_case(action))
            self.stats.actions += len(actions)
            return None
        batch = self._batch_for(actions[0].call_cid or USER_EVENTS, self._channel)
        with batch.message.preparing():
            tickets = [await self._cases.record(_case(action)) for action in actions]
            self.stats.actions += len(actions)
            for action, ticket in zip(actions, tickets, strict=True):
                batch.items.append(_Item(action, ticket))
                batch.counts[action.kind] += 1
            batch.message.changed()
        return batch

    def _batch_for(self, key: str, channel: str) -> _Batch:
        now = self._clock.time()
        batch = self._open.get(key)
        if batch is None or len(batch.items) >= BATCH_MAX or now - batch.opened_at >= BATCH_WINDOW:
            if len(self._open) > 1_000:
                self._open = {
                    k: b for k, b in self._open.items() if now - b.opened_at < BATCH_WINDOW
                }
            new = _Batch(
                key,
                now,
                CoalescedMessage(
                    self._poster, channel, lambda: render(new), lambda: _metadata(new)
                ),
            )
            batch = self._open[key] = new
        return batch

    async def _link(self, batch: _Batch) -> None:
        ts = batch.message.ts
        if ts is None:
            return
        message = MessageRef(batch.message.channel, ts)
        for item in batch.items:
            if item.linked_to != ts:
                item.linked_to = ts
                await self._cases.link(item.ticket, message, MessagePurpose.AUDIT)

    @property
    def messages(self) -> tuple[int, int]:
        """(posted, edited) over the open batches: for tests and benchmarks."""
        batches = list(self._open.values())
        return sum(b.message.posts for b in batches), sum(b.message.edits for b in batches)


def _metadata(batch: _Batch) -> Metadata:
    """The `callmod_case` metadata of a batch's message: the user, call and case each when the
    message is about one of them."""
    users = {item.action.target for item in batch.items}
    calls = {item.action.call_cid for item in batch.items}
    numbers = [n for item in batch.items for n in item.ticket.numbers]
    return case_metadata(
        user_id=users.pop() if len(users) == 1 else None,
        call_cid=calls.pop() if len(calls) == 1 else None,
        case_number=numbers[0] if len(numbers) == 1 and len(batch.items) == 1 else None,
    )


def _case(action: OutsideAction) -> NewCase:
    return NewCase(
        kind=action.kind,
        source=Source.STREAM,
        outcome=Outcome.DONE,
        request_id=request_id.get(),
        target_user_id=action.target,
        call_cid=action.call_cid,
        reason=action.reason,
        detail=_detail(action),
    )


def _detail(action: OutsideAction) -> str:
    by = f" (by {code(action.by)} in Stream)" if action.by else ""
    return f"{action.summary}{by}"


def render(batch: _Batch) -> tuple[str, list[dict[str, Any]]]:
    where = f" · {code(batch.key)}" if batch.key else ""
    total = len(batch.items)
    head = (
        f":satellite: *Changed in Stream, outside Slack*{where} · "
        f"{total} action{'s' if total != 1 else ''}: {counts_line(dict(batch.counts))}"
    )
    parts: list[Block] = [blocks.section(head)]
    shown = batch.items[-LINES_SHOWN:]
    for item in reversed(shown):
        parts.append(blocks.context(_line(item)))
    earlier = batch.items[: total - len(shown)]
    numbers = [n for item in earlier for n in item.ticket.numbers]
    if earlier:
        cases = f" (cases #{min(numbers)}–#{max(numbers)})" if numbers else ""
        parts.append(blocks.context(f"_…and {len(earlier)} earlier in this message{cases}._"))
    targets = list(dict.fromkeys(i.action.target for i in reversed(shown) if i.action.target))
    if targets:
        parts.append(
            blocks.actions([history_button(t, len(targets) > 1) for t in targets[:HISTORY_BUTTONS]])
        )
    return truncate(head, 300), blocks.to_dicts(parts)


def _line(item: _Item) -> str:
    action = item.action
    line = f"{blocks.date_token(action.at, '{time}')} · {_detail(action)}"
    if action.reason:
        line += f" · reason: {escape(truncate(action.reason, REASON_SHOWN))}"
    return f"{line} · {item.ticket.label}" if item.ticket.label else line
