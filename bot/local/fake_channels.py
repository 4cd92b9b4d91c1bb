"""The channels of the fake Slack workspace and its `conversations.info` / `conversations.list`.

Answers follow Slack's documented shapes and errors: an unknown id, or a private channel the bot
is not in, is `channel_not_found`; a public channel the bot is not in is returned with
`"is_member": false`; `conversations.list` pages with `limit` and an opaque
`response_metadata.next_cursor` ("" on the last page) and lists private channels only when the bot
is in them. `chat.postMessage` accepts a name (`#mod-log`) and answers with the id, as Slack does;
`chat.update` and `chat.delete` need the id.

The workspace starts with #mod-log (C0MODLOG) and #mod-requests (C0MODREQ), the bot in both: the
ids the local stack and the console use.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
KNOWN_TYPES = frozenset({"public_channel", "private_channel", "mpim", "im"})
_CURSOR_PREFIX = "next:"
_CREATED = 1_700_000_000
DEFAULT_CHANNELS = (("C0MODLOG", "mod-log"), ("C0MODREQ", "mod-requests"))


@dataclass
class FakeChannel:
    id: str
    name: str
    is_member: bool = True
    is_private: bool = False
    is_archived: bool = False


class ChannelRefused(Exception):
    """A Slack method error for a channel argument (`channel_not_found`, `is_archived`, …)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class FakeChannels:
    def __init__(self, team_id: str, *, defaults: bool = True) -> None:
        self.team_id = team_id
        self._channels: dict[str, FakeChannel] = {}
        if defaults:
            for channel_id, name in DEFAULT_CHANNELS:
                self.add(channel_id, name)

    def add(
        self,
        channel_id: str,
        name: str,
        *,
        member: bool = True,
        private: bool = False,
        archived: bool = False,
    ) -> FakeChannel:
        if not CHANNEL_ID.match(channel_id):
            raise ValueError(f"{channel_id!r} is not a channel id")
        channel = FakeChannel(channel_id, name, member, private, archived)
        self._channels[channel_id] = channel
        return channel

    def get(self, channel_id: str) -> FakeChannel | None:
        return self._channels.get(channel_id)

    def __iter__(self) -> Iterator[FakeChannel]:
        return iter(list(self._channels.values()))

    # ---- what chat.* methods make of a channel argument --------------------------------------

    def post_target(self, channel: str) -> str:
        """The id `chat.postMessage` posts to: an id as given (ids the fake does not know are
        accepted, for tests that need no set-up), a name looked up; refusals raise."""
        if CHANNEL_ID.match(channel):
            known = self._channels.get(channel)
            if known is not None:
                self._check_postable(known)
            return channel
        name = channel.removeprefix("#")
        for known in self._channels.values():
            if known.name == name:
                self._check_postable(known)
                return known.id
        raise ChannelRefused("channel_not_found")

    @staticmethod
    def edit_target(channel: str) -> str:
        """`chat.update` / `chat.delete` take an id only: a name is `channel_not_found`."""
        if not CHANNEL_ID.match(channel):
            raise ChannelRefused("channel_not_found")
        return channel

    @staticmethod
    def _check_postable(channel: FakeChannel) -> None:
        if channel.is_archived:
            raise ChannelRefused("is_archived")
        if channel.is_private and not channel.is_member:
            raise ChannelRefused("channel_not_found")

    # ---- conversations.* ----------------------------------------------------------------------

    async def info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = args.get("channel")
        channel = self._channels.get(channel_id) if isinstance(channel_id, str) else None
        if channel is None or not self._visible(channel):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": self._shape(channel)}

    async def list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = {t.strip() for t in str(args.get("types") or "public_channel").split(",")}
        if not types or not types <= KNOWN_TYPES:
            return {"ok": False, "error": "invalid_types"}
        limit = _limit(args.get("limit"))
        if limit is None:
            return {"ok": False, "error": "invalid_limit"}
        start = _offset(args.get("cursor"))
        if start is None:
            return {"ok": False, "error": "invalid_cursor"}
        exclude_archived = str(args.get("exclude_archived", "")).lower() in ("1", "true")
        listed = [
            channel
            for channel in self._channels.values()
            if self._visible(channel)
            and ("private_channel" if channel.is_private else "public_channel") in types
            and not (exclude_archived and channel.is_archived)
        ]
        page = listed[start : start + limit]
        after = start + len(page)
        next_cursor = _cursor(after) if after < len(listed) else ""
        return {
            "ok": True,
            "channels": [self._shape(channel, listed=True) for channel in page],
            "response_metadata": {"next_cursor": next_cursor},
        }

    @staticmethod
    def _visible(channel: FakeChannel) -> bool:
        """Slack shows a private channel only to its members."""
        return channel.is_member or not channel.is_private

    def _shape(self, channel: FakeChannel, *, listed: bool = False) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel.is_private,
            "created": _CREATED,
            "creator": "U0CREATOR",
            "is_archived": channel.is_archived,
            "is_general": False,
            "unlinked": 0,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": self.team_id,
            "parent_conversation": None,
            "shared_team_ids": [self.team_id],
            "is_member": channel.is_member,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }
        if listed:
            shaped["num_members"] = 1 if channel.is_member else 0
        return shaped


def _limit(value: object) -> int | None:
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(str(value))
    except ValueError:
        return None
    return min(limit, MAX_LIMIT) if limit >= 1 else None


def _cursor(offset: int) -> str:
    return base64.b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def _offset(cursor: object) -> int | None:
    if cursor is None or cursor == "":
        return 0
    try:
        decoded = base64.b64decode(str(cursor), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    number = decoded.removeprefix(_CURSOR_PREFIX)
    if not decoded.startswith(_CURSOR_PREFIX) or not number.isdigit():
        return None
    return int(number)
