"""/ban, /unban, /bans and the ban notification's Unban button, end to end."""

from __future__ import annotations

import pytest

from bot.local.stack import ADMIN, LocalStack
from bot.util.clock import ManualClock

from .cmdtest import UNBAN, ban_notifications, blocks_text, click, find_button, slash

BY_MARIA = "(by @maria via Slack)"


@pytest.mark.parametrize(
    ("duration", "seconds", "shown"),
    [
        ("30m", 30 * 60, "30m"),
        ("2h", 2 * 3600, "2h"),
        ("1d", 86400, "1d"),
        ("1w", 7 * 86400, "1w"),
        ("1d12h", 36 * 3600, "1d 12h"),
        ("1W2D3H4M", (9 * 24 + 3) * 3600 + 240, "1w 2d 3h 4m"),
        ("365d", 365 * 86400, "52w 1d"),
        ("1m", 60, "1m"),
    ],
)
async def test_ban_duration_grammar(
    stack: LocalStack, duration: str, seconds: int, shown: str
) -> None:
    out = await slash(stack, f"/ban sara {duration}")

    ban = stack.emulator.state.bans["sara"]
    assert ban.expires_at is not None
    assert ban.expires_at - ban.created_at == seconds
    assert ban.reason == BY_MARIA
    assert not ban.ip_ban
    assert out.reply.startswith(f":hammer: `sara` is banned for {shown} (until <!date^")
    assert out.writes[0].body["timeout"] == seconds // 60
    [notification] = ban_notifications(stack, "sara")
    assert notification.text.startswith(f":hammer: `sara` was banned by <@U0ADMIN01> for {shown},")
    assert out.log[0] == notification.text


async def test_ban_reason_names_the_slack_moderator(stack: LocalStack) -> None:
    out = await slash(stack, "/ban sara 2h spamming <!channel> & links")

    assert stack.emulator.state.bans["sara"].reason == f"spamming <!channel> & links {BY_MARIA}"
    assert stack.emulator.state.bans["sara"].reason.endswith(BY_MARIA)
    [notification] = ban_notifications(stack, "sara")
    shown = blocks_text(notification.blocks)
    # The reason is shown escaped: it cannot ping the channel.
    assert "Reason: spamming &lt;!channel&gt; &amp; links" in shown
    assert "<!channel>" not in shown
    assert find_button(notification.blocks, UNBAN) == "sara"
    assert "<!channel>" not in out.reply


async def test_ban_permanent_without_reason(stack: LocalStack) -> None:
    out = await slash(stack, "/ban @sara", trigger=False)

    ban = stack.emulator.state.bans["sara"]
    assert ban.expires_at is None
    assert ban.reason == BY_MARIA
    assert out.reply == ":hammer: `sara` is banned permanently.\n_Case #1_"
    assert "timeout" not in out.writes[0].body
    [notification] = ban_notifications(stack, "sara")
    assert "permanently" in notification.text
    assert "Reason: _none given_" in blocks_text(notification.blocks)


async def test_ban_by_ip(stack: LocalStack) -> None:
    out = await slash(stack, "/ban sara 1d --ip abusive")

    ban = stack.emulator.state.bans["sara"]
    assert ban.ip_ban
    assert ban.reason == f"abusive {BY_MARIA}"
    assert "by IP" in out.reply
    [notification] = ban_notifications(stack, "sara")
    assert "*by IP*" in notification.text


async def test_unban_lifts_the_ban_and_closes_the_notification(stack: LocalStack) -> None:
    await slash(stack, "/ban sara 2h")
    [notification] = ban_notifications(stack, "sara")

    out = await slash(stack, "/unban sara")

    assert stack.emulator.state.active_ban("sara") is None
    assert out.reply == ":dove_of_peace: `sara` is no longer banned.\n_Case #2_"
    assert out.writes[0].query["target_user_id"] == "sara"
    # The audit trail is the notification itself, updated in place: no Unban button any more.
    assert notification.history, "the ban notification was not updated"
    assert "Unbanned by <@U0ADMIN01>" in blocks_text(notification.blocks)
    assert find_button(notification.blocks, UNBAN) is None


async def test_unban_of_a_ban_made_elsewhere_is_audited(stack: LocalStack) -> None:
    stack.emulator.state.ban(
        "john",
        banned_by="callmod-bot",
        reason="from the dashboard",
        timeout_minutes=None,
        ip_ban=False,
    )

    out = await slash(stack, "/unban john")

    assert stack.emulator.state.active_ban("john") is None
    assert any("unban" in line.lower() and "john" in line for line in out.log)


async def test_unban_button_lifts_the_ban(stack: LocalStack) -> None:
    await slash(stack, "/ban sara 2h")
    [notification] = ban_notifications(stack, "sara")

    out = await click(stack, UNBAN, "sara", ADMIN, message=notification)

    assert stack.emulator.state.active_ban("sara") is None
    assert out.reply == ":dove_of_peace: You unbanned `sara`.\n_Case #2_"
    assert "Unbanned by <@U0ADMIN01>" in blocks_text(notification.blocks)

    again = await click(stack, UNBAN, "sara", ADMIN, message=notification)
    assert again.reply.startswith("That ban was already closed")
    assert again.writes == []


async def test_bans_lists_active_bans_with_time_left(stack: LocalStack, clock: ManualClock) -> None:
    await slash(stack, "/ban sara 90m spam <b>")
    await slash(stack, "/ban john", trigger=False)
    await slash(stack, "/ban bob 1m")
    await clock.advance(120)  # bob's ban runs out
    await stack.idle()

    out = await slash(stack, "/bans")

    lines = out.reply.splitlines()
    assert lines[0] == "*Active bans* (2)"
    by_user = {line.split("`")[1]: line for line in lines[1:]}
    assert set(by_user) == {"sara", "john"}
    assert "1h 28m left (until <!date^" in by_user["sara"]
    assert "— spam &lt;b&gt;" in by_user["sara"]
    assert "— permanent" in by_user["john"]
    assert out.log == [] and out.writes == []  # read-only: no audit line


async def test_bans_for_one_user(stack: LocalStack) -> None:
    await slash(stack, "/ban sara 30m")
    await slash(stack, "/ban john 30m")

    out = await slash(stack, "/bans sara")

    assert out.reply.splitlines()[0] == "*Active bans* (1)"
    assert "`sara`" in out.reply and "`john`" not in out.reply
    assert out.log == []

    none = await slash(stack, "/bans alice")
    assert none.reply == "No active bans for `alice`."


async def test_bans_when_there_are_none(stack: LocalStack) -> None:
    out = await slash(stack, "/bans")
    assert out.reply == "No active bans."
    assert out.log == []
