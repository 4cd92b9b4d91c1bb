"""Telling callmod's own actions from the same actions taken outside Slack, by content.

Stream sends a webhook for a kick, block, mute, permission change, ended call or (de)activation
whoever made it. An event that names its maker is decided by that name: callmod's bot user means
callmod did it. Stream leaves the maker out for server-side calls (callmod's blocks, permission
changes and ended calls among them), so callmod notes each write it sends (`started`, through the
Stream client's write observer) and an event without a maker is callmod's when a noted write
matches it: same operation, same call, same user. A match is used up, so two moderators' kicks of
the same user are two echoes, and a third identical event is someone else's.

A noted write that Stream refused is forgotten at once (it will not be echoed); one that was done
or may have been applied waits for its echo for `KEEP_SECONDS`. That bounds memory, not
recognition: an echo comes within seconds, and Stream's own retries end within 15 s.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from bot.stream.client import WriteOutcome
from bot.stream.errors import RequestContext
from bot.stream.events import (
    ActionEvent,
    CallEnded,
    CallPermissionsUpdated,
    CallUserEvent,
    CallUserMuted,
    UserStateChanged,
)
from bot.util.clock import Clock

KEEP_SECONDS = 600.0

# Stream operation → the event types it is echoed as. A kick that also blocks is echoed as
# call.blocked_user instead of call.kicked_user (GetStream/stream-video-js#2024).
ECHOED_AS: dict[str, frozenset[str]] = {
    "kick": frozenset({"call.kicked_user", "call.blocked_user"}),
    "block": frozenset({"call.blocked_user"}),
    "unblock": frozenset({"call.unblocked_user"}),
    "mute": frozenset({"call.user_muted"}),
    "mute_all": frozenset({"call.user_muted"}),
    "permissions": frozenset({"call.permissions_updated"}),
    "end_call": frozenset({"call.ended"}),
    "deactivate": frozenset({"user.deactivated"}),
    "reactivate": frozenset({"user.reactivated"}),
}
_ANY_USER = ("mute_all", "end_call")  # the event's users are not the request's


@dataclass
class _Noted:
    operation: str
    call_cid: str | None
    user_ids: frozenset[str]
    keep_until: float | None = None  # None while the write is in flight


class EchoBook:
    def __init__(self, clock: Clock, bot_user_id: str) -> None:
        self._clock = clock
        self._bot_user_id = bot_user_id
        self._noted: list[_Noted] = []

    # -- the Stream client's write observer ---------------------------------------------------

    def started(self, ctx: RequestContext) -> object:
        if ctx.operation not in ECHOED_AS:
            return None
        noted = _Noted(
            ctx.operation,
            ctx.call.cid if ctx.call is not None else None,
            frozenset(ctx.user_ids) - {self._bot_user_id},
        )
        self._noted.append(noted)
        return noted

    def finished(self, token: object, outcome: WriteOutcome) -> None:
        if not isinstance(token, _Noted):
            return
        if outcome == "failed":
            self._forget(token)
        else:
            token.keep_until = self._clock.time() + KEEP_SECONDS

    # -- events -------------------------------------------------------------------------------

    def is_own(self, event: ActionEvent) -> bool:
        """Whether callmod made the action `event` reports; a matching noted write is used up."""
        self._prune()
        maker = _maker(event)
        match = self._match(event)
        if maker is not None and maker != self._bot_user_id:
            return False
        if match is not None:
            self._forget(match)
            return True
        return maker == self._bot_user_id

    @property
    def waiting(self) -> int:
        return len(self._noted)

    def _match(self, event: ActionEvent) -> _Noted | None:
        call_cid = getattr(event, "call_cid", None)
        users = _targets(event)
        for noted in self._noted:
            if event.type not in ECHOED_AS[noted.operation] or noted.call_cid != call_cid:
                continue
            if noted.operation in _ANY_USER or noted.user_ids & users:
                return noted
        return None

    def _forget(self, noted: _Noted) -> None:
        with contextlib.suppress(ValueError):  # already used up
            self._noted.remove(noted)

    def _prune(self) -> None:
        now = self._clock.time()
        self._noted = [n for n in self._noted if n.keep_until is None or n.keep_until > now]


def _maker(event: ActionEvent) -> str | None:
    if isinstance(event, CallUserEvent | UserStateChanged):
        return event.by.id if event.by is not None else None
    if isinstance(event, CallUserMuted):
        return event.from_user_id
    if isinstance(event, CallEnded):
        return event.user.id if event.user is not None else None
    return None


def _targets(event: ActionEvent) -> frozenset[str]:
    if isinstance(event, CallUserMuted):
        return frozenset(event.muted_user_ids)
    if isinstance(event, CallEnded):
        return frozenset()
    assert isinstance(event, CallUserEvent | CallPermissionsUpdated | UserStateChanged)
    return frozenset({event.user.id})
