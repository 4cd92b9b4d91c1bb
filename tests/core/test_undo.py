"""The Undo desk alone: tokens on the injected clock, one claim per token, the window in words."""

from __future__ import annotations

import pytest

from bot.core.undo import UNDO_ACTION, Undoable, UndoDesk
from bot.util.clock import ManualClock


async def test_a_token_works_until_the_window_passes() -> None:
    clock = ManualClock()
    desk = UndoDesk(clock, 60)
    button = desk.button(Undoable("unban sara", (41,)))
    assert button.action_id == UNDO_ACTION

    assert desk.read(button.value).undoable == Undoable("unban sara", (41,))
    await clock.advance(61)
    late = desk.read(button.value)
    assert late.undoable is None
    assert late.line == "unban sara"  # still named, for the sentence that says what to type


def test_a_token_is_claimed_once_and_released_when_nothing_changed() -> None:
    desk = UndoDesk(ManualClock(), 60)
    token = desk.read(desk.button(Undoable("unban sara", ())).value).token
    assert desk.claim(token, "U1") is None
    assert desk.claim(token, "U2") == "U1"
    desk.release(token)
    assert desk.claim(token, "U2") is None


def test_a_value_that_is_not_ours_is_refused() -> None:
    with pytest.raises(ValueError):
        UndoDesk(ManualClock(), 60).read('{"x": 1}')


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1800, "30 minutes"),
        (60, "1 minute"),
        (7200, "2 hours"),
        (90, "90 seconds"),
        (0.5, "0.5 seconds"),
    ],
)
def test_the_window_in_words(seconds: float, words: str) -> None:
    assert UndoDesk(ManualClock(), seconds).window == words
