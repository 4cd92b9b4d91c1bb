"""The console shows a roster's rows with their menus, and `click N` picks a menu option."""

from __future__ import annotations

import io
import re

from bot.local.console import run_console


def _number(text: str, row: str, label: str) -> str:
    """The `click N` number of `label` in the menu printed under `row`."""
    after = text[text.index(row) :]
    found = re.search(rf"\[(\d+)\] {re.escape(label)}(?!\w)", after)
    assert found is not None, f"no {label} under {row!r} in:\n{text}"
    return found.group(1)


async def test_roster_rows_and_a_menu_pick() -> None:
    first = io.StringIO()
    assert await run_console(stdin=io.StringIO("/roster call-123\n"), out=first) == 0
    shown = first.getvalue()
    assert "[only you] *Who is in `default:call-123`* · 4 people · as of " in shown
    assert "Sara · `sara` · user · joined " in shown and ":microphone: :video_camera:" in shown
    assert re.search(r"⋮ \[\d+\] Mute audio  \[\d+\] Mute video  \[\d+\] Stop screen share", shown)
    assert re.search(r"\[\d+\] Kick  \[\d+\] Kick and block  \[\d+\] Ban…", shown)
    mute = _number(shown, "Sara · `sara`", "Mute video")
    ban = _number(shown, "Bob · `bob`", "Ban…")

    script = f"/roster call-123\nclick {mute}\nclick {ban}\n:call\n"
    out = io.StringIO()
    assert await run_console(stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert "[#mod-log] @maria · mute video of `sara` in `default:call-123` · " in text
    assert "[only you] :mute: Muted video of `sara` in `default:call-123`." in text
    # Ban… opens the ban form pre-filled with bob (its length buttons are the fallback when a
    # click carries no trigger_id).
    assert "[form] *Ban a user*" in text and "user: User = bob" in text
    assert "muted: {'sara': ['video']}" in text


async def test_many_picks_on_one_roster_and_refresh() -> None:
    """Every click has its own response_url (Slack allows 5 posts on each), so a sixth pick
    on the same roster still answers; Refresh replaces the roster and retires its buttons."""
    first = io.StringIO()
    assert await run_console(stdin=io.StringIO("/roster call-123\n"), out=first) == 0
    shown = first.getvalue()
    picks = [
        _number(shown, f"{name} · `{name.lower()}`", label)
        for name in ("Alice", "Bob", "John")
        for label in ("Mute video", "Stop screen share")
    ]
    refresh = _number(shown, "Who is in", "Refresh")
    clicks = "".join(f"click {n}\n" for n in picks)
    script = f"/roster call-123\n{clicks}click {refresh}\nclick {picks[0]}\n"
    out = io.StringIO()
    assert await run_console(stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert text.count(":mute: Muted") == 6
    assert "[only you, replacing the message] *Who is in `default:call-123`*" in text
    assert f"button [{picks[0]}] is no longer on screen" in text
