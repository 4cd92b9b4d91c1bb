"""The ban lifecycle: announce → schedule → expire → announce.

Every ban callmod knows of (made through callmod, seen in a `user.banned` webhook, or found in
Stream at start-up) gets a record; timed ones get a timer. When a timer fires, Stream is asked
whether the ban is really gone (and told to lift it if it is not), the original notification is
updated and a short line is posted. A step that fails raises, and the timer registry retries it
with backoff: nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot import blocks
from bot.blocks import Button, code, date_token, escape, mention
from bot.clock import Clock
from bot.events import UserBanned, UserUnbanned
from bot.parsing import format_duration
from bot.poster import SlackPoster
from bot.registry import Actor
from bot.stream import Ban, StreamClient
from bot.timers import TimerRegistry

log = logging.getLogger("callmod.bans")

UNBAN_ACTION = "callmod_unban"
OWN_ECHO_WINDOW = 300.0  # a user.banned webhook this soon after our own ban is its echo


@dataclass(slots=True)
class BanRecord:
    user_id: str
    banned_by: str  # mrkdwn, already escaped: "<@U123>" or "`dashboard-admin` in Stream"
    reason: str | None
    ip_ban: bool
    created_at: float
    expires_at: float | None
    channel: str | None = None
    message_ts: str | None = None
    closed_by: str | None = field(default=None)  # set once unbanned or expired


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
        self._by_message: dict[str, BanRecord] = {}
        # user id -> when callmod last banned / unbanned them, to recognise webhook echoes
        self._own_bans: dict[str, float] = {}
        self._own_unbans: dict[str, float] = {}
        self.timers: TimerRegistry[BanRecord] = TimerRegistry(
            clock, self._expire, retry_base=retry_base, on_failure=self._failed
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

    # -- bans made through callmod ---------------------------------------------------------------

    async def record_ban(
        self,
        *,
        actor: Actor,
        user_id: str,
        reason: str | None,
        duration: timedelta | None,
        ip_ban: bool,
    ) -> bool:
        now = self._clock.time()
        self._own_bans[user_id] = now
        record = BanRecord(
            user_id=user_id,
            banned_by=mention(actor.user_id),
            reason=reason,
            ip_ban=ip_ban,
            created_at=now,
            expires_at=now + duration.total_seconds() if duration else None,
        )
        return await self._announce(record, raise_on_failure=False)

    async def record_unban(self, *, actor: Actor, user_id: str) -> None:
        self._own_unbans[user_id] = self._clock.time()
        await self._close(user_id, f"Unbanned by {mention(actor.user_id)}", raise_on_failure=False)

    def handled_by(self, message_ts: str | None) -> str | None:
        """Who already closed the ban behind a notification (for late Unban clicks)."""
        record = self._by_message.get(message_ts or "")
        return record.closed_by if record else None

    # -- bans made elsewhere (webhooks) ----------------------------------------------------------

    async def on_banned(self, event: UserBanned) -> None:
        user_id = event.user.id
        by_bot = event.banned_by is not None and event.banned_by.id == self._bot_user
        if by_bot and self._is_echo(self._own_bans, user_id):
            return  # the echo of a ban callmod made and already announced
        banned_by = (
            f"{code(event.banned_by.id)} in Stream" if event.banned_by else "someone in Stream"
        )
        record = BanRecord(
            user_id=user_id,
            banned_by=banned_by,
            reason=event.reason,
            ip_ban=event.ip_ban,
            created_at=event.created_at.timestamp(),
            expires_at=event.expires_at.timestamp() if event.expires_at else None,
        )
        await self._announce(record, raise_on_failure=True)

    async def on_unbanned(self, event: UserUnbanned) -> None:
        user_id = event.user.id
        if self._is_echo(self._own_unbans, user_id):
            return
        record = self.records.get(user_id)
        if record is None:
            return
        by = f"{code(event.unbanned_by.id)} in Stream" if event.unbanned_by else "Stream"
        await self._close(user_id, f"Unbanned by {by}", raise_on_failure=True)

    def _is_echo(self, own: dict[str, float], user_id: str) -> bool:
        at = own.get(user_id)
        return at is not None and 0 <= self._clock.time() - at < OWN_ECHO_WINDOW

    # -- queries -------------------------------------------------------------------------------

    def active(self, user_id: str | None = None) -> list[BanRecord]:
        """Known active bans, soonest expiry first, permanent ones last."""
        now = self._clock.time()
        records = [self.records[user_id]] if user_id in self.records else []
        if user_id is None:
            records = list(self.records.values())
        live = [r for r in records if r.expires_at is None or r.expires_at > now]
        return sorted(live, key=lambda r: (r.expires_at is None, r.expires_at or 0.0, r.user_id))

    # -- internals -----------------------------------------------------------------------------

    async def _announce(self, record: BanRecord, *, raise_on_failure: bool) -> bool:
        previous = self.records.get(record.user_id)
        self.records[record.user_id] = record
        if record.expires_at is not None:
            self.timers.schedule(record.user_id, record.expires_at, record)
        else:
            self.timers.cancel(record.user_id)
        if previous is not None and previous.message_ts and previous.closed_by is None:
            previous.closed_by = "a newer ban"
            await self._safe_update(previous, "Replaced by a newer ban")
        if self._channel is None:
            return False
        text, message = notification(record, self._clock.time())
        if raise_on_failure:
            ts = await self._poster.post(self._channel, text, message)
        else:
            maybe_ts = await self._poster.try_post(self._channel, text, message)
            if maybe_ts is None:
                return False
            ts = maybe_ts
        record.channel, record.message_ts = self._channel, ts
        self._by_message[ts] = record
        return True

    async def _close(self, user_id: str, how: str, *, raise_on_failure: bool) -> None:
        self.timers.cancel(user_id)
        record = self.records.pop(user_id, None)
        if record is None or record.closed_by is not None:
            return
        record.closed_by = how
        if raise_on_failure:
            await self._update(record, how)
        else:
            await self._safe_update(record, how)

    async def _expire(self, user_id: str, record: BanRecord) -> None:
        if self.records.get(user_id) is not record:
            return  # replaced or lifted meanwhile
        now = self._clock.time()
        still = await self._stream.query_bans(user_id=user_id, include_expired=True)
        for ban in still:
            if ban.expires_at is None or ban.expires_at.timestamp() > now + 1:
                # Stream holds a newer or longer ban than ours: follow Stream.
                record.expires_at = ban.expires_at.timestamp() if ban.expires_at else None
                if record.expires_at is not None:
                    self.timers.schedule(user_id, record.expires_at, record)
                return
        if still:
            await self._stream.unban(user_id, unbanned_by_id=self._bot_user)
        expired_at = record.expires_at or now
        if record.message_ts:
            record.closed_by = "expiry"
            await self._update(record, f"Expired {date_token(expired_at)}")
        if self._channel is not None and self.records.get(user_id) is record:
            await self._poster.post(
                self._channel, f":hourglass: The ban of {code(user_id)} has expired."
            )
        if self.records.get(user_id) is record:
            del self.records[user_id]

    async def _update(self, record: BanRecord, how: str) -> None:
        if record.channel is None or record.message_ts is None:
            return
        text, message = notification(record, self._clock.time(), closed=how)
        await self._poster.update(record.channel, record.message_ts, text, message)

    async def _safe_update(self, record: BanRecord, how: str) -> None:
        try:
            await self._update(record, how)
        except Exception as exc:
            log.warning("could not update the notification of %s: %s", record.user_id, exc)

    def _failed(self, user_id: str, record: BanRecord, error: BaseException, attempt: int) -> None:
        log.warning(
            "expiry of the ban of %s failed (attempt %d): %s; retrying", user_id, attempt, error
        )

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
        """Rebuild timers from Stream's bans; bans that lapsed while callmod was down are lifted
        and announced once (lifting them is what makes "once" hold across restarts)."""
        now = self._clock.time()
        lapsed: list[Ban] = []
        count = 0
        async for ban in self._stream.iter_bans(include_expired=True):
            if ban.user_id in self.records:
                continue  # callmod or a webhook already knows a newer state
            expires = ban.expires_at.timestamp() if ban.expires_at else None
            if expires is not None and expires <= now:
                lapsed.append(ban)
                continue
            count += 1
            record = BanRecord(
                user_id=ban.user_id,
                banned_by=code(ban.banned_by_id) if ban.banned_by_id else "unknown",
                reason=ban.reason,
                ip_ban=False,
                created_at=ban.created_at.timestamp(),
                expires_at=expires,
            )
            self.records[ban.user_id] = record
            if expires is not None:
                self.timers.schedule(ban.user_id, expires, record)
        self.rehydrated.set()
        log.info("rebuilt %d ban timers from Stream; %d lapsed while offline", count, len(lapsed))
        for ban in lapsed:
            await self._stream.unban(ban.user_id, unbanned_by_id=self._bot_user)
            if self._channel is not None and ban.expires_at is not None:
                await self._poster.post(
                    self._channel,
                    f":hourglass: The ban of {code(ban.user_id)} expired while callmod was "
                    f"offline ({date_token(ban.expires_at)}).",
                )


def notification(
    record: BanRecord, now: float, *, closed: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The ban message in the log channel; `closed` replaces the Unban button with a status."""
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
    if closed is None:
        parts.append(
            blocks.actions(
                [Button("Unban", UNBAN_ACTION, record.user_id, "danger")],
                block_id=f"ban:{record.user_id}"[:255],
            )
        )
    else:
        parts.append(blocks.context(f"{closed} · {date_token(now)}"))
    return text, blocks.to_dicts(parts)
