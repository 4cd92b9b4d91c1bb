"""The ban lifecycle: announce → schedule → expire → announce.

Every ban callmod knows of (made through callmod, seen in a `user.banned` webhook, or found in
Stream at start-up) gets a record; timed ones get a timer keyed by the banned user. When a timer
fires, Stream is asked whether the ban is really gone (and told to lift it if it is not), the
original notification is updated and a short line is posted. A step that fails raises, and the
timer registry retries the fire with backoff; steps that already succeeded are not repeated.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from bot.core.parsing import format_duration
from bot.core.registry import Actor
from bot.slack import blocks
from bot.slack.blocks import Button, code, date_token, escape, mention
from bot.slack.poster import SlackPoster
from bot.stream import Ban, StreamClient
from bot.stream.events import UserBanned, UserUnbanned
from bot.util.clock import Clock
from bot.util.timers import TimerRegistry

log = logging.getLogger("callmod.bans")

UNBAN_ACTION = "callmod_unban"
OWN_ECHO_WINDOW = 300.0  # a user.banned webhook this soon after our own ban is its echo
# Stream stamps a ban a little before callmod records it (request latency, clock skew); a ban
# Stream created later than this after ours is a different, newer ban.
SAME_BAN_TOLERANCE = 60.0
MAX_CLOSED_MESSAGES = 10_000  # notifications remembered for "already closed" answers to clicks

Source = Literal["slack", "webhook", "stream"]


@dataclass(slots=True)
class BanRecord:
    user_id: str
    banned_by: str  # mrkdwn, already escaped: "<@U123>", "callmod" or "`dashboard-admin` in Stream"
    reason: str | None
    ip_ban: bool
    created_at: float
    expires_at: float | None
    source: Source = "slack"  # made through callmod, told by a webhook, or read from Stream
    banned_by_id: str | None = None  # the Stream user that made it, when known
    channel: str | None = None
    message_ts: str | None = None
    closed_by: str | None = None  # the status line once unbanned, expired or replaced
    lapsed_offline: bool = False  # found already expired at start-up
    # Expiry progress, so a retried fire does not repeat the steps that succeeded.
    lifted: bool = False
    message_closed: bool = False
    line_posted: bool = False


def stream_actor(stream_user_id: str | None, bot_stream_user_id: str) -> str:
    """Who made a ban, for bans callmod learns of from Stream (mrkdwn)."""
    if stream_user_id is None:
        return "someone in Stream"
    if stream_user_id == bot_stream_user_id:
        return "callmod"
    return f"{code(stream_user_id)} in Stream"


def record_from_stream(ban: Ban, bot_stream_user_id: str) -> BanRecord:
    return BanRecord(
        user_id=ban.user_id,
        banned_by=stream_actor(ban.banned_by_id, bot_stream_user_id),
        reason=ban.reason,
        ip_ban=False,  # Stream's ban list does not say
        created_at=ban.created_at.timestamp(),
        expires_at=ban.expires_at.timestamp() if ban.expires_at else None,
        source="stream",
        banned_by_id=ban.banned_by_id,
    )


class BanBook:
    def __init__(
        self,
        *,
        stream: StreamClient,
        poster: SlackPoster,
        channel: str | None,
        clock: Clock,
        bot_stream_user_id: str,
        retry_base: float = 5.0,
    ) -> None:
        self._stream = stream
        self._poster = poster
        self._channel = channel
        self._clock = clock
        self._bot_user = bot_stream_user_id
        self.records: dict[str, BanRecord] = {}
        # user id -> when callmod last banned them (oldest first), to recognise webhook echoes
        self._own_bans: OrderedDict[str, float] = OrderedDict()
        # notification ts -> its closing status (or the click that is closing it right now)
        self._closed_messages: OrderedDict[str, str] = OrderedDict()
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
        return len(self._own_bans)

    @property
    def remembered_messages(self) -> int:
        return len(self._closed_messages)

    # -- bans made through callmod ---------------------------------------------------------------

    def expect_own_ban(self, user_id: str) -> None:
        """Called before callmod asks Stream for a ban: Stream's `user.banned` echo can overtake
        the answer (or answer a retried attempt), and must not be announced as a second ban."""
        self._remember_own_ban(user_id, self._clock.time())

    async def announce_ban(
        self,
        *,
        actor: Actor,
        user_id: str,
        reason: str | None,
        duration: timedelta | None,
        ip_ban: bool,
    ) -> BanRecord:
        """Record a ban callmod just made in Stream, schedule its expiry and post the
        notification; the record's `expires_at` is the one the notification shows."""
        now = self._clock.time()
        self._remember_own_ban(user_id, now)
        record = BanRecord(
            user_id=user_id,
            banned_by=mention(actor.user_id),
            reason=reason,
            ip_ban=ip_ban,
            created_at=now,
            expires_at=now + duration.total_seconds() if duration else None,
            banned_by_id=self._bot_user,
        )
        previous = self.records.get(user_id)
        if previous is not None and self._is_unclaimed_echo(previous, now):
            # Stream's echo of this very ban overtook our answer and was announced as made by
            # callmod; take its message over instead of posting a second one.
            await self._install(record, previous=None)
            record.channel, record.message_ts = previous.channel, previous.message_ts
            await self._safe_update(record)
            return record
        await self._announce(record, raise_on_failure=False)
        return record

    async def record_unban(
        self,
        *,
        actor: Actor,
        user_id: str,
        channel: str | None = None,
        message_ts: str | None = None,
    ) -> bool:
        """Close the ban callmod just lifted; `channel`/`message_ts` name the clicked
        notification, if any. Returns whether a notification in Slack now says so."""
        how = f"Unbanned by {mention(actor.user_id)} at {date_token(self._clock.time())}"
        record = self.records.get(user_id)
        clicked = channel is not None and message_ts is not None
        if record is not None and record.message_ts is None and clicked:
            record.channel, record.message_ts = channel, message_ts  # posted before a restart
        if record is not None:
            return await self._close(record, how, raise_on_failure=False)
        if channel is not None and message_ts is not None:
            # A notification callmod no longer tracks (posted before a restart, ban gone since).
            self._remember_closed(message_ts, how)
            text = f":dove_of_peace: The ban of {code(user_id)} is lifted."
            parts = blocks.to_dicts([blocks.section(text), blocks.context(how)])
            return await self._safe_send_update(channel, message_ts, f"{text} {how}.", parts)
        return False

    def handled_by(self, message_ts: str | None) -> str | None:
        """How the ban behind a notification was closed (for late Unban clicks)."""
        return self._closed_messages.get(message_ts or "")

    def claim(self, message_ts: str, actor: Actor) -> str | None:
        """Mark a notification as being unbanned by `actor` before Stream is called, so that a
        concurrent second click is told who got there first. Returns that earlier status, if
        any; `release` undoes a claim whose unban failed."""
        earlier = self._closed_messages.get(message_ts)
        if earlier is not None:
            return earlier
        self._remember_closed(message_ts, f"Being unbanned by {mention(actor.user_id)}")
        return None

    def release(self, message_ts: str) -> None:
        self._closed_messages.pop(message_ts, None)

    def current_message(self, user_id: str) -> str | None:
        """The ts of the notification of the user's ban in force, if callmod posted one."""
        record = self.records.get(user_id)
        return record.message_ts if record is not None and record.closed_by is None else None

    # -- bans made elsewhere (webhooks) ----------------------------------------------------------

    async def on_banned(self, event: UserBanned) -> None:
        if event.channel_cid is not None:
            return  # a chat-channel ban: it does not keep anyone out of calls
        user_id = event.user.id
        by_id = event.banned_by.id if event.banned_by is not None else None
        now = self._clock.time()
        if by_id == self._bot_user and self._is_own_ban(user_id, now):
            return  # the echo of a ban callmod made and already announced
        created = event.created_at.timestamp()
        expires = event.expires_at.timestamp() if event.expires_at else None
        known = self.records.get(user_id)
        if (
            known is not None
            and known.source != "slack"
            and known.message_ts is not None
            and known.closed_by is None
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
            banned_by_id=by_id,
        )
        await self._announce(record, raise_on_failure=True)

    async def on_unbanned(self, event: UserUnbanned) -> None:
        by_id = event.unbanned_by.id if event.unbanned_by is not None else None
        if by_id == self._bot_user:
            # callmod closes its own unbans (command, button, expiry) with the moderator's name.
            return
        record = self.records.get(event.user.id)
        if record is None:
            return
        by = f"{code(by_id)} in Stream" if by_id else "Stream"
        how = f"Unbanned by {by} at {date_token(event.created_at)}"
        await self._close(record, how, raise_on_failure=True)

    # -- queries -------------------------------------------------------------------------------

    def active(self, user_id: str | None = None) -> list[BanRecord]:
        """Known bans in force, soonest expiry first, permanent ones last."""
        now = self._clock.time()
        if user_id is None:
            records = list(self.records.values())
        else:
            records = [self.records[user_id]] if user_id in self.records else []
        live = [
            r
            for r in records
            if r.closed_by is None and (r.expires_at is None or r.expires_at > now)
        ]
        return sorted(live, key=lambda r: (r.expires_at is None, r.expires_at or 0.0, r.user_id))

    # -- internals -----------------------------------------------------------------------------

    def _remember_own_ban(self, user_id: str, now: float) -> None:
        own = self._own_bans
        own.pop(user_id, None)
        own[user_id] = now
        self._forget_old_own_bans(now)

    def _forget_old_own_bans(self, now: float) -> None:
        own = self._own_bans
        while own and now - next(iter(own.values())) >= OWN_ECHO_WINDOW:
            own.popitem(last=False)

    def _is_own_ban(self, user_id: str, now: float) -> bool:
        self._forget_old_own_bans(now)
        at = self._own_bans.get(user_id)
        return at is not None and at <= now

    def _is_unclaimed_echo(self, record: BanRecord, now: float) -> bool:
        return (
            record.source == "webhook"
            and record.banned_by_id == self._bot_user
            and record.closed_by is None
            and record.message_ts is not None
            and abs(now - record.created_at) < OWN_ECHO_WINDOW
        )

    def _remember_closed(self, message_ts: str, how: str) -> None:
        closed = self._closed_messages
        closed.pop(message_ts, None)
        closed[message_ts] = how
        while len(closed) > MAX_CLOSED_MESSAGES:
            closed.popitem(last=False)

    async def _install(self, record: BanRecord, *, previous: BanRecord | None) -> None:
        """Make `record` the user's ban and set its timer; close `previous` as replaced."""
        self.records[record.user_id] = record
        if record.expires_at is not None:
            self.timers.schedule(record.user_id, record.expires_at, record)
        else:
            self.timers.cancel(record.user_id)
        if previous is not None and previous is not record and previous.closed_by is None:
            previous.closed_by = f"Replaced by a newer ban at {date_token(self._clock.time())}"
            if previous.message_ts is not None:
                self._remember_closed(previous.message_ts, previous.closed_by)
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

    async def _close(self, record: BanRecord, how: str, *, raise_on_failure: bool) -> bool:
        """Close a ban that was lifted; the record stays until its notification says so, so a
        retried webhook can finish the job."""
        if self.records.get(record.user_id) is record:
            self.timers.cancel(record.user_id)
        if record.closed_by is None:
            record.closed_by = how
            if record.message_ts is not None:
                self._remember_closed(record.message_ts, how)
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
        if record.closed_by is None:
            record.closed_by = f"Expired at {date_token(expired_at)}"
            if record.message_ts is not None:
                self._remember_closed(record.message_ts, record.closed_by)
        if record.message_ts is not None and not record.message_closed:
            await self._update(record)
            record.message_closed = True
        if self._channel is not None and not record.line_posted:
            if record.lapsed_offline:
                line = (
                    f":hourglass: The ban of {code(user_id)} expired while callmod was offline "
                    f"({date_token(expired_at)})."
                )
            else:
                line = f":hourglass: The ban of {code(user_id)} has expired."
            await self._poster.post(self._channel, line)
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

    async def _rehydrate_with_retries(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.rehydrate()
                return
            except Exception as exc:
                log.warning("could not rebuild ban timers from Stream: %s; retrying", exc)
                await self._clock.sleep(delay)
                delay = min(delay * 2, 300.0)

    async def rehydrate(self) -> None:
        """Rebuild timers from Stream's bans. Bans that lapsed while callmod was down get a timer
        due at once: it lifts them in Stream (which is what makes the announcement happen once
        across restarts) and announces them."""
        now = self._clock.time()
        count = lapsed = 0
        async for ban in self._stream.iter_bans(include_expired=True):
            if ban.user_id in self.records:
                continue  # callmod or a webhook already knows a newer state
            record = record_from_stream(ban, self._bot_user)
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


def notification(record: BanRecord) -> tuple[str, list[dict[str, Any]]]:
    """The ban message in the log channel: an Unban button while the ban is open, the closing
    status (`record.closed_by`) instead once it is not."""
    ip = " *by IP*" if record.ip_ban else ""
    if record.expires_at is None:
        length = "permanently"
    else:
        minutes = round((record.expires_at - record.created_at) / 60)
        length = (
            f"for {format_duration(timedelta(minutes=minutes))}, until "
            f"{date_token(record.expires_at)}"
        )
    text = f":hammer: {code(record.user_id)} was banned{ip} by {record.banned_by} {length}."
    lines = [text, f"Reason: {escape(record.reason) if record.reason else '_none given_'}"]
    parts = [blocks.section("\n".join(lines))]
    if record.closed_by is None:
        parts.append(
            blocks.actions(
                [Button("Unban", UNBAN_ACTION, record.user_id, "danger")],
                block_id=f"ban:{record.user_id}"[:255],
            )
        )
    else:
        parts.append(blocks.context(record.closed_by))
        text = f"{text} {record.closed_by}."
    return text, blocks.to_dicts(parts)
