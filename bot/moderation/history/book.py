"""Cases as moderation sees them: a case is opened before an action reaches Stream and settled
after it, recorded outright for what happened elsewhere (webhooks, expiries, clicks), and linked
to the Slack messages that announced it.

A case store that is down or locked never stops moderation: a write that fails joins a queue that
is retried with backoff on the injected clock until it lands, and each failure is logged with the
case's content, so nothing is lost silently. A ticket whose case could not be recorded yet says so
(`Ticket.recorded`), and the moderator is told.

Settling a case and linking its audit line do not hold up the command: the store commits them
with its next write (the next command's case, usually) or within a few milliseconds, and a failure
joins the retry queue like any other (`CaseStore.settle_later`, `link_later`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial

from bot.cases import (
    Actor as CaseActor,
)
from bot.cases import (
    Case,
    CaseMessage,
    CaseStore,
    CaseStoreError,
    Kind,
    MessagePurpose,
    NewCase,
    Outcome,
    Source,
)
from bot.core.model import Actor, MessageRef, Plan
from bot.moderation.history.render import UNDONE_BY, audit_message
from bot.slack.poster import SlackPoster, SlackPostError
from bot.util.clock import Clock

log = logging.getLogger("callmod.cases")

RETRY_FIRST_WAIT = 1.0
RETRY_MAX_WAIT = 300.0


@dataclass
class Ticket:
    """The case(s) of one action: one per target user (a mute of several users is several
    cases). `numbers` is empty until the store has recorded them."""

    drafts: tuple[NewCase, ...]
    numbers: list[int] = field(default_factory=list)
    messages: list[tuple[MessageRef, MessagePurpose]] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        return len(self.numbers) == len(self.drafts)

    @property
    def label(self) -> str:
        """ "Case #41", "Cases #41, #42", or "" while not recorded."""
        if not self.numbers:
            return ""
        shown = ", ".join(f"#{n}" for n in self.numbers)
        return f"Case {shown}" if len(self.numbers) == 1 else f"Cases {shown}"


def case_actor(actor: Actor) -> CaseActor:
    return CaseActor(actor.user_id, actor.user_name)


def drafts_for(actor: Actor, plan: Plan, request_id: str, now: float) -> tuple[NewCase, ...]:
    """The cases a command's plan records: what, whom, where, why, for how long. `detail` keeps
    the plan's summary (mrkdwn), so a case can be shown and its audit line re-rendered."""
    if plan.kind is None:
        return ()
    seconds = int(plan.duration.total_seconds()) if plan.duration else None
    expires = datetime.fromtimestamp(now + seconds, tz=UTC) if seconds is not None else None
    return tuple(
        NewCase(
            kind=plan.kind,
            source=Source.SLACK,
            outcome=Outcome.MAYBE_APPLIED,  # true until the action's answer says otherwise
            request_id=request_id,
            moderator=case_actor(actor),
            target_user_id=target,
            call_cid=plan.call,
            reason=plan.reason,
            detail=plan.summary,
            duration_seconds=seconds,
            expires_at=expires,
        )
        for target in plan.targets
    )


NotificationEditor = Callable[[Case, CaseMessage], Awaitable[bool]]


@dataclass(frozen=True)
class Republished:
    edited: int  # announcing messages now showing the amended case
    failed: int  # messages Slack would not let callmod edit
    left: int  # messages of a kind callmod does not re-render (an ended ban's notification)


