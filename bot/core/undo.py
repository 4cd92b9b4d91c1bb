"""Undo buttons: what the private reply of a reversible command offers for `MOD_UNDO_SECONDS`.

The button carries a short token and, for the sentence an expired button answers with, the
inverse command line. What a click runs is what was kept here for the token (on the injected
clock), never the line in the button; a token is claimed once, so two clicks undo once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cachetools import FIFOCache, TTLCache

from bot.slack import blocks
from bot.slack.blocks import Button
from bot.util.clock import Clock

UNDO_ACTION = "callmod_undo"
KEPT_UNDOS = 10_000  # reversible actions remembered at once (the oldest go first)
REMEMBERED_CLAIMS = 10_000


@dataclass(frozen=True)
class Undoable:
    """A reversible action: the line that reverses it and the case(s) it recorded."""

    line: str
    cases: tuple[int, ...]


@dataclass(frozen=True)
class UndoClick:
    """An Undo button's value, read back. `undoable` is None once the time to undo has passed
    (or callmod restarted since)."""

    token: str
    line: str
    undoable: Undoable | None


class UndoDesk:
    def __init__(self, clock: Clock, seconds: float) -> None:
        self.seconds = seconds
        self._kept: TTLCache[str, Undoable] = TTLCache(
            maxsize=KEPT_UNDOS, ttl=seconds, timer=clock.time
        )
        self._claims: FIFOCache[str, str] = FIFOCache(REMEMBERED_CLAIMS)
        # case number -> the token of its Undo, so the App Home can offer the same button
        self._by_case: TTLCache[int, str] = TTLCache(
            maxsize=KEPT_UNDOS, ttl=seconds, timer=clock.time
        )

    def button(self, undoable: Undoable) -> Button:
        token = secrets.token_hex(8)
        self._kept[token] = undoable
        for number in undoable.cases:
            self._by_case[number] = token
        return self._button(token, undoable)

    def button_for_case(self, number: int) -> Button | None:
        """The Undo button of case `number` while it still works (in time, not yet claimed):
        the same token as the one in the command's reply, so the two undo once between them."""
        token = self._by_case.get(number)
        if token is None or token in self._claims:
            return None
        undoable = self._kept.get(token)
        return self._button(token, undoable) if undoable is not None else None

    def _button(self, token: str, undoable: Undoable) -> Button:
        try:
            value = blocks.encode_value({"n": token, "do": undoable.line})
        except ValueError:  # a line longer than Slack takes: the expired answer names no line
            value = blocks.encode_value({"n": token, "do": ""})
        return Button("Undo", UNDO_ACTION, value)

    def read(self, value: str) -> UndoClick:
        """`ValueError` when the value is not one of ours."""
        try:
            data = blocks.decode_value(value)
            token, line = str(data["n"]), str(data.get("do") or "")
        except KeyError as error:
            raise ValueError(f"no {error} in the button value") from None
        return UndoClick(token, line, self._kept.get(token))

    def claim(self, token: str, user_id: str) -> str | None:
        """Mark the undo done by `user_id`; returns who did it first, if someone did."""
        earlier = self._claims.get(token)
        if earlier is not None:
            return earlier
        self._claims[token] = user_id
        return None

    def release(self, token: str) -> None:
        """The inverse changed nothing (Stream refused it): the button may be tried again."""
        self._claims.pop(token, None)

    def claimed_by(self, token: str) -> str | None:
        return self._claims.get(token)

    @property
    def window(self) -> str:
        """ "30 minutes", "2 hours", "45 seconds": how long the buttons work."""
        seconds = round(self.seconds)
        for size, word in ((3600, "hour"), (60, "minute"), (1, "second")):
            if seconds >= size and seconds % size == 0:
                count = seconds // size
                return f"{count} {word}{'s' if count != 1 else ''}"
        return f"{self.seconds:g} seconds"
