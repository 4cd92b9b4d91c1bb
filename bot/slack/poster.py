"""Channel messages through the Slack Web API, with failures as exceptions or as `None`.

Retries of 429 (per Retry-After) and 5xx happen inside slack_sdk's retry handlers; what fails
after them surfaces here as `SlackPostError` so the caller decides: timers and webhook work retry
later, while an audit line after a command is reported to the moderator instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("callmod.slack")


def slack_client(token: str, base_url: str) -> AsyncWebClient:
    """A Web API client that retries rate limits (per Retry-After), 500/503 and dropped
    connections — slack_sdk retries nothing unless told to."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=3),
        ],
    )


# Slack's answers that no retry can change: the message or channel is gone, or may not be edited.
PERMANENT_ERRORS = frozenset(
    {
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "channel_not_found",
        "is_archived",
        "not_in_channel",
    }
)


# Message metadata (https://docs.slack.dev/messaging/message-metadata): every message callmod
# posts says whom, which call and which case it is about, for shortcuts and other tools.
METADATA_EVENT = "callmod_case"
HISTORY_PAGE = 200  # conversations.history: messages a page …
HISTORY_PAGES = 5  # … and pages looked through for a message a dead replica posted
Metadata = dict[str, Any]


def case_metadata(
    user_id: str | None = None,
    call_cid: str | None = None,
    case_number: int | None = None,
    alert_id: str | None = None,
) -> Metadata:
    """`{"event_type": "callmod_case", "event_payload": {...}}` with the keys that are known
    (Slack takes strings, numbers and booleans as payload values; unknown keys are left out)."""
    payload: dict[str, str | int] = {}
    if user_id:
        payload["user_id"] = user_id
    if call_cid:
        payload["call_cid"] = call_cid
    if case_number is not None:
        payload["case_number"] = case_number
    if alert_id:
        payload["alert_id"] = alert_id
    return {"event_type": METADATA_EVENT, "event_payload": payload}


class SlackPostError(Exception):
    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error  # Slack's error code, when Slack answered with one

    @property
    def permanent(self) -> bool:
        return self.error in PERMANENT_ERRORS


class SlackPoster:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self.before_send: Callable[[], Awaitable[None]] | None = None  # see bot/util/inflight.py

    async def _wait_turn(self) -> None:
        if self.before_send is not None:
            await self.before_send()

    async def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        metadata: Metadata | None = None,
    ) -> str:
        await self._wait_turn()
        try:
            response = await self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
                metadata=metadata or case_metadata(),
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            raise SlackPostError(f"chat.postMessage failed: {error}", error) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SlackPostError(f"chat.postMessage failed: {type(exc).__name__}") from exc
        return str(response.get("ts"))

    async def update(
        self,
        channel: str,
        ts: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        metadata: Metadata | None = None,
    ) -> None:
        """Without `metadata` the message keeps the metadata it was posted with."""
        await self._wait_turn()
        try:
            await self.client.chat_update(
                channel=channel, ts=ts, text=text, blocks=blocks or [], metadata=metadata
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            raise SlackPostError(f"chat.update failed: {error}", error) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SlackPostError(f"chat.update failed: {type(exc).__name__}") from exc

    async def find_case_message(
        self,
        channel: str,
        case_number: int,
        *,
        oldest: float | None = None,
        pages: int = HISTORY_PAGES,
    ) -> str | None:
        """The ts of a message callmod posted in `channel` (since `oldest`) whose metadata names
        case `case_number`; see `find_message`."""
        return await self.find_message(
            channel, "case_number", case_number, oldest=oldest, pages=pages
        )

    async def find_message(
        self,
        channel: str,
        key: str,
        value: str | int,
        *,
        oldest: float | None = None,
        pages: int = HISTORY_PAGES,
    ) -> str | None:
        """The ts of a message callmod posted in `channel` (since `oldest`) whose metadata has
        `key` = `value` (`conversations.history` with `include_all_metadata`, newest first,
        at most `pages` pages); None when there is none. Raises SlackPostError when Slack
        does not answer (the caller must not post then: the message may be there)."""
        cursor = None
        for _ in range(pages):
            await self._wait_turn()
            try:
                response = await self.client.conversations_history(
                    channel=channel,
                    oldest=f"{oldest:.6f}" if oldest is not None else None,
                    limit=HISTORY_PAGE,
                    include_all_metadata=True,
                    cursor=cursor,
                )
            except SlackApiError as exc:
                error = str(exc.response.get("error"))
                raise SlackPostError(f"conversations.history failed: {error}", error) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                name = type(exc).__name__
                raise SlackPostError(f"conversations.history failed: {name}") from exc
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if (
                    metadata.get("event_type") == METADATA_EVENT
                    and payload.get(key) == value
                ):
                    return str(message.get("ts"))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or cursor is None:
                return None
        return None

    async def try_post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        metadata: Metadata | None = None,
    ) -> str | None:
        try:
            return await self.post(channel, text, blocks, metadata=metadata)
        except SlackPostError as exc:
            log.warning("could not post to %s: %s", channel, exc)
            return None
