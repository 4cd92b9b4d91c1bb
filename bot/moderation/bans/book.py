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
import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

from cachetools import LRUCache, TTLCache
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
from bot.moderation.bans.render import ban_length, expiry_line, lifted_notification, notification
from bot.moderation.history.book import CaseBook, Ticket
from bot.moderation.history.render import earlier_text
from bot.slack.blocks import code
from bot.slack.poster import SlackPoster
from bot.stream import Ban, StreamClient
from bot.stream.events import UserBanned, UserUnbanned
from bot.util.clock import Clock
from bot.util.request_ids import request_id
from bot.util.timers import TimerRegistry

log = logging.getLogger("callmod.bans")

OWN_ECHO_WINDOW = 300.0  # a user.banned webhook this soon after our own ban is its echo
MAX_OWN_BANS = 100_000  # own bans remembered within the echo window
# Stream stamps a ban a little before callmod records it (request latency, clock skew); a ban
# Stream created later than this after ours is a different, newer ban.
SAME_BAN_TOLERANCE = 60.0
MAX_CLOSED_MESSAGES = 10_000  # notifications remembered for "already closed" answers to clicks
REHYDRATE_MAX_WAIT = 300.0  # seconds between start-up rebuild attempts, at most


class UnbanOutcome(Enum):
    UNBANNED = "unbanned"
    ALREADY_CLOSED = "already_closed"  # the clicked notification's ban had ended already
    EARLIER_BAN = "earlier_ban"  # the clicked notification is about an earlier ban
    ENDED = "ended"  # the clicked notification's ban ended before (found in the case store)


