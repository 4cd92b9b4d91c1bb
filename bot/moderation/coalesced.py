"""One Slack message that many events update: posted once, then edited, never by two writers.

A burst of events (2,000 mutes in a call) must not become 2,000 messages, nor 2,000 edits queued
behind Slack's rate limit. Each event bumps the message's version; whoever needs the message to
show it awaits `show()`, and one flusher task posts or edits with the newest rendering until the
message has caught up. Events still being prepared (`preparing()`: their case being written) hold
the next edit back until they are all in or `FLUSH_EVERY` changes wait, so a burst costs a post
and an edit per few dozen events however fast each one is prepared — without a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from bot.slack.poster import Metadata, SlackPoster

log = logging.getLogger("callmod.coalesced")

Render = Callable[[], tuple[str, list[dict[str, Any]]]]
FLUSH_EVERY = 50  # changes that go out in an edit even while more events are being prepared


class CoalescedMessage:
    def __init__(
        self,
        poster: SlackPoster,
        channel: str,
        render: Render,
        metadata: Callable[[], Metadata] | None = None,  # the message's metadata as of now
    ) -> None:
        self._poster = poster
        self.channel = channel
        self._render = render
        self._metadata = metadata
        self.ts: str | None = None
        self.version = 0
        self._shown = 0
        self._flusher: asyncio.Task[None] | None = None
        self.posts = 0
        self.edits = 0
        self._preparing = 0
        self._release = asyncio.Event()

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """An event for this message is being prepared; `changed()` it inside when it is in."""
        self._preparing += 1
        try:
            yield
        finally:
            self._preparing -= 1
            if not self._held():
                self._release.set()

    def changed(self) -> None:
        self.version += 1
        if not self._held():
            self._release.set()

    def _held(self) -> bool:
        return self._preparing > 0 and self.version - self._shown < FLUSH_EVERY

    async def show(self) -> None:
        """Return once Slack shows the message as of now; raises SlackPostError otherwise (the
        next `show()` tries again)."""
        wanted = self.version
        while self._shown < wanted:
            if self._held():
                self._release.clear()
                await self._release.wait()
                continue
            flusher = self._flusher
            if flusher is None or flusher.done():
                flusher = self._flusher = asyncio.create_task(self._flush())
                flusher.add_done_callback(_log_failure)
            await asyncio.shield(flusher)

    async def _flush(self) -> None:
        while self._shown < self.version:
            version = self.version
            text, blocks = self._render()
            metadata = self._metadata() if self._metadata is not None else None
            if self.ts is None:
                self.ts = await self._poster.post(self.channel, text, blocks, metadata=metadata)
                self.posts += 1
            else:
                await self._poster.update(self.channel, self.ts, text, blocks, metadata=metadata)
                self.edits += 1
            self._shown = version


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("could not bring a Slack message up to date: %s", error)
