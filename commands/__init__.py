"""Slash-command families; each module declares its commands, collected here into the registry."""

from __future__ import annotations

from bot.core.registry import Registry
from commands import bans, calls, permissions, users


def build_registry() -> Registry:
    registry = Registry()
    for family in (calls, permissions, bans, users):
        registry.extend(family.COMMANDS)
    for button in bans.BUTTONS:
        registry.add_button(button)
    return registry
