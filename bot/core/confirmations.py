"""What a Confirm/Cancel button carries, and what callmod keeps for it.

A confirmation's button value is the command name, its text and a nonce, so that a click can
re-parse the command and re-check the clicker's role with nothing kept in memory. Slack refuses a
button value over 2,000 characters, so when the text would not fit, it stays here (keyed by the
nonce, for `CONFIRMATION_TTL` on the injected clock, within a bound on the characters kept) and
the button carries only the command name and the nonce. The nonces already claimed by a click are
remembered by the dispatcher in the shared state (bot/shared), which is how a double click, even
on two replicas, is answered "already handled".
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cachetools import TTLCache

from bot.slack import blocks
from bot.util.clock import Clock

# A prompt's response_url works for 30 minutes; a text kept longer could not be answered anyway.
CONFIRMATION_TTL = 30 * 60.0
# Characters of command text kept for long confirmations, all together (the oldest go first).
KEPT_TEXT_CHARS = 4_000_000


@dataclass(frozen=True)
class Pending:
    """A Confirm/Cancel button's value, read back. `text` is None when the text was kept here
    and is no longer (it expired, or callmod restarted since)."""

    command: str
    text: str | None
    nonce: str


class Confirmations:
    def __init__(self, clock: Clock) -> None:
        self._texts: TTLCache[str, str] = TTLCache(
            maxsize=KEPT_TEXT_CHARS, ttl=CONFIRMATION_TTL, timer=clock.time, getsizeof=len
        )

    def button_value(self, command: str, text: str) -> str:
        """The value both buttons of a new confirmation carry."""
        nonce = secrets.token_hex(8)
        try:
            return blocks.encode_value({"cmd": command, "text": text, "n": nonce})
        except ValueError:  # longer than Slack takes: keep the text here
            pass
        if len(text) <= KEPT_TEXT_CHARS:
            self._texts[nonce] = text
        return blocks.encode_value({"cmd": command, "n": nonce})

    def read(self, value: str) -> Pending:
        """The button's value, read back; `ValueError` when it is not one of ours."""
        try:
            data = blocks.decode_value(value)
            command, nonce = str(data["cmd"]), str(data["n"])
        except KeyError as error:
            raise ValueError(f"no {error} in the button value") from None
        text = data.get("text")
        if text is None:
            text = self._texts.get(nonce)
        return Pending(command, None if text is None else str(text), nonce)
