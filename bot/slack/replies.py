"""Ephemeral replies to the moderator through the payload's response_url."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.core.model import Reply

log = logging.getLogger("callmod.replies")


class ReplySender:
    """Ephemeral replies through the command's response_url, over one shared aiohttp session.

    Bolt's `respond()` opens a new session (and connection) for every reply, and never raises
    on an HTTP error; this sends through slack_sdk's webhook client with the session callmod
    keeps for its whole life, and checks the status.
    """

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.before_send: Callable[[], Awaitable[None]] | None = None  # see bot/util/inflight.py
        self._retry_handlers: list[AsyncRetryHandler] = [
            AsyncConnectionErrorRetryHandler(max_retry_count=2)
        ]

    async def send(self, response_url: str, reply: Reply, *, replace_original: bool) -> bool:
        if not response_url:
            log.warning("no response_url to answer on")
            return False
        if self.before_send is not None:
            await self.before_send()
        client = AsyncWebhookClient(
            response_url,
            session=self.session,
            retry_handlers=self._retry_handlers,
        )
        try:
            response = await client.send(
                text=reply.text,
                blocks=reply.blocks if reply.blocks is not None else [],
                response_type="ephemeral",
                replace_original=replace_original,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("response_url failed: %s", type(exc).__name__)
            return False
        if response.status_code != 200:
            log.warning("response_url answered HTTP %s", response.status_code)
            return False
        return True
