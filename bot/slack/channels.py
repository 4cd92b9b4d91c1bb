"""Finding a Slack channel by id or name, and whether callmod's bot is in it (Web API).

`chat.update` takes only a channel id, so callmod turns MOD_LOG_CHANNEL / MOD_REQUESTS_CHANNEL
into ids once, at start-up (bot/runtime/channels.py). An id is looked up with
`conversations.info`; a name (`#mod-log` or `mod-log`) by paging `conversations.list` over public
and private channels (private ones are listed only when the bot is in them). Scopes:
`channels:read`, `groups:read`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
LIST_TYPES = "public_channel,private_channel"
LIST_PAGE = 200  # Slack recommends at most 200 a page for conversations.list
TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    is_member: bool
    is_archived: bool
    is_private: bool


class ChannelUnusable(Exception):
    """The channel cannot be used; `str()` says why in words an operator can act on."""


class SlackTokenRefused(Exception):
    """Slack refused the bot token itself (`invalid_auth`, `token_revoked`, …)."""

    def __init__(self, error: str) -> None:
        super().__init__(f"Slack refused the bot token ({error})")
        self.error = error


def is_channel_id(value: str) -> bool:
    return bool(CHANNEL_ID.match(value))


async def usable_channel(client: AsyncWebClient, value: str) -> Channel:
    """The channel `value` names (an id, `#name` or `name`), checked to be one the bot is in and
    that is not archived. Raises `ChannelUnusable` or `SlackTokenRefused`."""
    channel = await find_channel(client, value)
    if channel.is_archived:
        raise ChannelUnusable(f"#{channel.name} ({channel.id}) is archived")
    if not channel.is_member:
        raise ChannelUnusable(
            f"the bot is not in #{channel.name} ({channel.id}): invite it there first "
            "(/invite @callmod)"
        )
    return channel


async def find_channel(client: AsyncWebClient, value: str) -> Channel:
    if is_channel_id(value):
        return await _by_id(client, value)
    return await _by_name(client, value.removeprefix("#"))


async def _by_id(client: AsyncWebClient, channel_id: str) -> Channel:
    answer = await _ask(client, "conversations.info", {"channel": channel_id})
    if answer is None:
        raise ChannelUnusable(
            f"Slack knows no channel {channel_id} that the bot can see "
            "(a private channel must invite the bot first)"
        )
    raw = answer.get("channel")
    if not isinstance(raw, dict):
        raise ChannelUnusable("conversations.info answered without a channel")
    return _channel(raw)


async def _by_name(client: AsyncWebClient, name: str) -> Channel:
    cursor = ""
    seen: set[str] = set()
    while True:
        params: dict[str, Any] = {"types": LIST_TYPES, "limit": LIST_PAGE}
        if cursor:
            params["cursor"] = cursor
        answer = await _ask(client, "conversations.list", params)
        if answer is None:  # channel_not_found from a list: nothing sensible to page on
            break
        for raw in answer.get("channels") or []:
            if isinstance(raw, dict) and raw.get("name") == name:
                return _channel(raw)
        metadata = answer.get("response_metadata")
        cursor = str(metadata.get("next_cursor") or "") if isinstance(metadata, dict) else ""
        if not cursor or cursor in seen:
            break
        seen.add(cursor)
    raise ChannelUnusable(
        f"no channel named #{name} that the bot can see (check the spelling; a private channel "
        "must invite the bot first)"
    )


async def _ask(
    client: AsyncWebClient, method: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    """The method's answer; None for `channel_not_found`; other failures raise."""
    try:
        response = await client.api_call(method, http_verb="GET", params=params)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if error == "channel_not_found":
            return None
        if error in TOKEN_ERRORS:
            raise SlackTokenRefused(error) from None
        if error == "not_in_channel":
            raise ChannelUnusable("the bot is not in the channel: invite it there first") from None
        if error == "missing_scope":
            needed = exc.response.get("needed") or "channels:read, groups:read"
            raise ChannelUnusable(
                f"the Slack app lacks the scope {needed}: reinstall it from manifest.yml"
            ) from None
        raise ChannelUnusable(f"Slack answered {method} with {error}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        what = " ".join(f"{type(exc).__name__} {exc}".split())  # one line, whatever it says
        raise ChannelUnusable(f"could not reach Slack for {method}: {what}") from None
    return dict(response.data) if isinstance(response.data, dict) else {}


def _channel(raw: dict[str, Any]) -> Channel:
    return Channel(
        id=str(raw.get("id") or ""),
        name=str(raw.get("name") or ""),
        is_member=bool(raw.get("is_member")),
        is_archived=bool(raw.get("is_archived")),
        is_private=bool(raw.get("is_private")),
    )
