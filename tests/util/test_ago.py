"""`ago`: how long before now something happened, in at most two units."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.util.timefmt import ago

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "just now"),
        (59, "just now"),
        (-30, "just now"),  # clocks that disagree
        (60, "1m ago"),
        (12 * 60 + 59, "12m ago"),
        (2 * 3600 + 5 * 60, "2h 5m ago"),
        (3600, "1h ago"),
        (3 * 86400 + 4 * 3600 + 7 * 60, "3d 4h ago"),
        (86400 + 5 * 60, "1d 5m ago"),
    ],
)
def test_ago(seconds: float, words: str) -> None:
    assert ago(NOW - seconds, NOW) == words
    assert ago(datetime.fromtimestamp(NOW - seconds, tz=UTC), NOW) == words
