"""The audit line every write leaves in the log channel, written once for commands and buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.core.model import Actor, MessageRef, Plan
from bot.slack.blocks import escape, mention
from bot.slack.poster import Metadata, case_metadata


class AuditSink(Protocol):
    """Posts a line (text, blocks and Slack message metadata) to the log channel; the message,
    or None when it could not."""

    async def __call__(
        self, text: str, blocks: list[dict[str, Any]], *, metadata: Metadata | None = None
    ) -> MessageRef | None: ...


def audit_metadata(plan: Plan, case_numbers: Sequence[int]) -> Metadata:
    """The audit line's `callmod_case` metadata: the user, call and case when there is one of
    each (a mute of several users leaves the user and case out)."""
    targets = [t for t in plan.targets if t is not None]
    return case_metadata(
        user_id=targets[0] if len(targets) == 1 else None,
        call_cid=plan.call,
        case_number=case_numbers[0] if len(case_numbers) == 1 else None,
    )


def audit_line(actor: Actor, plan: Plan, result: str, case_label: str = "") -> str:
    line = f"{mention(actor.user_id)} · {plan.summary}"
    if plan.reason:
        line += f" · reason: {escape(plan.reason)}"
    line = f"{line} · {result}"
    return f"{line} · {case_label}" if case_label else line
