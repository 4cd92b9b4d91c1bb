"""What an action runs with: who is acting and the services it may call."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.model import Actor
from bot.moderation.bans.book import BanBook
from bot.moderation.history.book import CaseBook, Ticket
from bot.settings import Settings
from bot.stream import StreamClient
from bot.util.clock import Clock


@dataclass(frozen=True)
class ActionContext:
    actor: Actor
    stream: StreamClient
    settings: Settings
    clock: Clock
    bans: BanBook
    cases: CaseBook
    ticket: Ticket | None = None  # the case(s) a command opened before running
    alerts: object | None = None  # the alert desk (bot/moderation/alerts), for /queue and /report
