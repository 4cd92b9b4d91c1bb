"""Telling the call what a moderator did (`MOD_NOTIFY_CALLS`): a custom call event per action.

Stream delivers custom events to every client watching the call, with no per-user targeting, so
the notice names its target and the customer's call app decides what to show ("You were muted by
a moderator"). It enforces nothing and is off by default: an app that does not render
`callmod.notice` events would show nothing, and one that renders them must be built for it.

A notice is sent after the action succeeded, in the background: it never delays or fails the
action, and a notice Stream refuses is logged and counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.cases import Kind
from bot.core.model import Plan
from bot.core.parsing import UsageError, parse_call
from bot.stream import CallRef, StreamAPIError, StreamClient

log = logging.getLogger("callmod.notices")

NOTICE_TYPE = "callmod.notice"
MAX_NOTICE_BYTES = 5 * 1024  # Stream's limit on a custom event's payload

NOTICE_TEXT: dict[Kind, str] = {
    Kind.KICK: "You were removed from the call by a moderator.",
    Kind.BLOCK: "You were removed from the call and blocked by a moderator.",
    Kind.UNBLOCK: "A moderator let you join this call again.",
    Kind.MUTE: "You were muted by a moderator.",
    Kind.MUTE_ALL: "Everyone was muted by a moderator.",
    Kind.SCREENSHARE: "A moderator changed who may share their screen.",
    Kind.GRANT: "A moderator gave you more permissions in this call.",
    Kind.REVOKE: "A moderator took away some of your permissions in this call.",
    Kind.REQUEST_APPROVED: "A moderator approved your request.",
    Kind.REQUEST_DENIED: "A moderator denied your request.",
    Kind.END_CALL: "A moderator ended the call.",
}


@dataclass
class NoticeStats:
    sent: int = 0
    failed: int = 0


def notice(kind: Kind, target: str | None) -> dict[str, Any]:
    return {
        "type": NOTICE_TYPE,
        "action": kind.value,
        "target_user_id": target,
        "text": NOTICE_TEXT[kind],
    }


class CallNotices:
    def __init__(
        self,
        stream: StreamClient,
        *,
        sender_id: str,
        default_call_type: str,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self._stream = stream
        self._sender_id = sender_id
        self._default_call_type = default_call_type
        self._on_failure = on_failure
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = NoticeStats()

    def after(self, plan: Plan) -> None:
        """Send the notices of a successful action on a call, one per target, in the
        background."""
        if plan.kind not in NOTICE_TEXT or plan.call is None:
            return
        try:
            call = parse_call(plan.call, self._default_call_type)
        except UsageError:
            return
        for target in plan.targets:
            custom = notice(plan.kind, target)
            if len(json.dumps(custom).encode()) > MAX_NOTICE_BYTES:  # only an absurd user id
                custom["target_user_id"] = None
            task = asyncio.create_task(self._send(call, custom))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _send(self, call: CallRef, custom: dict[str, Any]) -> None:
        try:
            await self._stream.send_call_event(call, custom, user_id=self._sender_id)
        except Exception as error:  # a notice must never fail or crash the action
            self.stats.failed += 1
            if isinstance(error, StreamAPIError):
                log.warning("notice of %s to %s failed: %s", custom["action"], call, error)
            else:
                log.exception("notice of %s to %s failed", custom["action"], call)
            if self._on_failure is not None:
                self._on_failure(custom["action"])
            return
        self.stats.sent += 1
