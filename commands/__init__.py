"""Slash-command families; each module declares its commands, collected here into the registry."""

from __future__ import annotations

from bot.core.registry import Registry
from commands import bans, calls, cases, permissions, users


def build_registry() -> Registry:
    registry = Registry()
    for family in (calls, permissions, bans, users, cases):
        registry.extend(family.COMMANDS)
    for button in (*bans.BUTTONS, *cases.BUTTONS):
        registry.add_button(button)
    return registry
