"""Open alerts on a moderator's App Home tab: a section `bot/slack/home.py` shows after the
permission requests (its `HomeSection`), each alert with its card's buttons."""

from __future__ import annotations

from typing import Any, Final

from bot.core.model import Actor
from bot.moderation.alerts.desk import AlertDesk
from bot.moderation.alerts.render import action_row, headline
from bot.slack import blocks
from bot.slack.blocks import date_token

SHOWN: Final = 5  # alerts on the tab; `/queue` pages through the rest


class OpenAlertsSection:
    def __init__(self, desk: AlertDesk, slash_queue: str = "/queue") -> None:
        self._desk = desk
        self._slash_queue = slash_queue

    async def blocks(self, viewer: Actor) -> list[dict[str, Any]]:
        waiting = await self._desk.all_open_alerts()
        if not waiting:
            return blocks.to_dicts([blocks.section("*Open alerts*\nNone open.")])
        more = f" (the oldest {SHOWN}; `{self._slash_queue}` lists them all)"
        heading = f"*Open alerts* · {len(waiting)} open{more if len(waiting) > SHOWN else ''}"
        parts: list[blocks.Part] = [blocks.section(heading)]
        for alert in waiting[:SHOWN]:
            hits = f" · {alert.hits} hits" if alert.hits > 1 else ""
            parts.append(blocks.section(f"{headline(alert)}{hits} · {date_token(alert.opened_at)}"))
            parts.append(action_row(alert))
        return blocks.to_dicts(parts)
