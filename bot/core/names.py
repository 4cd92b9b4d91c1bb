"""Slash-command names as Slack sees them: the registry's name, optionally behind a prefix
(`MOD_COMMAND_PREFIX=cm-` → `/cm-kick`), for workspaces where a plain name is one of Slack's
built-in commands or another app's. `/mod` is never prefixed: it is the one entry point that
works everywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable

SLASH_NAME_LIMIT = 32  # Slack: a slash command's name, slash included
MOD = "mod"
PREFIX = re.compile(r"[a-z0-9][a-z0-9_-]*")


def slash(name: str, prefix: str = "") -> str:
    """`/kick`, or `/cm-kick` with the prefix `cm-`; `/mod` keeps its name."""
    return f"/{name}" if name == MOD else f"/{prefix}{name}"


def check_prefix(prefix: str, names: Iterable[str]) -> None:
    """A `ValueError` with a sentence when `prefix` cannot be put before every one of `names`."""
    if not prefix:
        return
    if not PREFIX.fullmatch(prefix):
        raise ValueError(
            f"{prefix!r} cannot start a slash-command name "
            "(lower-case letters, digits, _ or -, starting with a letter or digit)"
        )
    too_long = [slash(n, prefix) for n in names if len(slash(n, prefix)) > SLASH_NAME_LIMIT]
    if too_long:
        raise ValueError(
            f"{too_long[0]} would be longer than Slack's {SLASH_NAME_LIMIT} characters; "
            "use a shorter prefix"
        )


def command_word(word: str, prefix: str = "") -> str:
    """The registry name a typed command word means: `/cm-kick`, `cm-kick`, `/kick` and `KICK`
    all mean `kick` (with the prefix `cm-`)."""
    name = word.strip().lstrip("/").lower()
    if prefix and name.startswith(prefix) and len(name) > len(prefix):
        return name[len(prefix) :]
    return name
