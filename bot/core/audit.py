"""The audit line every write leaves in the log channel, written once for commands and buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.model import Actor, MessageRef, Plan
from bot.slack.blocks import escape, mention

# Posts a line (text and blocks) to the log channel; the message, or None when it could not.
AuditSink = Callable[[str, list[dict[str, Any]]], Awaitable[MessageRef | None]]


def audit_line(actor: Actor, plan: Plan, result: str, case_label: str = "") -> str:
    line = f"{mention(actor.user_id)} · {plan.summary}"
    if plan.reason:
        line += f" · reason: {escape(plan.reason)}"
    line = f"{line} · {result}"
    return f"{line} · {case_label}" if case_label else line
