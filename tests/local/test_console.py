"""The console end to end: a script on stdin drives the real bot and prints what Slack shows."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from bot.local.console import run_console

SCRIPT = """\
/kick sara call-123
/ban bob 30m spamming <!channel>
:advance 31m
--as moderator /ban alice spamming
/muteall call-123
--as admin
/muteall call-123
click 7
bogus
:call
"""


async def test_a_script_reproduces_kick_ban_and_expiry() -> None:
    out = io.StringIO()
    assert await run_console(stdin=io.StringIO(SCRIPT), out=out) == 0
    text = out.getvalue()
    assert "[only you] :boot: `sara` was kicked from `default:call-123`." in text
    assert "[#mod-log] :hammer: `bob` was banned by @maria for 30m" in text
    assert "[#mod-log] :hourglass: The ban of `bob` has expired." in text
    assert "You need the *admin* role to ban `alice` permanently" in text
    assert "(typing as @maria, U0ADMIN01)" in text
    assert "[4] Undo" in text  # the ban's reply
    assert "[6] Confirm  [7] Cancel" in text
    assert "Cancelled; nothing was changed." in text
    assert "Not a command. Type `help`." in text
    # The Cancel click left the call unmuted; the kick took sara out.
    assert "muted: -" in text
    assert "in the call: alice, bob, john" in text


def test_make_demo_entry_point_reads_a_script_from_stdin(tmp_path: Path) -> None:
    script = tmp_path / "demo.txt"
    script.write_text("/kick sara call-123\nhelp\n")
    with script.open() as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "console"],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert "`sara` was kicked from `default:call-123`" in done.stdout
    assert "Traceback" not in done.stderr


async def test_the_ban_form_opens_fills_and_submits() -> None:
    script = """\
--as moderator
/ban
:form user=sa?
:form user=nobody duration=2h reason="spam in chat"
submit
:form user=sara duration=1w
submit
:form duration=2h
submit
submit
"""
    out = io.StringIO()
    assert await run_console(stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert "[form] *Ban a user*" in text
    assert "duration: Length = 1h   one of: 30m 1h 2h 6h 12h 1d" in text
    assert "(users matching 'sa': Sara (sara))" in text
    assert "[form] user: Stream has no user 'nobody'; choose one from the list." in text
    assert "[form] duration: You need the admin role to ban for 7 days" in text
    assert "(the form closed)" in text
    assert "[only you] :hammer: `sara` is banned for 2h" in text
    assert "[#mod-log] :hammer: `sara` was banned by @tom for 2h" in text
    assert "no form is open: /ban opens one" in text
    assert "Traceback" not in text


async def test_join_and_leave_change_the_call_and_reach_callmod() -> None:
    script = """\
:join carol call-123 video
:join sara call-123 screenshare
:leave john call-123
:call
:leave john call-123
:join bob call-999
:join
:leave sara
:join dave call-123 smell
help
"""
    out = io.StringIO()
    assert await run_console(stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert "(carol joined default:call-123, publishing video)" in text
    assert "(sara joined default:call-123, publishing screenshare)" in text
    assert "(john left default:call-123)" in text
    assert "in the call: alice, bob, carol, sara" in text
    assert "publishing: carol video; sara audio, screenshare, video" in text
    assert 'the emulator refused: user "john" is not connected to call default:call-123' in text
    assert "the emulator has no call default:call-999" in text
    assert "usage: :join <user> <call> [audio] [video] [screenshare]" in text
    assert "usage: :leave <user> <call>" in text
    assert "`smell` is not a track" in text
    assert ":join <user> <call> [audio] [video] [screenshare]   a user joins the call" in text
    assert "Traceback" not in text


async def test_a_blocked_user_cannot_join_from_the_console() -> None:
    script = "/block sara call-123\n:join sara call-123 audio\n:call\n"
    out = io.StringIO()
    assert await run_console(stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert 'the emulator refused: user "sara" is blocked from call default:call-123' in text
    assert "in the call: alice, bob, john" in text


async def test_the_action_form_home_tab_and_shortcuts_from_the_console() -> None:
    script = """\
--as moderator
/mute
:form call=call-123
:form user=john tracks=audio,video
submit
:home
:moderate
:form action=kick
:shortcut
"""
    out = io.StringIO()
    assert await run_console(stdin=io.StringIO(script), out=out) == 0
    text = out.getvalue()
    assert "[form] *Moderate*" in text
    assert "tracks: Tracks to mute = audio   any of (comma-separated)" in text
    assert "(the form closed)" in text
    assert "[only you] :mute: Muted audio, video of `john` in `default:call-123`." in text
    assert "[home tab]" in text and "*Your last 10 actions*" in text
    assert "This will mute audio of `john` in `default:call-123`." in text  # from :moderate
    assert "keep_out: Keep them out (optional)" in text  # :form action=kick redrew the form
    assert "Traceback" not in text
