"""The bot's own Stream user (MOD_STREAM_USER_ID), created at start-up and retried until it is.

Stream refuses bans and mutes "by" a user it does not know, so every action would fail with
"user callmod-bot was not found" if the upsert were lost. `BotUser.start()` tries once, bounded by
the Stream client's own deadline, so a healthy start-up serves with the user in place; when that
fails it keeps trying in the background with capped, jittered backoff on the injected clock until
Stream takes it. `ready` is what readiness (`/readyz`) reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_never,
    wait_random_exponential,
)

from bot.stream import StreamAPIError, StreamClient
from bot.util.clock import Clock

log = logging.getLogger("callmod")

RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0


class BotUser:
    def __init__(self, stream: StreamClient, user_id: str, *, clock: Clock) -> None:
        self._stream = stream
        self.user_id = user_id
        self._clock = clock
        self.ready = asyncio.Event()
        self.last_error: str | None = None
        self.failures = 0  # failed attempts so far
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """One attempt now; on failure, keep trying in the background."""
        try:
            await self._upsert()
        except StreamAPIError as error:
            self._failed(error)
            log.error(
                "could not create the bot's Stream user %s: %s; retrying in the background",
                self.user_id,
                error.sentence,
            )
            self._task = asyncio.create_task(self._retry(), name="callmod-bot-user")

    def status(self) -> str:
        if self.ready.is_set():
            return f"{self.user_id} is in place"
        reason = f": {self.last_error}" if self.last_error else ""
        return f"{self.user_id} is not created yet{reason}"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _retry(self) -> None:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(StreamAPIError),
            wait=wait_random_exponential(multiplier=RETRY_FIRST_SECONDS, max=RETRY_MAX_SECONDS),
            stop=stop_never,
            sleep=self._clock.sleep,
            after=self._after_failure,
            reraise=True,
        ):
            with attempt:
                await self._upsert()
        log.info("created the bot's Stream user %s", self.user_id)

    async def _upsert(self) -> None:
        await self._stream.upsert_user(self.user_id, name="callmod", role="admin")
        self.last_error = None
        self.ready.set()

    def _after_failure(self, retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, StreamAPIError):
            self._failed(error)
            log.warning(
                "creating the bot's Stream user %s failed again (attempt %d): %s",
                self.user_id,
                retry_state.attempt_number,
                error.sentence,
            )

    def _failed(self, error: StreamAPIError) -> None:
        self.failures += 1
        self.last_error = error.sentence
