"""The ban lifecycle, owned in one place: ban → announce → schedule → expire → announce, and unban.

Every ban callmod knows of (made through callmod, seen in a `user.banned` webhook, or found in
Stream at start-up) gets a record; timed ones get a timer keyed by the banned user. `ban` and
`unban` make the Stream call themselves, so the ordering around it (marking callmod's own ban
before Stream can echo it, claiming a clicked notification before a second click can) lives
here and nowhere else. When a timer fires, Stream is asked whether the ban is really gone (and
told to lift it if it is not), the original notification is updated and a short line is posted.
A step that fails raises, and the timer registry retries the fire with backoff; steps that
already succeeded are not repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from cachetools import LRUCache
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from bot.cases import (
    Case,
    CaseMessage,
    CaseStoreError,
    Kind,
    MessagePurpose,
    NewCase,
    Outcome,
    Source,
)
from bot.core.model import Actor, MessageRef, Role
from bot.moderation.bans.record import (
    BanRecord,
    Closure,
    ClosureKind,
    StreamActor,
    record_from_stream,
    stream_actor,
)
from bot.moderation.bans.render import (
    ban_length,
    closure_line,
    expiry_line,
    lifted_notification,
    notification,
)
from bot.moderation.bans.shared_expiry import (
    SharedExpiries,
    announced,
    ending,
    from_payload,
)
from bot.moderation.history.book import CaseBook, Ticket
from bot.moderation.history.render import earlier_text
from bot.shared import Due, SharedStateError
from bot.slack.blocks import code
from bot.slack.poster import Metadata, SlackPoster, SlackPostError, case_metadata
from bot.stream import Ban, StreamAPIError, StreamClient
from bot.stream.events import UserBanned, UserUnbanned
from bot.util.clock import Clock
from bot.util.request_ids import request_id
from bot.util.timers import TimerRegistry

log = logging.getLogger("callmod.bans")

OWN_ECHO_WINDOW = 300.0  # an echo announced before callmod's own answer is merged this soon
# Stream stamps a ban a little before callmod records it (request latency, clock skew); a ban
# Stream created later than this after ours is a different, newer ban.
SAME_BAN_TOLERANCE = 60.0
OWED_HORIZON = 7 * 86_400.0  # announcements owed for longer than this are not made any more
MAX_CLOSED_MESSAGES = 10_000  # notifications remembered for "already closed" answers to clicks
REHYDRATE_MAX_WAIT = 300.0  # seconds between start-up rebuild attempts, at most
LINK_LANDING_SECONDS = 5.0  # several replicas: how long an expiry waits for its case links
CLOCK_SKEW_SECONDS = 60.0  # between this host's clock and Slack's message timestamps, at most


class UnbanOutcome(Enum):
    UNBANNED = "unbanned"
    ALREADY_CLOSED = "already_closed"  # the clicked notification's ban had ended already
    EARLIER_BAN = "earlier_ban"  # the clicked notification is about an earlier ban
    ENDED = "ended"  # the clicked notification's ban ended before (found in the case store)


@dataclass(frozen=True)
class OwnBan:
    """A ban callmod asked Stream for: who asked, what for, and the case it opened."""

    actor: Actor
    reason: str | None
    duration: timedelta | None
    ip_ban: bool
    ticket: Ticket
    asked_at: float


@dataclass(frozen=True)
class UnbanResult:
    outcome: UnbanOutcome
    closure: Closure | None = None  # for ALREADY_CLOSED: how that ban ended
    announced: bool = False  # a notification in Slack now says the ban was lifted


def _same_ban(record: BanRecord, ban: Ban | UserBanned, bot_stream_user_id: str) -> bool:
    """Content, not timing: made by the same Stream user and created within the clock-skew
    tolerance of the ban callmod knows. A re-ban is a new ban (a new creation time or another
    maker); a ban whose end Stream did not keep is still the same ban, and its timer lifts it."""
    if isinstance(ban, Ban):
        made_by = ban.banned_by_id
    else:
        made_by = ban.banned_by.id if ban.banned_by is not None else None
    known_maker = (
        bot_stream_user_id if isinstance(record.banned_by, Actor) else record.banned_by_stream_id
    )
    if made_by is not None and known_maker is not None and made_by != known_maker:
        return False
    return abs(record.created_at - ban.created_at.timestamp()) <= SAME_BAN_TOLERANCE


def record_from_case(ban: Case | None, user_id: str, bot_stream_user_id: str) -> BanRecord:
    """A ban as its case remembers it, for announcing after a restart what Stream has
    forgotten (an expiry callmod owed)."""
    if ban is None:
        return BanRecord(user_id, stream_actor(None, bot_stream_user_id), None, False, 0.0, None)
    created = ban.created_at.timestamp()
    record = BanRecord(
        user_id=user_id,
        banned_by=stream_actor(None, bot_stream_user_id),
        reason=ban.reason,
        ip_ban=False,
        created_at=created,
        expires_at=ban.expires_at.timestamp() if ban.expires_at else None,
    )
    remember_announcement(record, ban)
    return record


def remember_announcement(record: BanRecord, case: Case) -> None:
    """After a restart: the moderator, reason and notification of a ban, from its case. Stream
    stays the truth for whether and until when the user is banned."""
    notification = next(
        (m for m in case.messages if m.purpose is MessagePurpose.NOTIFICATION), None
    )
    if notification is not None:
        record.channel, record.message_ts = notification.channel_id, notification.ts
    if case.moderator is not None:
        record.banned_by = Actor(case.moderator.id, case.moderator.name, Role.NONE)
        record.reason = case.reason  # without the "(by @x via Slack)" Stream's copy carries
    record.case_number = case.number


def stream_reason(reason: str | None, slack_user_name: str) -> str:
    """The reason Stream stores names the Slack moderator, since Stream only sees the bot."""
    by = f"(by @{slack_user_name} via Slack)"
    return f"{reason} {by}" if reason else by


class BanBook:
    def __init__(
        self,
        *,
        stream: StreamClient,
        poster: SlackPoster,
        channel: str | None,
        clock: Clock,
        bot_stream_user_id: str,
        cases: CaseBook,
        retry_base: float = 5.0,
        reconcile_every: float | None = None,
        expiries: SharedExpiries | None = None,
    ) -> None:
        """`expiries`: the shared expiry schedule when several replicas run (each expiry is
        announced by one of them); None announces every expiry from this process."""
        self._stream = stream
        self._cases = cases
        cases.notification_editor = self._republish
        self._poster = poster
        self._channel = channel
        self._clock = clock
        self._bot_user = bot_stream_user_id
        self.records: dict[str, BanRecord] = {}
        # user id -> `user.banned` echoes that arrived while callmod's own ban of them was
        # still waiting for Stream's answer (proof of the ban if that answer is lost)
        self._in_flight: dict[str, list[UserBanned]] = {}
        # user id -> callmod's own ban whose answer was lost and not (yet) seen in Stream
        self._unanswered: LRUCache[str, OwnBan] = LRUCache(MAX_CLOSED_MESSAGES)
        # user id -> a ban announced before a restart that Stream no longer holds: lifted while
        # callmod was away; the next reconciliation closes its notification
        self._lifted_unseen: dict[str, BanRecord] = {}
        # Expiries, webhooks and reconciliation change the same records: one at a time.
        self._lock = asyncio.Lock()
        # notification ts -> how its ban ended (or the click that is ending it right now)
        self._closed_messages: LRUCache[str, Closure] = LRUCache(MAX_CLOSED_MESSAGES)
        self.timers: TimerRegistry[BanRecord] = TimerRegistry(
            clock, self._expire, retry_base=retry_base
        )
        self._reconcile_every = reconcile_every
        self._expiries = expiries
        self._reconciler: asyncio.Task[None] | None = None
        self.reconciled = asyncio.Event()  # set after each reconciliation round (tests)
        self._reconciling = asyncio.Event()  # clear while a periodic round runs
        self._reconciling.set()
        self.rehydrated = asyncio.Event()
        self.team_url: str | None = None  # the workspace's URL, for permalinks (auth.test)
        self._rehydration: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, *, rehydrate: bool = True) -> None:
        self.timers.start()
        if rehydrate and self._rehydration is None:
            self._rehydration = asyncio.create_task(self._rehydrate_with_retries())
        elif not rehydrate:
            self.rehydrated.set()
        if self._reconcile_every is not None and self._reconciler is None:
            self._reconciler = asyncio.create_task(self._reconcile_periodically())
        if self._expiries is not None:
            self._expiries.start(self._expire_shared)

    async def stop(self) -> None:
        if self._expiries is not None:
            await self._expiries.stop()
        for task in (self._rehydration, self._reconciler):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.timers.stop()

    def halt(self) -> None:
        """Stop at once, as a crash would (the replica tests' hard stop): background work is
        cancelled mid-way and no lease is given back."""
        for task in (self._rehydration, self._reconciler):
            if task is not None:
                task.cancel()
        self._rehydration = self._reconciler = None
        if self._expiries is not None:
            self._expiries.halt()
        self.timers.halt()

    async def idle(self) -> None:
        # A periodic round the clock woke makes HTTP calls: it may outlast the clock's advance.
        await self._reconciling.wait()
        await self.timers.wait_idle()
        if self._expiries is not None:
            await self._expiries.idle()

    @property
    def bans_in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def remembered_messages(self) -> int:
        return len(self._closed_messages)

    # -- bans and unbans made through callmod -----------------------------------------------------

    async def ban(
        self,
        actor: Actor,
        user_id: str,
        *,
        reason: str | None,
        duration: timedelta | None,
        ip_ban: bool,
        ticket: Ticket | None = None,
    ) -> BanRecord:
        """Ban in Stream, then record, schedule and announce the ban; `ticket` is the case the
        command opened (the notification shows its number and is linked to it). Raises
        `StreamAPIError` when Stream refuses (nothing is announced then). The record's
        `expires_at` is the one the notification shows; `message_ts` is None when the
        notification could not be posted.
        """
        # Stream's `user.banned` echo can overtake the answer (or answer a retried attempt):
        # while the ban is in flight, its echoes are held here instead of being announced.
        own = OwnBan(actor, reason, duration, ip_ban, ticket or Ticket(()), self._clock.time())
        self._in_flight[user_id] = []
        await self._mark_own(user_id)
        try:
            try:
                await self._stream.ban(
                    user_id,
                    banned_by_id=self._bot_user,
                    reason=stream_reason(reason, actor.user_name),
                    timeout_minutes=math.ceil(duration.total_seconds() / 60) if duration else None,
                    ip_ban=ip_ban,
                )
            except StreamAPIError as error:
                if not error.maybe_applied:
                    raise
                if not await self._applied(user_id, own.asked_at, self._in_flight[user_id]):
                    # Its echo (or the reconciliation) may still show it reached Stream: then
                    # it is announced as this moderator's ban, with this case.
                    self._unanswered[user_id] = own
                    raise
                log.info("the answer to the ban of %s was lost, but Stream holds it", user_id)
            # Still "in flight" until installed, so an echo arriving meanwhile is held too.
            return await self._announce_own(user_id, own, self._clock.time())
        finally:
            self._in_flight.pop(user_id, None)

    async def _announce_own(self, user_id: str, own: OwnBan, created_at: float) -> BanRecord:
        record = BanRecord(
            user_id=user_id,
            banned_by=own.actor,
            reason=own.reason,
            ip_ban=own.ip_ban,
            created_at=created_at,
            expires_at=created_at + own.duration.total_seconds() if own.duration else None,
        )
        ticket = own.ticket
        record.case_number = ticket.numbers[0] if ticket.numbers else None
        await self._describe_history(record)
        previous = self.records.get(user_id)
        if previous is not None and self._is_unclaimed_echo(previous, created_at):
            # Stream's echo of this very ban overtook our answer and was announced as made by
            # callmod; take its message over instead of posting a second one.
            await self._install(record, previous=None)
            record.channel, record.message_ts = previous.channel, previous.message_ts
            await self._safe_update(record)
        else:
            await self._announce(record, raise_on_failure=False)
        if record.channel is not None and record.message_ts is not None:
            message = MessageRef(record.channel, record.message_ts)
            await self._cases.link(ticket, message, MessagePurpose.NOTIFICATION)
        return record

    async def _applied(self, user_id: str, asked_at: float, echoes: list[UserBanned]) -> bool:
        """Whether a ban whose answer was lost reached Stream: its echo arrived, or Stream holds
        a ban of the user by callmod made since it was asked. A failed look-up says no (the
        periodic reconciliation finds it later)."""
        since = asked_at - SAME_BAN_TOLERANCE
        if any(echo.created_at.timestamp() >= since for echo in echoes):
            return True
        try:
            held = await self._stream.query_bans(user_id=user_id)
        except StreamAPIError:
            return False
        return any(
            ban.banned_by_id == self._bot_user and ban.created_at.timestamp() >= since
            for ban in held
        )

    async def unban(
        self, actor: Actor, user_id: str, *, clicked: MessageRef | None = None
    ) -> UnbanResult:
        """Lift a ban in Stream and close its notification. `clicked` names the notification
        whose Unban button was pressed: a second click, or a click on the notification of an
        earlier ban, changes nothing and says why. Raises `StreamAPIError` when Stream refuses.
        """
        if clicked is not None:
            earlier = self._closed_messages.get(clicked.ts)
            if earlier is not None:
                return UnbanResult(UnbanOutcome.ALREADY_CLOSED, earlier)
            current = self._current_message(user_id)
            if current is not None and current != clicked.ts:
                return UnbanResult(UnbanOutcome.EARLIER_BAN)
            if current is None and await self._announced_ban_ended(user_id, clicked):
                return UnbanResult(UnbanOutcome.ENDED)
            # Claimed before Stream is called, so a concurrent second click is told who got
            # there first; released again if Stream refuses.
            claim = Closure(ClosureKind.UNBANNING, actor, self._clock.time())
            self._closed_messages[clicked.ts] = claim
        try:
            await self._stream.unban(user_id, unbanned_by_id=self._bot_user)
        except BaseException:
            if clicked is not None:
                self._closed_messages.pop(clicked.ts, None)
            raise
        closure = Closure(ClosureKind.UNBANNED, actor, self._clock.time())
        announced = await self._close_lifted(user_id, closure, clicked)
        return UnbanResult(UnbanOutcome.UNBANNED, closure, announced)

    async def _close_lifted(
        self, user_id: str, closure: Closure, clicked: MessageRef | None
    ) -> bool:
        """Close the ban callmod just lifted. Returns whether a notification now says so."""
        record = self.records.get(user_id)
        if record is not None:
            if record.message_ts is None and clicked is not None:
                record.channel, record.message_ts = clicked.channel_id, clicked.ts
            return await self._close(record, closure, raise_on_failure=False)
        if clicked is None:
            return False
        # A notification callmod no longer tracks (posted before a restart, ban gone since).
        self._closed_messages[clicked.ts] = closure
        text, message = lifted_notification(user_id, closure)
        return await self._safe_send_update(clicked.channel_id, clicked.ts, text, message)

    async def _announced_ban_ended(self, user_id: str, clicked: MessageRef) -> bool:
        """Whether the case store knows the clicked notification as a ban of `user_id` that is
        no longer in force (callmod restarted since; Stream no longer holds the ban)."""
        if not self.rehydrated.is_set():
            return False  # not yet known what Stream holds
        try:
            announced = await self._cases.store.find_by_message(clicked.channel_id, clicked.ts)
        except CaseStoreError:
            return False
        return any(case.kind is Kind.BAN and case.target_user_id == user_id for case in announced)

    async def _republish(self, case: Case, message: CaseMessage) -> bool:
        """Show an amended reason on the notification of a ban still in force."""
        record = self.records.get(case.target_user_id or "")
        if record is None or record.message_ts != message.ts or record.closure is not None:
            return False  # an ended ban's notification is left as it was
        record.reason = case.reason
        return await self._safe_update(record)

    def _current_message(self, user_id: str) -> str | None:
        """The ts of the notification of the user's ban in force, if callmod posted one."""
        record = self.records.get(user_id)
        return record.message_ts if record is not None and record.closure is None else None

    # -- bans made elsewhere (webhooks) ----------------------------------------------------------

    async def on_banned(self, event: UserBanned) -> None:
        async with self._lock:
            await self._on_banned_locked(event)

    async def _on_banned_locked(self, event: UserBanned) -> None:
        if event.channel_cid is not None:
            return  # a chat-channel ban: it does not keep anyone out of calls
        user_id = event.user.id
        by_id = event.banned_by.id if event.banned_by is not None else None
        if by_id == self._bot_user and user_id in self._in_flight:
            self._in_flight[user_id].append(event)  # callmod's own ban, still being answered
            return
        if by_id == self._bot_user and await self._made_elsewhere(user_id):
            return  # callmod's own ban, made (and announced) by another replica
        created = event.created_at.timestamp()
        own = self._unanswered.get(user_id) if by_id == self._bot_user else None
        if own is not None and created >= own.asked_at - SAME_BAN_TOLERANCE:
            # A ban whose answer was lost did reach Stream: it is the moderator's, with its case.
            del self._unanswered[user_id]
            await self._announce_own(user_id, own, created)
            await self._cases.finish(own.ticket, Outcome.DONE)
            return
        expires = event.expires_at.timestamp() if event.expires_at else None
        known = self.records.get(user_id)
        if known is not None and known.closure is None and _same_ban(known, event, self._bot_user):
            if known.message_ts is None and known.source != "slack" and self._channel:
                await self._announce_from_stream(known)  # a retry: its notification is owed
            return  # a ban callmod already knows: its own echo, a retry, or found in Stream
        record = BanRecord(
            user_id=user_id,
            banned_by=stream_actor(by_id, self._bot_user),
            reason=event.reason,
            ip_ban=event.ip_ban,
            created_at=created,
            expires_at=expires,
            source="webhook",
        )
        if by_id == self._bot_user and await self._adopt_announced(record):
            return  # callmod's own ban, announced by another replica (unmarked: Redis was away)
        await self._announce_from_stream(record)

    async def on_unbanned(self, event: UserUnbanned) -> None:
        async with self._lock:
            await self._on_unbanned_locked(event)

    async def _on_unbanned_locked(self, event: UserUnbanned) -> None:
        by_id = event.unbanned_by.id if event.unbanned_by is not None else None
        if by_id == self._bot_user:
            # callmod closes its own unbans (command, button, expiry) with the moderator's name.
            return
        record = self.records.get(event.user.id)
        if record is None:
            return
        closure = Closure(
            ClosureKind.UNBANNED, stream_actor(by_id, self._bot_user), event.created_at.timestamp()
        )
        if record.closure is None:
            await self._record_stream_unban(record.user_id)
        await self._close(record, closure, raise_on_failure=True)

    # -- queries -------------------------------------------------------------------------------

    def known_as(self, ban: Ban) -> BanRecord:
        """A ban Stream holds, with what callmod knows of it when it is the same ban (who
        banned through Slack and why, the case, the notification); Stream's view otherwise."""
        record = self.records.get(ban.user_id)
        if record is not None and _same_ban(record, ban, self._bot_user):
            return record
        return record_from_stream(ban, self._bot_user)

    def active(self, user_id: str | None = None) -> list[BanRecord]:
        """Known bans in force, soonest expiry first, permanent ones last."""
        now = self._clock.time()
        if user_id is None:
            records = list(self.records.values())
        else:
            records = [self.records[user_id]] if user_id in self.records else []
        live = [
            r for r in records if r.closure is None and (r.expires_at is None or r.expires_at > now)
        ]
        return sorted(live, key=lambda r: (r.expires_at is None, r.expires_at or 0.0, r.user_id))

    # -- internals -----------------------------------------------------------------------------

    def _is_unclaimed_echo(self, record: BanRecord, now: float) -> bool:
        return (
            record.source == "webhook"
            and isinstance(record.banned_by, StreamActor)
            and record.banned_by.is_callmod
            and record.closure is None
            and record.message_ts is not None
            and abs(now - record.created_at) < OWN_ECHO_WINDOW
        )

    def _set_closure(self, record: BanRecord, closure: Closure) -> None:
        record.closure = closure
        if record.message_ts is not None:
            self._closed_messages[record.message_ts] = closure

    async def _install(self, record: BanRecord, *, previous: BanRecord | None) -> None:
        """Make `record` the user's ban and set its timer; close `previous` as replaced."""
        self.records[record.user_id] = record
        if record.expires_at is not None:
            self.timers.schedule(record.user_id, record.expires_at, record)
        else:
            self.timers.cancel(record.user_id)
        if self._expiries is not None:
            await self._expiries.put(record)
        if previous is not None and previous is not record and previous.closure is None:
            self._set_closure(previous, Closure(ClosureKind.REPLACED, None, self._clock.time()))
            if previous.message_ts is not None:
                await self._safe_update(previous)

    async def _announce(self, record: BanRecord, *, raise_on_failure: bool) -> bool:
        await self._install(record, previous=self.records.get(record.user_id))
        if self._channel is None:
            return False
        text, message = notification(record)
        if raise_on_failure:
            ts = await self._poster.post(self._channel, text, message, metadata=_metadata(record))
        else:
            maybe_ts = await self._poster.try_post(
                self._channel, text, message, metadata=_metadata(record)
            )
            if maybe_ts is None:
                return False
            ts = maybe_ts
        record.channel, record.message_ts = self._channel, ts
        if self._expiries is not None and record.expires_at is not None:
            await self._expiries.put(record)  # now with the notification, for a takeover
        return True

    async def _close(self, record: BanRecord, closure: Closure, *, raise_on_failure: bool) -> bool:
        """Close a ban that was lifted; the record stays until its notification says so, so a
        retried webhook can finish the job."""
        if self.records.get(record.user_id) is record:
            self.timers.cancel(record.user_id)
            if self._expiries is not None:
                await self._expiries.remove(record.user_id)
        if record.closure is None:
            self._set_closure(record, closure)
        if raise_on_failure:
            updated = await self._update_or_say(record, closure_line(record))
        else:
            updated = await self._safe_update(record)
        if self.records.get(record.user_id) is record:
            del self.records[record.user_id]
        return updated

    async def _update_or_say(self, record: BanRecord, line: str) -> bool:
        """Edit the notification; when Slack will never let callmod edit it (deleted, archived,
        too old), post `line` instead of retrying forever. Transient failures raise, for the
        caller's retry. Returns whether the notification itself now says it."""
        try:
            await self._update(record)
        except SlackPostError as error:
            if not error.permanent or self._channel is None:
                raise
            log.warning("ban notification %s cannot be edited (%s)", record.message_ts, error)
            await self._poster.post(self._channel, line, metadata=_metadata(record))
            return False
        return record.message_ts is not None

    async def _expire(self, user_id: str, record: BanRecord) -> None:
        if self._expiries is None:
            async with self._lock:
                await self._expire_locked(user_id, record)
            return
        # Several replicas: announced by whichever takes it from the shared schedule. A
        # SharedStateError raises, and the timer retries.
        taken = await self._expiries.take(user_id)
        if taken is None and self.records.get(user_id) is record:
            # Not on the schedule: ended by another replica (the case store says so), or never
            # shared (Redis was away when the ban was installed).
            if await ending(self._cases.store, record) is not None:
                self._forget_expired_elsewhere(user_id, record)
                return
            taken = await self._expiries.take_again(record)
        if isinstance(taken, float):  # another replica holds it: look again when its lease ends
            self.timers.schedule(user_id, taken, record)
        elif taken is not None:
            await self._expire_taken(user_id, record)

    async def _expire_shared(self, due: Due) -> None:
        """A due expiry the sweep took (its owner died, or this replica never knew the ban)."""
        user_id, shared = due.item, from_payload(due.item, due.payload)
        record = self.records.get(user_id)
        if record is None or record.closure is not None:
            record = self.records[user_id] = shared
        elif abs(record.created_at - shared.created_at) > SAME_BAN_TOLERANCE:
            log.info("the shared expiry of %s is of an earlier ban; dropped", user_id)
            await self._expiries_finish(user_id)
            return
        await self._expire_taken(user_id, record)

    async def _expire_taken(self, user_id: str, record: BanRecord) -> None:
        assert self._expiries is not None
        async with self._expiries.holding(user_id), self._lock:
            if record.expiry_case is None and self.records.get(user_id) is record:
                await self._resume_from_store(record)
            await self._expire_locked(user_id, record)
            # Off the schedule only once the case store holds the announcement (its link is
            # written behind, within milliseconds): a takeover reads it there.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LINK_LANDING_SECONDS):
                    await self._cases.idle()
        await self._expiries_finish(user_id)

    async def _expiries_finish(self, user_id: str) -> None:
        if self._expiries is not None:
            await self._expiries.finish(user_id)

    async def _resume_from_store(self, record: BanRecord) -> None:
        """What a replica that died mid-expiry already did, as the case store has it: the
        `ban_expired` case (then Stream was lifted) and the line that announced it."""
        case = await ending(self._cases.store, record)
        if case is None:
            return
        if case.kind is Kind.UNBAN:  # lifted elsewhere: that replica closed it
            self._forget_expired_elsewhere(record.user_id, record)
            return
        record.lifted = True
        record.expiry_case = Ticket((), [case.number])
        if announced(case):
            record.message_closed = record.line_posted = True
        elif self._channel is not None:
            # Slack may have taken the line before the dead replica linked it: its metadata
            # names the case. SlackPostError (Slack did not say) fails this try: not posted.
            # Only what Slack took since the case was recorded (less a margin for clock skew):
            # the history read stays short however busy the channel was before.
            since = case.created_at.timestamp() - CLOCK_SKEW_SECONDS
            ts = await self._poster.find_case_message(self._channel, case.number, oldest=since)
            if ts is not None:
                log.info("the expiry line of case #%d was posted before a takeover", case.number)
                ref = MessageRef(self._channel, ts)
                await self._cases.link(record.expiry_case, ref, MessagePurpose.AUDIT)
                record.message_closed = record.line_posted = True

    async def _mark_own(self, user_id: str) -> None:
        """Several replicas: tell the others this ban is callmod's own, made here, so that its
        `user.banned` echo reaching another replica is not announced there too."""
        if self._expiries is None:
            return
        with contextlib.suppress(SharedStateError):
            await self._expiries.shared.claim(
                f"own-ban:{user_id}", self._expiries.replica, OWN_ECHO_WINDOW
            )

    async def _made_elsewhere(self, user_id: str) -> bool:
        if self._expiries is None:
            return False
        try:
            maker = await self._expiries.shared.holder(f"own-ban:{user_id}")
        except SharedStateError:
            return False
        return maker is not None and maker != self._expiries.replica

    async def _adopt_announced(self, record: BanRecord) -> bool:
        """Several replicas: a ban another replica already announced (the case store links its
        notification) becomes known here as it is, instead of being announced again."""
        if self._expiries is None:
            return False
        try:
            case = await self._cases.store.latest_open_ban(record.user_id)
        except CaseStoreError:
            return False
        if case is None or abs(case.created_at.timestamp() - record.created_at) > (
            SAME_BAN_TOLERANCE
        ):
            return False
        if not any(m.purpose is MessagePurpose.NOTIFICATION for m in case.messages):
            return False
        remember_announcement(record, case)
        self.records[record.user_id] = record
        if record.expires_at is not None:
            self.timers.schedule(record.user_id, record.expires_at, record)
            await self._expiries.put(record, replace=False)
        return True

    def _forget_expired_elsewhere(self, user_id: str, record: BanRecord) -> None:
        if self.records.get(user_id) is record and record.closure is None:
            expired_at = record.expires_at or self._clock.time()
            self._set_closure(record, Closure(ClosureKind.EXPIRED, None, expired_at))
            del self.records[user_id]

    async def _expire_locked(self, user_id: str, record: BanRecord) -> None:
        if self.records.get(user_id) is not record:
            return  # replaced or lifted meanwhile
        if not record.lifted:
            newer = await self._lift(record)
            if newer is not None:
                log.info("Stream holds a newer ban of %s than callmod knew; following it", user_id)
                await self._announce(
                    record_from_stream(newer, self._bot_user), raise_on_failure=False
                )
                return
            record.lifted = True
        expired_at = record.expires_at if record.expires_at is not None else self._clock.time()
        if record.closure is None:
            self._set_closure(record, Closure(ClosureKind.EXPIRED, None, expired_at))
        if record.expiry_case is None:
            # Recorded before it is announced: a restart in between finds it owed (`_owed`).
            record.expiry_case = await self._cases.record(
                NewCase(
                    kind=Kind.BAN_EXPIRED,
                    source=Source.CALLMOD,
                    outcome=Outcome.DONE,
                    request_id=request_id.get(),
                    target_user_id=user_id,
                    detail=f"the ban of {code(user_id)} expired",
                )
            )
        await self._announce_expiry(record, expired_at, record.expiry_case)
        if self.records.get(user_id) is record:
            del self.records[user_id]

    async def _announce_expiry(self, record: BanRecord, expired_at: float, case: Ticket) -> None:
        """Close the notification and post the expiry line, each once; a step that fails for
        now raises (the timer retries), one Slack will never allow is replaced by the line."""
        if record.message_ts is not None and not record.message_closed:
            line = expiry_line(record, expired_at) + " Its notification could not be updated."
            if not await self._update_or_say(record, line):
                record.line_posted = True  # the fresh line said it all
            record.message_closed = True
        if self._channel is not None and not record.line_posted:
            expiry = case_metadata(
                user_id=record.user_id, case_number=case.numbers[0] if case.numbers else None
            )
            ts = await self._poster.post(
                self._channel, expiry_line(record, expired_at), metadata=expiry
            )
            record.line_posted = True
            await self._cases.link(case, MessageRef(self._channel, ts), MessagePurpose.AUDIT)

    async def _lift(self, record: BanRecord) -> Ban | None:
        """Make sure Stream no longer holds this ban. Returns a newer ban in force that Stream holds
        for the user instead (one whose webhook callmod missed), which is left alone."""
        held = await self._stream.query_bans(user_id=record.user_id, include_expired=True)
        now = self._clock.time()
        for ban in held:
            newer = ban.created_at.timestamp() > record.created_at + SAME_BAN_TOLERANCE
            if newer and (ban.expires_at is None or ban.expires_at.timestamp() > now):
                return ban
        if held:
            # Stream still holds it: in force past its expiry, or as a lapsed entry that would be
            # announced again as "expired while offline" at the next start-up.
            await self._stream.unban(record.user_id, unbanned_by_id=self._bot_user)
        return None

    async def _update(self, record: BanRecord) -> None:
        if record.channel is None or record.message_ts is None:
            return
        text, message = notification(record)
        await self._poster.update(
            record.channel, record.message_ts, text, message, metadata=_metadata(record)
        )

    async def _safe_update(self, record: BanRecord) -> bool:
        if record.channel is None or record.message_ts is None:
            return False
        text, message = notification(record)
        return await self._safe_send_update(
            record.channel, record.message_ts, text, message, metadata=_metadata(record)
        )

    async def _safe_send_update(
        self,
        channel: str,
        ts: str,
        text: str,
        message: list[dict[str, Any]],
        *,
        metadata: Metadata | None = None,
    ) -> bool:
        try:
            await self._poster.update(channel, ts, text, message, metadata=metadata)
        except Exception as exc:
            log.warning("could not update the ban notification %s: %s", ts, exc)
            return False
        return True

    # -- agreeing with Stream ------------------------------------------------------------------

    async def reconcile(self) -> None:
        async with self._lock:
            await self._reconcile_locked()

    async def _reconcile_locked(self) -> None:
        """Bring callmod's bans into line with Stream's: follow a ban Stream holds that callmod
        does not know (a missed webhook, a lost answer), close one Stream no longer holds (lifted
        elsewhere), and post announcements a restart left owed. Stream is the truth for bans."""
        await self.rehydrated.wait()
        now = self._clock.time()
        held: dict[str, Ban] = {}
        async for ban in self._stream.iter_bans():
            held[ban.user_id] = ban
        for user_id, ban in held.items():
            record = self.records.get(user_id)
            known = record is not None and record.closure is None
            if user_id in self._in_flight or (
                known and record is not None and _same_ban(record, ban, self._bot_user)
            ):
                continue
            own = self._unanswered.pop(user_id, None)
            since = own.asked_at - SAME_BAN_TOLERANCE if own else 0.0
            if (
                own is not None
                and ban.banned_by_id == self._bot_user
                and (ban.created_at.timestamp() >= since)
            ):
                await self._announce_own(user_id, own, ban.created_at.timestamp())
                await self._cases.finish(own.ticket, Outcome.DONE)
                continue
            found = record_from_stream(ban, self._bot_user)
            if await self._adopt_announced(found):
                continue  # announced by another replica
            log.info("Stream holds a ban of %s callmod did not know; announcing it", user_id)
            await self._announce_from_stream(found)
        for user_id, record in [*self.records.items(), *self._lifted_unseen.items()]:
            ended = record.expires_at is not None and record.expires_at <= now
            if user_id in held or user_id in self._in_flight or record.closure or ended:
                continue  # in force, being made, closed, or its timer is due
            log.info("Stream no longer holds the ban of %s; closing it", user_id)
            await self._record_stream_unban(user_id)
            closure = Closure(ClosureKind.UNBANNED, StreamActor(None), now)
            await self._close(record, closure, raise_on_failure=True)
            self._lifted_unseen.pop(user_id, None)
        await self._announce_owed()
        self.reconciled.set()

    async def _reconcile_periodically(self) -> None:
        assert self._reconcile_every is not None
        while True:
            await self._clock.sleep(self._reconcile_every)
            self._reconciling.clear()
            try:
                if self._expiries is not None and not await self._expiries.claim_round(
                    "reconcile", self._reconcile_every
                ):
                    continue  # another replica runs this round
                await self.reconcile()
            except (StreamAPIError, SlackPostError, CaseStoreError) as error:
                log.warning("reconciliation with Stream failed; next round: %s", error)
            finally:
                self._reconciling.set()

    async def _announce_from_stream(self, record: BanRecord) -> None:
        """A ban callmod learns of from Stream: recorded as a case unless callmod made it."""
        made_by_callmod = isinstance(record.banned_by, StreamActor) and record.banned_by.is_callmod
        if record.case_number is None and not made_by_callmod:
            ticket = await self._cases.record(
                NewCase(
                    kind=Kind.BAN,
                    source=Source.STREAM,
                    outcome=Outcome.DONE,
                    request_id=request_id.get(),
                    target_user_id=record.user_id,
                    reason=record.reason,
                    detail=f"ban {code(record.user_id)} {ban_length(record)}",
                    expires_at=(
                        datetime.fromtimestamp(record.expires_at, tz=UTC)
                        if record.expires_at is not None
                        else None
                    ),
                )
            )
            record.case_number = ticket.numbers[0] if ticket.numbers else None
            await self._describe_history(record)
        await self._announce(record, raise_on_failure=True)
        if record.channel is not None and record.message_ts is not None and record.case_number:
            await self._cases.link(
                Ticket((), [record.case_number]),
                MessageRef(record.channel, record.message_ts),
                MessagePurpose.NOTIFICATION,
            )

    async def _record_stream_unban(self, user_id: str) -> None:
        await self._cases.record(
            NewCase(
                kind=Kind.UNBAN,
                source=Source.STREAM,
                outcome=Outcome.DONE,
                request_id=request_id.get(),
                target_user_id=user_id,
                detail=f"unban {code(user_id)}",
            )
        )

    async def _announce_owed(self) -> None:
        """Expiries recorded but never announced (callmod stopped, or Slack failed, between the
        two): close the original notification and post the line now, once."""
        since = datetime.fromtimestamp(self._clock.time() - OWED_HORIZON, tz=UTC)
        store = self._cases.store
        for expiry in await store.unannounced(Kind.BAN_EXPIRED, since=since):
            user_id = expiry.target_user_id
            if user_id is None or user_id in self.records:
                continue  # a newer ban of the user is in force; its own lifecycle follows
            if self._expiries is not None and await self._expiries.scheduled(user_id):
                continue  # a replica is announcing it (or will take it over): not twice
            ban = await store.latest_before(user_id, Kind.BAN, expiry.number)
            record = record_from_case(ban, user_id, self._bot_user)
            expired_at = record.expires_at or expiry.created_at.timestamp()
            record.closure = Closure(ClosureKind.EXPIRED, None, expired_at)
            log.info("announcing the expiry of the ban of %s, owed since a restart", user_id)
            await self._announce_expiry(record, expired_at, Ticket((), [expiry.number]))

    async def _announced_bans(self) -> dict[str, Case]:
        """What the case store remembers of the bans callmod announced: who, why, where."""
        try:
            return await self._cases.store.open_bans()
        except CaseStoreError as error:
            log.warning("could not read announced bans from the case store: %s", error)
            return {}

    async def _describe_history(self, record: BanRecord) -> None:
        counts = await self._cases.counts(record.user_id)
        if counts:
            record.history = earlier_text(Kind.BAN, counts)

    async def _replaced_while_away(self, old: BanRecord, newer: BanRecord) -> None:
        self._set_closure(old, Closure(ClosureKind.REPLACED, None, self._clock.time()))
        await self._safe_update(old)
        try:
            await self._announce_from_stream(newer)
        except (SlackPostError, CaseStoreError) as error:
            log.warning("could not announce %s's newer ban: %s", newer.user_id, error)

    async def _rehydrate_with_retries(self) -> None:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential(multiplier=1, max=REHYDRATE_MAX_WAIT),
            sleep=self._clock.sleep,
            before_sleep=lambda state: log.warning(
                "could not rebuild ban timers from Stream: %s; retrying",
                state.outcome.exception() if state.outcome else None,
            ),
        ):
            with attempt:
                await self.rehydrate()

    async def rehydrate(self) -> None:
        """Rebuild timers from Stream's bans. Bans that lapsed while callmod was down get a timer
        due at once: it lifts them in Stream (which is what makes the announcement happen once
        across restarts) and announces them."""
        now = self._clock.time()
        count = lapsed = 0
        announced = await self._announced_bans()
        replaced: list[tuple[BanRecord, BanRecord]] = []
        async for ban in self._stream.iter_bans(include_expired=True):
            if ban.user_id in self.records:
                continue  # callmod or a webhook already knows a newer state
            record = record_from_stream(ban, self._bot_user)
            case = announced.pop(ban.user_id, None)
            same = case is not None and (
                abs(case.created_at.timestamp() - record.created_at) <= SAME_BAN_TOLERANCE
            )
            if case is not None and same:
                remember_announcement(record, case)
            elif case is not None:
                # The ban callmod announced was replaced in Stream while callmod was away (the
                # webhook of the newer ban lost): close its notification, announce the newer one.
                replaced.append((record_from_case(case, ban.user_id, self._bot_user), record))
            self.records[ban.user_id] = record
            if record.expires_at is None:
                count += 1
                continue
            if record.expires_at <= now:
                record.lapsed_offline = True
                lapsed += 1
            else:
                count += 1
            self.timers.schedule(ban.user_id, record.expires_at, record)
            if self._expiries is not None:  # one another replica shares already stays its own
                await self._expiries.put(record, replace=False)
        for old, newer in replaced:
            await self._replaced_while_away(old, newer)
        for user_id, case in announced.items():
            # Announced as in force, but Stream no longer holds it: lifted while callmod was
            # away (its notification is closed by the next reconciliation), or run out.
            if user_id in self.records:
                continue
            record = record_from_case(case, user_id, self._bot_user)
            if record.expires_at is not None and record.expires_at <= now:
                record.lapsed_offline = True
                self.records[user_id] = record
                self.timers.schedule(user_id, record.expires_at, record)
                if self._expiries is not None:
                    await self._expiries.put(record, replace=False)
            else:
                self._lifted_unseen[user_id] = record
        self.rehydrated.set()
        log.info("rebuilt %d bans from Stream; %d lapsed while offline", count, lapsed)


def _metadata(record: BanRecord) -> Metadata:
    """The `callmod_case` metadata of a ban's messages: the user and, when known, the case."""
    return case_metadata(user_id=record.user_id, case_number=record.case_number)
