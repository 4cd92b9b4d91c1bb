"""The permission-request desk: `call.permission_request` webhooks become Slack messages with
Approve / Deny buttons, and a click grants exactly what was asked for.

Requests for the same call that arrive close together share one message (a "batch"), re-rendered
in place as requests arrive and are decided, so a flood of requests posts a handful of messages
instead of hitting Slack's one-message-per-second-per-channel limit. Each batch has at most one
Slack call in flight; whatever changed meanwhile is sent by the next call (the latest state wins).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, cast

from cachetools import FIFOCache

from bot.cases.models import Kind
from bot.core.context import ActionContext
from bot.core.model import Click, Plan, Reply, Role
from bot.core.parsing import PERMISSION_PHRASES, UsageError, describe_permissions, parse_call
from bot.core.registry import ButtonAction
from bot.moderation.history.render import history_button
from bot.moderation.shared_requests import Decision, RequestShare, SharedRequest
from bot.shared import SharedStateError
from bot.slack import blocks
from bot.slack.blocks import Button, code, date_token, escape, mention
from bot.slack.poster import SlackPoster, SlackPostError, case_metadata
from bot.stream import CallRef, Permission, StreamAPIError
from bot.stream.events import PermissionRequest
from bot.util.clock import Clock

log = logging.getLogger("callmod.permission_requests")

APPROVE_ACTION = "callmod_request_approve"
DENY_ACTION = "callmod_request_deny"
# One button per permission, for requests that ask for several; action ids must be unique
# within an actions block, so each permission gets its own.
APPROVE_ONLY_ACTIONS: dict[str, str] = {
    permission: f"callmod_request_approve_{permission}" for permission in PERMISSION_PHRASES
}

# A batch message is one header block plus two blocks (section + actions/status) per request,
# and Slack allows 50 blocks a message.
MAX_REQUESTS_PER_MESSAGE = (blocks.MAX_BLOCKS - 1) // 2
DEFAULT_BATCH_WINDOW = 60.0
DEFAULT_MAX_REQUESTS = 10_000
TRY_AGAIN = (
    ":hourglass: callmod cannot make sure this click acts only once right now; nothing was "
    "sent to Stream. Try again in a moment."
)

ClickHandler = Callable[[ActionContext, Click], Awaitable[Reply]]


class Status(Enum):
    PENDING = "pending"
    CLAIMED = "claimed"  # a moderator's approval is on its way to Stream
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


@dataclass(eq=False)
class RequestRecord:
    id: str
    call: CallRef
    user_id: str
    user_name: str | None
    permissions: tuple[str, ...]
    asked_at: float  # Stream's created_at, shown to moderators
    received_at: float  # our clock; the age limit counts from here
    batch: Batch
    status: Status = Status.PENDING
    handled_by: str | None = None  # Slack user id of the claiming / deciding moderator
    decided_at: float | None = None
    granted: tuple[str, ...] = ()


@dataclass(eq=False)
class Batch:
    """One Slack message listing requests for one call."""

    call: CallRef
    channel: str
    opened_at: float
    requests: list[RequestRecord] = field(default_factory=list)
    ts: str | None = None
    version: int = 0  # bumped on every change
    shown: int = 0  # the version Slack shows
    flusher: asyncio.Task[None] | None = None
    borrowed: bool = False  # posted by another replica: shown from the shared state


@dataclass
class DeskStats:
    requests: int = 0
    messages_posted: int = 0
    messages_updated: int = 0


class PermissionDesk:
    def __init__(
        self,
        *,
        poster: SlackPoster,
        channel: str | None,
        clock: Clock,
        max_age: float,
        default_call_type: str = "default",
        batch_window: float = DEFAULT_BATCH_WINDOW,
        batch_size: int = MAX_REQUESTS_PER_MESSAGE,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        shared: RequestShare | None = None,
    ) -> None:
        """`shared`: several replicas run; a click on any of them decides a request once."""
        if not 1 <= batch_size <= MAX_REQUESTS_PER_MESSAGE:
            raise ValueError(f"batch_size must be 1..{MAX_REQUESTS_PER_MESSAGE}")
        self._poster = poster
        self._channel = channel
        self._clock = clock
        self._max_age = max_age
        self._default_call_type = default_call_type
        self._batch_window = batch_window
        self._batch_size = batch_size
        # The newest requests, by id (for clicks) and by webhook delivery (for Stream's retries).
        self.requests: FIFOCache[str, RequestRecord] = FIFOCache(max_requests)
        self._by_delivery: FIFOCache[str, RequestRecord] = FIFOCache(max_requests)
        self._open: dict[str, Batch] = {}  # call cid -> the batch new requests join
        self._flushers: set[asyncio.Task[None]] = set()
        self._shared = shared
        self.stats = DeskStats()

    def buttons(self) -> list[ButtonAction]:
        approve_only = [
            ButtonAction(action_id, Role.MODERATOR, self._approve_only(permission))
            for permission, action_id in APPROVE_ONLY_ACTIONS.items()
        ]
        return [
            ButtonAction(APPROVE_ACTION, Role.MODERATOR, self._approve_all),
            ButtonAction(DENY_ACTION, Role.MODERATOR, self._deny),
            *approve_only,
        ]

    async def idle(self) -> None:
        while self._flushers:
            await asyncio.gather(*self._flushers, return_exceptions=True)

    # -- intake ------------------------------------------------------------------------------

    async def on_request(self, event: PermissionRequest, delivery_id: str) -> None:
        """Show the request in Slack; returns once a message including it is posted, and raises
        `SlackPostError` otherwise (the caller retries with the same delivery id)."""
        record = self._by_delivery.get(delivery_id)
        if record is None:
            if self._channel is None:
                log.warning("permission request dropped: no requests channel is configured")
                return
            try:
                call = parse_call(event.call_cid, self._default_call_type)
            except UsageError:
                log.warning("permission request for a malformed call cid ignored")
                return
            record = self._add(event, call, self._channel, delivery_id)
            await self._publish(record)
        await self._show(record.batch)

    def _add(
        self, event: PermissionRequest, call: CallRef, channel: str, delivery_id: str
    ) -> RequestRecord:
        now = self._clock.time()
        batch = self._batch_for(call, channel, now)
        record = RequestRecord(
            id=self._new_id(),
            call=call,
            user_id=event.user.id,
            user_name=event.user.name,
            permissions=tuple(dict.fromkeys(event.permissions)),
            asked_at=event.created_at.timestamp(),
            received_at=now,
            batch=batch,
        )
        batch.requests.append(record)
        batch.version += 1
        self.requests[record.id] = record
        self._by_delivery[delivery_id] = record
        self.stats.requests += 1
        return record

    def _batch_for(self, call: CallRef, channel: str, now: float) -> Batch:
        batch = self._open.get(call.cid)
        if (
            batch is None
            or len(batch.requests) >= self._batch_size
            or now - batch.opened_at >= self._batch_window
        ):
            if len(self._open) > 1000:
                window = self._batch_window
                self._open = {c: b for c, b in self._open.items() if now - b.opened_at < window}
            batch = Batch(call=call, channel=channel, opened_at=now)
            self._open[call.cid] = batch
        return batch

    def _new_id(self) -> str:
        while True:
            request_id = secrets.token_hex(5)
            if request_id not in self.requests:
                return request_id

    # -- showing a batch in Slack ----------------------------------------------------------------

    async def _show(self, batch: Batch) -> None:
        """Return once Slack shows the batch as of now; raises SlackPostError on failure."""
        wanted = batch.version
        while batch.shown < wanted:
            flusher = batch.flusher
            if flusher is None or flusher.done():
                flusher = batch.flusher = asyncio.create_task(self._flush(batch))
                self._flushers.add(flusher)
                flusher.add_done_callback(self._flusher_done)
            await asyncio.shield(flusher)

    def _flusher_done(self, task: asyncio.Task[None]) -> None:
        self._flushers.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("could not show permission requests in Slack: %s", error)

    async def _flush(self, batch: Batch) -> None:
        while batch.shown < batch.version:
            await self._apply_decisions(batch)
            self._expire_due(batch)
            version = batch.version
            text, rendered = render(batch, self._max_age)
            users = {record.user_id for record in batch.requests}
            metadata = case_metadata(
                user_id=users.pop() if len(users) == 1 else None, call_cid=batch.call.cid
            )
            if batch.ts is None:
                batch.ts = await self._poster.post(batch.channel, text, rendered, metadata=metadata)
                self.stats.messages_posted += 1
            else:
                await self._poster.update(
                    batch.channel, batch.ts, text, rendered, metadata=metadata
                )
                self.stats.messages_updated += 1
            batch.shown = version
            await self._publish_batch(batch)

    def _expire_due(self, batch: Batch) -> None:
        for record in batch.requests:
            if record.status is Status.PENDING and self._too_old(record):
                record.status = Status.EXPIRED
                batch.version += 1

    def pending(self) -> list[RequestRecord]:
        """Requests still waiting for a decision and not yet too old, oldest first (the App
        Home lists them)."""
        waiting = [
            r for r in self.requests.values() if r.status is Status.PENDING and not self._too_old(r)
        ]
        return sorted(waiting, key=lambda r: r.asked_at)

    def _too_old(self, record: RequestRecord) -> bool:
        return self._clock.time() - record.received_at > self._max_age

    async def _show_after_click(self, batch: Batch) -> str:
        """Update the message after a decision; a failure is a note for the clicker."""
        try:
            if batch.borrowed:  # posted by another replica: re-rendered from the shared state
                await self._show_borrowed(batch)
                return ""
            await self._show(batch)
        except SlackPostError as error:
            return f"\n_(The request message could not be updated: {escape(str(error))}.)_"
        return ""

    # -- clicks --------------------------------------------------------------------------------

    async def _approve_all(self, ctx: ActionContext, click: Click) -> Reply:
        record = await self._record(click.value, click)
        return await self._decide(ctx, click, record.permissions if record else ())

    def _approve_only(self, permission: str) -> ClickHandler:
        async def approve(ctx: ActionContext, click: Click) -> Reply:
            return await self._decide(ctx, click, (permission,))

        return approve

    async def _deny(self, ctx: ActionContext, click: Click) -> Reply:
        return await self._decide(ctx, click, None)

    async def _decide(
        self, ctx: ActionContext, click: Click, grant: tuple[str, ...] | None
    ) -> Reply:
        """`grant` None denies; otherwise the permissions to grant (all or one of the asked)."""
        actor = ctx.actor
        try:
            record = await self._record(click.value, click)
        except SharedStateError:
            return Reply(TRY_AGAIN)
        if record is None:
            return Reply(
                ":warning: callmod no longer knows this request (it is too old, or callmod "
                "restarted since). Nothing was sent to Stream; ask the user to request again."
            )
        if record.status is not Status.PENDING:
            return Reply(already_handled(record))
        if grant is not None and not set(grant) <= set(record.permissions):
            return Reply(":warning: That permission was not part of this request.")
        batch = record.batch
        if self._too_old(record):
            record.status = Status.EXPIRED
            batch.version += 1
            note = await self._show_after_click(batch)
            return Reply(
                f":hourglass: This request expired; {_who(record)} asked more than "
                f"{_minutes(self._max_age)} ago. Nothing was sent to Stream; they can ask again."
                + note
            )
        # Claimed before any await, so a second click (or a double click) finds it taken.
        record.status = Status.CLAIMED
        record.handled_by = actor.user_id
        if self._shared is not None:  # and across replicas: only the claim's winner acts
            refused = await self._claim_shared(record, actor.user_id)
            if refused is not None:
                return refused
        if grant:
            try:
                await ctx.stream.update_user_permissions(
                    record.call, record.user_id, grant=cast(tuple[Permission, ...], grant)
                )
            except StreamAPIError as error:
                record.status = Status.PENDING
                record.handled_by = None
                await self._release_shared(record, actor.user_id)
                advice = (
                    "It may have been applied before the answer was lost; the buttons are "
                    "still there, so approving again is safe."
                    if error.maybe_applied
                    else "Nothing was changed; the buttons are still there to try again."
                )
                return Reply(
                    f":x: Could not approve {_who(record)}: {escape(error.sentence)}. {advice}"
                )
        record.status = Status.APPROVED if grant is not None else Status.DENIED
        record.granted = grant or ()
        record.decided_at = self._clock.time()
        batch.version += 1
        await self._share_decision(record)
        note = await self._show_after_click(batch)
        if record.status is Status.APPROVED:
            text = (
                f":white_check_mark: {_who(record)} may now {describe_permissions(record.granted)} "
                f"in {code(record.call.cid)}."
            )
        else:
            text = (
                f":no_entry_sign: Denied: {_who(record)} may not "
                f"{describe_permissions(record.permissions)} in {code(record.call.cid)}."
            )
        return Reply(text + note, did=_plan(record))  # the dispatcher records and audits it


    # -- several replicas (bot/moderation/shared_requests.py) ------------------------------------

    async def _publish(self, record: RequestRecord) -> None:
        if self._shared is None:
            return
        shared = SharedRequest(
            record.id,
            record.call,
            record.user_id,
            record.user_name,
            record.permissions,
            record.asked_at,
            record.received_at,
        )
        try:
            await self._shared.publish(shared)
        except SharedStateError as error:  # a click on another replica will not know it
            log.warning("could not share permission request %s: %s", record.id, error)

    async def _record(self, request_id: str, click: Click) -> RequestRecord | None:
        """The request a click names: this replica's, or one another replica posted (then in a
        borrowed batch: the clicked message, shown from the shared state)."""
        record = self.requests.get(request_id)
        if record is not None or self._shared is None:
            return record
        shared = await self._shared.load(request_id)
        if shared is None:
            return None
        batch = Batch(
            call=shared.call,
            channel=click.channel_id or "",
            opened_at=shared.received_at,
            ts=click.message_ts,
            borrowed=True,
        )
        record = self._shared_record(shared, batch)
        batch.requests.append(record)
        return record

    @staticmethod
    def _shared_record(shared: SharedRequest, batch: Batch) -> RequestRecord:
        return RequestRecord(
            id=shared.id,
            call=shared.call,
            user_id=shared.user_id,
            user_name=shared.user_name,
            permissions=shared.permissions,
            asked_at=shared.asked_at,
            received_at=shared.received_at,
            batch=batch,
        )

    async def _publish_batch(self, batch: Batch) -> None:
        if self._shared is None or batch.ts is None or batch.borrowed:
            return
        try:
            await self._shared.publish_batch(
                batch.channel, batch.ts, [record.id for record in batch.requests]
            )
        except SharedStateError as error:  # a click elsewhere leaves the message as it is
            log.warning("could not share a permission-request message: %s", error)

    async def _show_borrowed(self, batch: Batch) -> None:
        """Re-render a message another replica posted: every request it lists, with the
        decisions made on any replica, from the shared state. SlackPostError on failure."""
        assert self._shared is not None
        if not batch.channel or batch.ts is None:
            return
        try:
            ids = await self._shared.batch(batch.channel, batch.ts)
            if ids is None:
                return
            decided = {record.id: record for record in batch.requests}
            full = Batch(batch.call, batch.channel, batch.opened_at, ts=batch.ts, borrowed=True)
            for request_id in ids:
                record = decided.get(request_id)
                if record is None:
                    shared = await self._shared.load(request_id)
                    if shared is None:
                        continue
                    record = self._shared_record(shared, full)
                    if (decision := await self._shared.decision(request_id)) is not None:
                        self._apply(record, decision)
                full.requests.append(record)
        except SharedStateError as error:
            log.warning("could not re-render a permission-request message: %s", error)
            return
        self._expire_due(full)
        text, rendered = render(full, self._max_age)
        users = {record.user_id for record in full.requests}
        metadata = case_metadata(
            user_id=users.pop() if len(users) == 1 else None, call_cid=full.call.cid
        )
        await self._poster.update(full.channel, batch.ts, text, rendered, metadata=metadata)
        self.stats.messages_updated += 1

    async def _claim_shared(self, record: RequestRecord, user_id: str) -> Reply | None:
        """Claim the request in the shared state; the reply when it cannot be had."""
        assert self._shared is not None
        try:
            holder = await self._shared.claim(record.id, user_id)
            # Read even when the claim was won: a claim whose lease ran out may be on a request
            # decided already (by a replica that died before giving its claim back).
            decision = await self._shared.decision(record.id)
        except SharedStateError as error:
            log.warning("could not claim permission request %s: %s", record.id, error)
            record.status, record.handled_by = Status.PENDING, None
            return Reply(TRY_AGAIN)
        if holder is None and decision is None:
            return None
        if holder is None:
            await self._release_shared(record, user_id)
        record.status, record.handled_by = Status.PENDING, None
        if decision is None:
            assert holder is not None
            return Reply(f"{mention(holder)} is handling this request right now.")
        self._apply(record, decision)
        note = await self._show_after_click(record.batch)
        return Reply(already_handled(record) + note)

    async def _release_shared(self, record: RequestRecord, user_id: str) -> None:
        if self._shared is not None:
            try:
                await self._shared.release(record.id, user_id)
            except SharedStateError as error:  # the claim stays: "handling it right now"
                log.warning("could not release permission request %s: %s", record.id, error)

    async def _share_decision(self, record: RequestRecord) -> None:
        if self._shared is None:
            return
        decision = Decision(
            record.status.value,
            record.handled_by or "",
            record.decided_at or self._clock.time(),
            record.granted,
        )
        try:
            await self._shared.decide(record.id, decision)
        except SharedStateError as error:  # the claim still answers "handling it right now"
            log.warning("could not share the decision on request %s: %s", record.id, error)

    async def _apply_decisions(self, batch: Batch) -> None:
        """Before showing a batch: the decisions other replicas made on its requests."""
        if self._shared is None:
            return
        for record in batch.requests:
            if record.status is not Status.PENDING:
                continue
            try:
                decision = await self._shared.decision(record.id)
            except SharedStateError:
                return  # shown as this replica knows it; the next showing catches up
            if decision is not None:
                self._apply(record, decision)

    @staticmethod
    def _apply(record: RequestRecord, decision: Decision) -> None:
        record.status = Status(decision.status)
        record.handled_by = decision.by
        record.decided_at = decision.at
        record.granted = decision.granted
        record.batch.version += 1


# -- rendering ---------------------------------------------------------------------------------


def render(batch: Batch, max_age: float) -> tuple[str, list[dict[str, Any]]]:
    """The batch message: a header, then per request a section and its buttons or status."""
    requests = batch.requests
    call = code(batch.call.cid)
    if len(requests) == 1:
        only = requests[0]
        asked = describe_permissions(only.permissions)
        text = f":raising_hand: {_who(only)} asks to {asked} in {call}"
        header = f":raising_hand: *Permission request* in {call}"
    else:
        text = f":raising_hand: {len(requests)} permission requests in {call}"
        header = f":raising_hand: *{len(requests)} permission requests* in {call}"
    parts = [blocks.section(header)]
    for record in requests:
        parts.append(
            blocks.section(
                f"{_who(record)} asks to *{describe_permissions(record.permissions)}* · "
                f"{date_token(record.asked_at)}"
            )
        )
        if record.status in (Status.PENDING, Status.CLAIMED):
            parts.append(blocks.actions(_buttons(record), block_id=f"request:{record.id}"))
        else:
            parts.append(blocks.context(_status(record, max_age)))
    return text, blocks.to_dicts(parts)


def _buttons(record: RequestRecord) -> list[Button]:
    buttons = [Button("Approve", APPROVE_ACTION, record.id, "primary")]
    if len(record.permissions) > 1:
        buttons += [
            Button(f"Only {PERMISSION_PHRASES[p]}", APPROVE_ONLY_ACTIONS[p], record.id)
            for p in record.permissions
            if p in APPROVE_ONLY_ACTIONS
        ]
    buttons.append(Button("Deny", DENY_ACTION, record.id, "danger"))
    buttons.append(history_button(record.user_id))
    return buttons


def _status(record: RequestRecord, max_age: float) -> str:
    by = mention(record.handled_by or "")
    at = date_token(record.decided_at or record.received_at)
    if record.status is Status.APPROVED:
        rest = tuple(p for p in record.permissions if p not in record.granted)
        what = f" to {describe_permissions(record.granted)} only" if rest else ""
        return f":white_check_mark: Approved{what} by {by} at {at}"
    if record.status is Status.DENIED:
        return f":no_entry_sign: Denied by {by} at {at}"
    expired_at = date_token(record.received_at + max_age)
    return f":hourglass: Expired at {expired_at}; nobody answered in {_minutes(max_age)}"


def already_handled(record: RequestRecord) -> str:
    by = mention(record.handled_by or "")
    if record.status is Status.CLAIMED:
        return f"{by} is handling this request right now."
    if record.status is Status.APPROVED:
        return f"This request was already approved by {by}."
    if record.status is Status.DENIED:
        return f"This request was already denied by {by}."
    return ":hourglass: This request has expired; nothing was sent to Stream."


def _who(record: RequestRecord) -> str:
    name = " ".join((record.user_name or "").split())  # no line breaks inside the layout
    if name and name != record.user_id:
        return f"{escape(blocks.truncate(name, 80))} ({code(record.user_id)})"
    return code(record.user_id)


def _plan(record: RequestRecord) -> Plan:
    call = code(record.call.cid)
    if record.status is Status.APPROVED:
        granted = describe_permissions(record.granted)
        summary = f"approve {code(record.user_id)} to {granted} in {call}"
    else:
        asked = describe_permissions(record.permissions)
        summary = f"deny {code(record.user_id)}'s request to {asked} in {call}"
    kind = Kind.REQUEST_APPROVED if record.status is Status.APPROVED else Kind.REQUEST_DENIED
    return Plan(summary, target=record.user_id, call=record.call.cid, kind=kind)


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes >= 1:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{round(seconds)} seconds"