@dataclass(frozen=True)
class UnbanResult:
    outcome: UnbanOutcome
    closure: Closure | None = None  # for ALREADY_CLOSED: how that ban ended
    announced: bool = False  # a notification in Slack now says the ban was lifted


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
    ) -> None:
        self._stream = stream
        self._cases = cases
        cases.notification_editor = self._republish
        self._poster = poster
        self._channel = channel
        self._clock = clock
        self._bot_user = bot_stream_user_id
        self.records: dict[str, BanRecord] = {}
        # user id -> when callmod last banned them, to recognise Stream's webhook echoes
        self._own_bans: TTLCache[str, float] = TTLCache(
            MAX_OWN_BANS, ttl=OWN_ECHO_WINDOW, timer=clock.time
        )
        # notification ts -> how its ban ended (or the click that is ending it right now)
        self._closed_messages: LRUCache[str, Closure] = LRUCache(MAX_CLOSED_MESSAGES)
        self.timers: TimerRegistry[BanRecord] = TimerRegistry(
            clock, self._expire, retry_base=retry_base
        )
        self.rehydrated = asyncio.Event()
        self._rehydration: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, *, rehydrate: bool = True) -> None:
        self.timers.start()
        if rehydrate and self._rehydration is None:
            self._rehydration = asyncio.create_task(self._rehydrate_with_retries())
        elif not rehydrate:
            self.rehydrated.set()

    async def stop(self) -> None:
        if self._rehydration is not None:
            self._rehydration.cancel()
            await asyncio.gather(self._rehydration, return_exceptions=True)
        await self.timers.stop()

    async def idle(self) -> None:
        await self.timers.wait_idle()

    @property
    def remembered_own_bans(self) -> int:
        self._own_bans.expire()
        return len(self._own_bans)

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
        # mark the ban as callmod's own first, so the echo is not announced as a second ban.
        self._own_bans[user_id] = self._clock.time()
        await self._stream.ban(
            user_id,
            banned_by_id=self._bot_user,
            reason=stream_reason(reason, actor.user_name),
            timeout_minutes=math.ceil(duration.total_seconds() / 60) if duration else None,
            ip_ban=ip_ban,
        )
        now = self._clock.time()
        self._own_bans[user_id] = now
        record = BanRecord(
            user_id=user_id,
            banned_by=actor,
            reason=reason,
            ip_ban=ip_ban,
            created_at=now,
            expires_at=now + duration.total_seconds() if duration else None,
        )
        ticket = ticket or Ticket(())
        record.case_number = ticket.numbers[0] if ticket.numbers else None
        await self._describe_history(record)
        previous = self.records.get(user_id)
        if previous is not None and self._is_unclaimed_echo(previous, now):
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
        if event.channel_cid is not None:
            return  # a chat-channel ban: it does not keep anyone out of calls
        user_id = event.user.id
        by_id = event.banned_by.id if event.banned_by is not None else None
        if by_id == self._bot_user and self._is_own_ban(user_id):
            return  # the echo of a ban callmod made and already announced
        created = event.created_at.timestamp()
        expires = event.expires_at.timestamp() if event.expires_at else None
        known = self.records.get(user_id)
        if (
            known is not None
            and known.source != "slack"
            and known.message_ts is not None
            and known.closure is None
            and abs(known.created_at - created) < 1
            and known.expires_at == expires
        ):
            return  # already announced (found in Stream before its webhook arrived)
        record = BanRecord(
            user_id=user_id,
            banned_by=stream_actor(by_id, self._bot_user),
            reason=event.reason,
            ip_ban=event.ip_ban,
            created_at=created,
            expires_at=expires,
            source="webhook",
        )
        if by_id != self._bot_user:  # callmod's own bans were recorded when they were made
            ticket = await self._cases.record(
                NewCase(
                    kind=Kind.BAN,
                    source=Source.STREAM,
                    outcome=Outcome.DONE,
                    request_id=request_id.get(),
                    target_user_id=user_id,
                    reason=event.reason,
                    detail=f"ban {code(user_id)} {ban_length(record)}",
                    duration_seconds=int(expires - created) if expires is not None else None,
                    expires_at=event.expires_at,
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

    async def on_unbanned(self, event: UserUnbanned) -> None:
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
            await self._cases.record(
                NewCase(
                    kind=Kind.UNBAN,
                    source=Source.STREAM,
                    outcome=Outcome.DONE,
                    request_id=request_id.get(),
                    target_user_id=record.user_id,
                    detail=f"unban {code(record.user_id)}",
                )
            )
        await self._close(record, closure, raise_on_failure=True)

    # -- queries -------------------------------------------------------------------------------

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

    def _is_own_ban(self, user_id: str) -> bool:
        at = self._own_bans.get(user_id)
        return at is not None and at <= self._clock.time()

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
            ts = await self._poster.post(self._channel, text, message)
        else:
            maybe_ts = await self._poster.try_post(self._channel, text, message)
            if maybe_ts is None:
                return False
            ts = maybe_ts
        record.channel, record.message_ts = self._channel, ts
        return True

    async def _close(self, record: BanRecord, closure: Closure, *, raise_on_failure: bool) -> bool:
        """Close a ban that was lifted; the record stays until its notification says so, so a
        retried webhook can finish the job."""
        if self.records.get(record.user_id) is record:
            self.timers.cancel(record.user_id)
        if record.closure is None:
            self._set_closure(record, closure)
        if raise_on_failure:
            await self._update(record)
            updated = record.message_ts is not None
        else:
            updated = await self._safe_update(record)
        if self.records.get(record.user_id) is record:
            del self.records[record.user_id]
        return updated

    async def _expire(self, user_id: str, record: BanRecord) -> None:
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
        if not record.expiry_recorded:
            await self._cases.record(
                NewCase(
                    kind=Kind.BAN_EXPIRED,
                    source=Source.CALLMOD,
                    outcome=Outcome.DONE,
                    request_id=request_id.get(),
                    target_user_id=user_id,
                    detail=f"the ban of {code(user_id)} expired",
                )
            )
            record.expiry_recorded = True
        if record.message_ts is not None and not record.message_closed:
            await self._update(record)
            record.message_closed = True
        if self._channel is not None and not record.line_posted:
            await self._poster.post(self._channel, expiry_line(record, expired_at))
            record.line_posted = True
        if self.records.get(user_id) is record:
            del self.records[user_id]

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
        await self._poster.update(record.channel, record.message_ts, text, message)

    async def _safe_update(self, record: BanRecord) -> bool:
        if record.channel is None or record.message_ts is None:
            return False
        text, message = notification(record)
        return await self._safe_send_update(record.channel, record.message_ts, text, message)

    async def _safe_send_update(
        self, channel: str, ts: str, text: str, message: list[dict[str, Any]]
    ) -> bool:
        try:
            await self._poster.update(channel, ts, text, message)
        except Exception as exc:
            log.warning("could not update the ban notification %s: %s", ts, exc)
            return False
        return True

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
        async for ban in self._stream.iter_bans(include_expired=True):
            if ban.user_id in self.records:
                continue  # callmod or a webhook already knows a newer state
            record = record_from_stream(ban, self._bot_user)
            case = announced.get(ban.user_id)
            if case is not None:
                remember_announcement(record, case)
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
        self.rehydrated.set()
        log.info("rebuilt %d bans from Stream; %d lapsed while offline", count, lapsed)
