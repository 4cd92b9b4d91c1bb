"""Role boundaries (DESIGN.md §4): outsiders may do nothing, moderators the everyday commands and
bans of at most a day, admins everything; buttons check the role again on every click."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.local.stack import ADMIN, MODERATOR, OUTSIDER, LocalStack, Person
from bot.util.clock import ManualClock

from .cmdtest import (
    CALL,
    CANCEL,
    CONFIRM,
    UNBAN,
    ban_notifications,
    button_value,
    click,
    confirm,
    find_button,
    slash,
)

NOTHING_SENT = "Nothing was sent to Stream."

# (command line, the role the DESIGN role matrix says it needs)
EVERY_COMMAND = [
    ("/kick sara call-123", "moderator"),
    ("/kick sara call-123 --block", "moderator"),
    ("/block sara call-123", "moderator"),
    ("/unblock sara call-123", "moderator"),
    ("/mute sara call-123", "moderator"),
    ("/muteall call-123", "admin"),
    ("/screenshare call-123 off", "admin"),
    ("/grant sara call-123 audio", "moderator"),
    ("/revoke sara call-123 audio", "moderator"),
    ("/ban sara 1h", "moderator"),
    ("/ban sara", "moderator"),  # an outsider is stopped before the duration matters
    ("/unban sara", "admin"),
    ("/bans", "moderator"),
    ("/deactivate sara", "admin"),
    ("/reactivate sara", "admin"),
    ("/userblock sara john", "admin"),
    ("/userunblock sara john", "admin"),
    ("/blocked sara", "admin"),
    ("/mod kick sara call-123", "moderator"),
    ("/mod muteall call-123", "admin"),
    ("/mod ban sara 1h", "moderator"),
]

ADMIN_ONLY_FOR_MODERATORS = [
    ("/muteall call-123", "use `/muteall`"),
    ("/screenshare call-123 off", "use `/screenshare`"),
    ("/ban sara", "ban `sara` permanently"),
    ("/ban sara spamming", "ban `sara` permanently"),
    ("/ban sara 1h --ip", "ban `sara` by IP for 1h"),
    ("/ban sara 2d", "ban `sara` for 2d"),
    ("/ban sara 1d1m", "ban `sara` for 1d 1m"),
    ("/ban sara 1w", "ban `sara` for 1w"),
    ("/unban sara", "use `/unban`"),
    ("/deactivate sara", "use `/deactivate`"),
    ("/reactivate sara", "use `/reactivate`"),
    ("/userblock sara john", "use `/userblock`"),
    ("/userunblock sara john", "use `/userunblock`"),
    ("/blocked sara", "use `/blocked`"),
    ("/mod muteall call-123", "use `/muteall`"),
    ("/mod ban sara 25h", "ban `sara` for 1d 1h"),
]


def _snapshot(stack: LocalStack) -> object:
    state = stack.emulator.state
    call = state.calls[CALL]
    return (
        sorted(call.participants),
        sorted(call.blocked),
        {u: sorted(t) for u, t in call.muted.items()},
        {u: sorted(p) for u, p in call.permissions.items()},
        (call.screensharing.enabled, call.screensharing.access_request_enabled),
        sorted(state.bans),
        sorted(u.id for u in state.users.values() if u.deactivated),
        {u: sorted(b) for u, b in state.user_blocks.items()},
    )


async def test_outsider_is_denied_everything(stack: LocalStack) -> None:
    stack.emulator.state.deactivate("sara", created_by=None)  # so /reactivate could act
    before = _snapshot(stack)

    for line, role in EVERY_COMMAND:
        out = await slash(stack, line, OUTSIDER)

        assert out.reply.startswith(f":lock: You need the *{role}* role to "), line
        assert "you have no callmod role" in out.reply, line
        assert out.reply.endswith(NOTHING_SENT), line
        assert out.writes == [], f"{line}: a denied command reached Stream"
        assert out.log == [], line
        assert out.response_blocks == [[]], f"{line}: a denied command offered a button"
        assert _snapshot(stack) == before, line


async def test_moderator_is_denied_admin_commands(stack: LocalStack) -> None:
    stack.emulator.state.deactivate("sara", created_by=None)
    stack.emulator.state.ban(
        "sara", banned_by="callmod-bot", reason=None, timeout_minutes=60, ip_ban=False
    )
    before = _snapshot(stack)

    for line, what in ADMIN_ONLY_FOR_MODERATORS:
        out = await slash(stack, line, MODERATOR, trigger=False)  # `/ban sara`: no form

        assert out.reply == (
            f":lock: You need the *admin* role to {what}; you have the moderator role. "
            f"{NOTHING_SENT}"
        ), line
        assert out.writes == [] and out.log == [], line
        assert _snapshot(stack) == before, line


@pytest.mark.parametrize(
    ("duration", "minutes"), [("1m", 1), ("30m", 30), ("23h59m", 1439), ("1d", 1440), ("24h", 1440)]
)
async def test_moderator_may_ban_for_up_to_a_day(
    stack: LocalStack, duration: str, minutes: int
) -> None:
    out = await slash(stack, f"/ban sara {duration} trolling", MODERATOR)

    ban = stack.emulator.state.bans["sara"]
    assert ban.expires_at is not None and ban.expires_at - ban.created_at == minutes * 60
    assert ban.reason == "trolling (by @tom via Slack)"
    assert out.reply.startswith(":hammer: `sara` is banned for ")
    assert [n.text.split(" for ")[0] for n in ban_notifications(stack, "sara")] == [
        ":hammer: `sara` was banned by <@U0MODER01>"
    ]


@pytest.mark.parametrize(
    "line",
    [
        "/kick sara call-123",
        "/block sara call-123",
        "/unblock sara call-123",
        "/mute sara call-123",
        "/grant sara call-123 video",
        "/revoke sara call-123 video",
        "/bans",
    ],
)
async def test_moderator_may_use_the_everyday_commands(stack: LocalStack, line: str) -> None:
    out = await slash(stack, line, MODERATOR)
    assert not out.reply.startswith(":lock:")
    assert not out.reply.startswith(":x:")


@pytest.mark.parametrize("clicker", [MODERATOR, OUTSIDER])
async def test_confirm_clicked_without_the_role_is_denied(
    stack: LocalStack, clicker: Person
) -> None:
    asked = await slash(stack, "/muteall call-123", ADMIN)

    denied = await confirm(stack, asked, clicker)

    assert denied.reply.startswith(":lock: You need the *admin* role to use `/muteall`")
    assert denied.writes == [] and denied.log == []
    assert stack.emulator.state.calls[CALL].muted == {}
    # The denied click did not use the question up: the admin can still confirm it.
    done = await confirm(stack, asked, ADMIN)
    assert done.reply.startswith(":mute: Muted audio of everyone")
    assert len(done.writes) == 1


async def test_cancel_clicked_without_the_role_is_denied_and_leaves_the_question(
    stack: LocalStack,
) -> None:
    asked = await slash(stack, "/muteall call-123", ADMIN)

    denied = await click(
        stack, CANCEL, button_value(asked, CANCEL), MODERATOR, response_key=asked.key
    )

    assert denied.reply.startswith(":lock: You need the *admin* role to use `/muteall`")
    done = await confirm(stack, asked, ADMIN)
    assert done.reply.startswith(":mute: Muted audio of everyone")


async def test_deactivate_confirm_clicked_by_a_moderator_is_denied(stack: LocalStack) -> None:
    asked = await slash(stack, "/deactivate sara", ADMIN)

    denied = await click(
        stack, CONFIRM, button_value(asked, CONFIRM), MODERATOR, response_key=asked.key
    )

    assert denied.reply.startswith(":lock: You need the *admin* role to use `/deactivate`")
    assert denied.writes == []
    assert not stack.emulator.state.users["sara"].deactivated


async def test_forged_confirm_value_changes_nothing(stack: LocalStack) -> None:
    out = await click(stack, CONFIRM, "not json at all", ADMIN)
    assert out.reply == ":warning: That button no longer works; run the command again."
    out = await click(stack, CONFIRM, '{"cmd":"frob","text":"x","n":"1"}', ADMIN)
    assert out.reply == ":warning: That command no longer exists."
    assert out.writes == []


async def test_unban_button_clicked_by_a_moderator_is_denied(stack: LocalStack) -> None:
    await slash(stack, "/ban sara 1h", MODERATOR)
    [notification] = ban_notifications(stack, "sara")
    assert find_button(notification.blocks, UNBAN) == "sara"

    out = await click(stack, UNBAN, "sara", MODERATOR, message=notification)

    assert out.reply.startswith(":lock: You need the *admin* role to use this button")
    assert out.writes == []
    assert stack.emulator.state.active_ban("sara") is not None
    assert not notification.history, "the notification changed after a denied click"


@pytest.fixture
async def group_stack(clock: ManualClock) -> AsyncIterator[LocalStack]:
    """Moderators named by a Slack user group rather than by id."""
    local = LocalStack(clock=clock, mod_moderators=["@oncall-mods"])
    await local.start()
    local.slack.usergroups["oncall-mods"] = [OUTSIDER.user_id]
    await local.idle()
    try:
        yield local
    finally:
        await local.stop()


async def test_user_group_members_get_the_groups_role(group_stack: LocalStack) -> None:
    out = await slash(group_stack, "/kick sara call-123", OUTSIDER)

    assert out.reply == ":boot: `sara` was kicked from `default:call-123`.\n_Case #1_"
    assert "sara" not in group_stack.emulator.state.calls[CALL].participants
    denied = await slash(group_stack, "/muteall call-123", OUTSIDER)
    assert denied.reply.startswith(":lock: You need the *admin* role")