class CaseBook:
    def __init__(self, store: CaseStore, clock: Clock, poster: SlackPoster | None = None) -> None:
        self.store = store
        self._clock = clock
        self._poster = poster
        # Re-renders a notification another book owns (bans register theirs).
        self.notification_editor: NotificationEditor | None = None
        self._queue: deque[Callable[[], Awaitable[None]]] = deque()
        self._soon: set[asyncio.Future[None]] = set()  # handed to the store, not yet landed
        self._worker: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()
        self._drained.set()

    # -- writing ------------------------------------------------------------------------------

    async def open(self, actor: Actor, plan: Plan, request_id: str) -> Ticket:
        """Record the plan's cases as "may have been applied" before the action runs."""
        ticket = Ticket(drafts_for(actor, plan, request_id, self._clock.time()))
        await self._record_drafts(ticket, plan)
        return ticket

    async def record_done(self, actor: Actor, plan: Plan, request_id: str) -> Ticket:
        """Record the plan's cases as done: for clicks, whose plan is known only afterwards."""
        drafts = drafts_for(actor, plan, request_id, self._clock.time())
        ticket = Ticket(tuple(replace(draft, outcome=Outcome.DONE) for draft in drafts))
        await self._record_drafts(ticket, plan)
        if not ticket.recorded:
            self._enqueue(partial(self._record_missing, ticket, None), f"{ticket.drafts}")
        return ticket

    async def _record_drafts(self, ticket: Ticket, plan: Plan) -> None:
        try:
            for draft in ticket.drafts:
                ticket.numbers.append((await self.store.record(draft)).number)
        except CaseStoreError as error:
            log.warning("could not record the case of %r: %s", plan.summary, error)

    async def finish(self, ticket: Ticket, outcome: Outcome) -> None:
        """Settle an opened ticket; a ticket the store could not record is queued whole."""
        if not ticket.drafts:
            return
        for number in ticket.numbers:
            self._later(
                partial(self.store.settle_later, number, outcome),
                partial(self.store.settle, number, outcome),
                f"settle #{number}",
            )
        if not ticket.recorded:
            self._enqueue(partial(self._record_missing, ticket, outcome), f"{ticket.drafts}")

    async def record(self, new: NewCase) -> Ticket:
        """Record something that already happened (a webhook, an expiry, a click)."""
        ticket = Ticket((new,))
        try:
            ticket.numbers.append((await self.store.record(new)).number)
        except CaseStoreError as error:
            log.warning("could not record a %s case: %s", new.kind, error)
            self._enqueue(partial(self._record_missing, ticket, None), f"{new}")
        return ticket

    async def link(self, ticket: Ticket, message: MessageRef, purpose: MessagePurpose) -> None:
        """Remember which Slack message announced the ticket's cases (now, or once recorded)."""
        ticket.messages.append((message, purpose))
        for number in ticket.numbers:
            retry = partial(self._link, number, message, purpose)
            if purpose is MessagePurpose.AUDIT:  # a notification's link is waited for: restarts
                soon = partial(self.store.link_later, number, message.channel_id, message.ts)
                self._later(partial(soon, purpose), retry, f"link #{number}")
            else:
                await self._try(retry, f"link #{number}")

    async def _record_missing(self, ticket: Ticket, outcome: Outcome | None) -> None:
        """Record the drafts the store has not taken yet, then (again: linking is idempotent)
        every message that announced them. Safe to retry from any point."""
        for draft in ticket.drafts[len(ticket.numbers) :]:
            settled = draft if outcome is None else replace(draft, outcome=outcome)
            ticket.numbers.append((await self.store.record(settled)).number)
        for number in ticket.numbers:
            for message, purpose in ticket.messages:
                await self._link(number, message, purpose)

    async def _link(self, number: int, message: MessageRef, purpose: MessagePurpose) -> None:
        await self.store.link_message(number, message.channel_id, message.ts, purpose)

    async def mark_undone(self, originals: tuple[int, ...], undo: Ticket, actor: Actor) -> None:
        """Link an Undo's case(s) to the cases it reversed, a note on each naming the other, and
        edit the originals' audit lines to say so. Best effort: the undo itself already
        happened, so a store or Slack failure is logged, never raised."""
        author = case_actor(actor)
        for number in originals:
            for undone_by in undo.numbers:
                await self._note(number, author, f"{UNDONE_BY}{undone_by}")
                await self._note(undone_by, author, f"Undoes #{number}")
            try:
                case = await self.store.get(number)
            except CaseStoreError as error:
                log.warning("could not read case #%s to mark it undone: %s", number, error)
                continue
            if case is not None:
                await self.edit_audit_lines(case)

    async def _note(self, number: int, author: CaseActor, text: str) -> None:
        try:
            await self.store.add_note(number, author, text)
        except CaseStoreError as error:
            log.warning("could not note %r on case #%s: %s", text, number, error)

    async def edit_audit_lines(self, case: Case) -> tuple[int, int]:
        """Re-render the audit lines that announced `case`; (edited, failed)."""
        edited = failed = 0
        if self._poster is None:
            return edited, failed
        for message in case.messages:
            if message.purpose is not MessagePurpose.AUDIT:
                continue
            text, rendered = audit_message(case)
            try:
                await self._poster.update(message.channel_id, message.ts, text, rendered)
                edited += 1
            except SlackPostError as error:
                log.warning("could not edit the audit line of case #%s: %s", case.number, error)
                failed += 1
        return edited, failed

    async def republish(self, case: Case) -> Republished:
        """Edit every message that announced `case` so it shows the case as it is now (after
        a reason was amended): audit lines are re-rendered from the case, notifications by
        their owner."""
        edited, failed = await self.edit_audit_lines(case)
        left = 0
        for message in case.messages:
            if message.purpose is MessagePurpose.AUDIT and self._poster is not None:
                continue
            if message.purpose is MessagePurpose.NOTIFICATION and self.notification_editor:
                if await self.notification_editor(case, message):
                    edited += 1
                else:
                    left += 1
            else:
                left += 1
        return Republished(edited, failed, left)

    # -- reading ------------------------------------------------------------------------------

    async def counts(self, user_id: str) -> dict[Kind, int] | None:
        """The user's cases by kind, or None when the store cannot answer now."""
        try:
            return await self.store.counts_for_user(user_id)
        except CaseStoreError as error:
            log.warning("could not count the cases of %s: %s", user_id, error)
            return None

    # -- the retry queue ----------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def idle(self) -> None:
        """Wait until every queued write has landed (tests and shutdown)."""
        while self._soon:
            await asyncio.gather(*self._soon, return_exceptions=True)
        await self._drained.wait()

    async def stop(self) -> None:
        while self._soon:
            await asyncio.gather(*self._soon, return_exceptions=True)
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._queue:
            log.error("%d case writes were still queued at shutdown", len(self._queue))

    def _later(
        self,
        start: Callable[[], asyncio.Future[None]],
        retry: Callable[[], Awaitable[None]],
        what: str,
    ) -> None:
        """Hand a write to the store to go with its next transaction (`start`); if it fails,
        `retry` joins the queue."""
        if self._queue:  # keep order: behind what is already waiting
            self._enqueue(retry, what)
            return
        future = start()
        self._soon.add(future)
        future.add_done_callback(partial(self._landed, retry, what))

    def _landed(
        self, retry: Callable[[], Awaitable[None]], what: str, future: asyncio.Future[None]
    ) -> None:
        self._soon.discard(future)
        if future.cancelled() or (error := future.exception()) is None:
            return
        if isinstance(error, CaseStoreError):
            log.warning("case store write failed (%s): %s; will retry", what, error)
            self._enqueue(retry, what)
        else:
            log.error("case store write failed (%s)", what, exc_info=error)

    async def _try(self, write: Callable[[], Awaitable[None]], what: str) -> None:
        if self._queue:  # keep order: behind what is already waiting
            self._enqueue(write, what)
            return
        try:
            await write()
        except CaseStoreError as error:
            log.warning("case store write failed (%s): %s; will retry", what, error)
            self._enqueue(write, what)

    def _enqueue(self, write: Callable[[], Awaitable[None]], what: str) -> None:
        log.warning("queued for the case store: %s", what)
        self._queue.append(write)
        self._drained.clear()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        wait = RETRY_FIRST_WAIT
        while self._queue:
            try:
                await self._queue[0]()
            except CaseStoreError as error:
                log.warning("case store still failing (%d queued): %s", len(self._queue), error)
                await self._clock.sleep(wait)
                wait = min(wait * 2, RETRY_MAX_WAIT)
                continue
            self._queue.popleft()
            wait = RETRY_FIRST_WAIT
        self._drained.set()
