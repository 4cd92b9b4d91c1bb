"""The audit line every write leaves in the log channel, written once for commands and buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.model import Actor, Plan
from bot.slack.blocks import escape, mention

AuditSink = Callable[[str], Awaitable[bool]]  # posts a line; False when it could not


def audit_line(actor: Actor, plan: Plan, result: str) -> str:
    line = f"{mention(actor.user_id)} · {plan.summary}"
    if plan.reason:
        line += f" · reason: {escape(plan.reason)}"
    return f"{line} · {result}"
