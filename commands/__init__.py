"""Slash-command families; each module declares its commands, collected here into the registry."""

from __future__ import annotations

from bot.core.registry import Registry
from commands import (
    alerts,
    bans,
    calls,
    cases,
    end_call,
    live,
    permissions,
    profiles,
    user_card,
    users,
)


def build_registry() -> Registry:
    registry = Registry()
    families = (calls, end_call, permissions, bans, users, user_card, profiles, cases, live, alerts)
    for family in families:
        registry.extend(family.COMMANDS)
    for button in (*bans.BUTTONS, *cases.BUTTONS, *live.BUTTONS, *alerts.BUTTONS):
        registry.add_button(button)
    return registry
