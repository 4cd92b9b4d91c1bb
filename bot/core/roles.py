"""Who may do what: Slack user ids and user-group handles from MOD_ADMINS / MOD_MODERATORS.

User-group membership comes from Slack (`usergroups.list` + `usergroups.users.list`) and is cached
for a short TTL. If Slack cannot be asked, group membership fails closed (the user keeps only
the role their own id gives them) and the failure is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.model import Role
from bot.util.clock import Clock

log = logging.getLogger("callmod.roles")


@dataclass
class _CachedGroup:
    members: frozenset[str]
    fetched_at: float


class RoleResolver:
    def __init__(
        self,
        *,
        admins: Sequence[str],
        moderators: Sequence[str],
        client: AsyncWebClient | None,
        clock: Clock,
        ttl: float = 60.0,
    ) -> None:
        self._admin_ids = {m for m in admins if not m.startswith("@")}
        self._admin_groups = [m[1:] for m in admins if m.startswith("@")]
        self._moderator_ids = {m for m in moderators if not m.startswith("@")}
        self._moderator_groups = [m[1:] for m in moderators if m.startswith("@")]
        self._client = client
        self._clock = clock
        self._ttl = ttl
        self._groups: dict[str, _CachedGroup] = {}
        self._group_ids: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def role_of(self, user_id: str) -> Role:
        if user_id in self._admin_ids:
            return Role.ADMIN
        if await self._in_any(user_id, self._admin_groups):
            return Role.ADMIN
        if user_id in self._moderator_ids:
            return Role.MODERATOR
        if await self._in_any(user_id, self._moderator_groups):
            return Role.MODERATOR
        return Role.NONE

    async def _in_any(self, user_id: str, handles: Sequence[str]) -> bool:
        for handle in handles:
            if user_id in await self._members(handle):
                return True
        return False

    async def _members(self, handle: str) -> frozenset[str]:
        cached = self._groups.get(handle)
        if cached and self._clock.time() - cached.fetched_at < self._ttl:
            return cached.members
        async with self._lock:  # one Slack round trip per expiry, however many clicks arrive
            cached = self._groups.get(handle)
            if cached and self._clock.time() - cached.fetched_at < self._ttl:
                return cached.members
            try:
                members = await self._fetch(handle)
            except SlackApiError as exc:
                log.warning("could not read user group @%s: %s", handle, exc.response.get("error"))
                return frozenset()
            self._groups[handle] = _CachedGroup(members, self._clock.time())
            return members

    async def _fetch(self, handle: str) -> frozenset[str]:
        if self._client is None:
            return frozenset()
        group_id = self._group_ids.get(handle)
        if group_id is None:
            listing = await self._client.usergroups_list()
            for group in listing.get("usergroups") or []:
                self._group_ids[str(group.get("handle"))] = str(group.get("id"))
            group_id = self._group_ids.get(handle)
            if group_id is None:
                log.warning("user group @%s does not exist in this workspace", handle)
                return frozenset()
        users = await self._client.usergroups_users_list(usergroup=group_id)
        return frozenset(str(u) for u in users.get("users") or [])
