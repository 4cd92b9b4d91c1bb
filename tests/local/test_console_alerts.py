"""The console raises Stream's moderation findings and shows the alert card with its buttons
(issue 15, point 5): `:flag`, `:warn`, `:blur`, `:endpolicy`, then clicks on the card."""

from __future__ import annotations

import io

from bot.local.console import run_console

SCRIPT = """\
:flag sara call-123 nudity
:warn john call-123 stop that
--as moderator
click 3
/queue
:blur alice call-123
:endpolicy call-123
:flag nobody call-999 x
:warn sara
"""


async def test_the_console_raises_findings_and_shows_cards_with_buttons() -> None:
    out = io.StringIO()
    assert await run_console(stdin=io.StringIO(SCRIPT), out=out) == 0
    text = out.getvalue()
    assert "(the emulator sent moderation_rule.triggered and review_queue_item.new for sara" in text
    card = "[#mod-requests] :rotating_light: *Stream alert* · Sara (`sara`) in `default:call-123`"
    assert card in text
    assert "[1] Kick  [2] Ban…  [3] Mark reviewed  [4] End call  [5] History  [6] Roster" in text
    assert "⋮ [7] Mute audio  [8] Mute video  [9] Stop screen share  [10] Mute everything" in text
    assert "(the emulator sent call.moderation_warning for john)" in text
    assert "Reviewed by @tom, no action" in text
    assert "*Open Stream alerts* · 1 · oldest first" in text  # john's
    assert "video blurred by Stream's call moderation" in text
    assert "call ended by Stream for a policy violation" in text
    assert "the emulator refused: call default:call-999 does not exist" in text
    assert "usage: :warn <user> <call> …" in text
