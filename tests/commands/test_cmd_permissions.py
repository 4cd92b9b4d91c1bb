"""/grant and /revoke end to end: permission words map to Stream's permission names."""

from __future__ import annotations

import pytest

from bot.local.stack import MODERATOR, LocalStack

from .cmdtest import CALL, slash

EVERY_PERMISSION = {"send-audio", "send-video", "screenshare"}


@pytest.mark.parametrize(
    ("word", "permission", "verb"),
    [
        ("audio", "send-audio", "speak"),
        ("video", "send-video", "share video"),
        ("screenshare", "screenshare", "share screen"),
        ("Audio", "send-audio", "speak"),
    ],
)
async def test_grant_each_permission_word(
    stack: LocalStack, word: str, permission: str, verb: str
) -> None:
    stack.emulator.state.calls[CALL].permissions["sara"] = set()

    out = await slash(stack, f"/grant sara call-123 {word}", MODERATOR)

    assert stack.emulator.state.calls[CALL].permissions["sara"] == {permission}
    assert out.reply == (
        f":white_check_mark: `sara` may now {verb} in `default:call-123`.\n_Case #1_"
    )
    assert out.log == [
        f"<@U0MODER01> · let `sara` {verb} in `default:call-123` · :white_check_mark: done"
        " · Case #1"
    ]
    assert out.writes[0].body == {"user_id": "sara", "grant_permissions": [permission]}


async def test_grant_several_at_once(stack: LocalStack) -> None:
    stack.emulator.state.calls[CALL].permissions["sara"] = set()

    out = await slash(stack, "/grant sara call-123 audio video screenshare audio", MODERATOR)

    assert stack.emulator.state.calls[CALL].permissions["sara"] == EVERY_PERMISSION
    assert "speak and share video and share screen" in out.reply
    assert len(out.writes) == 1
    assert out.writes[0].body["grant_permissions"] == ["send-audio", "send-video", "screenshare"]
    assert len(out.log) == 1


@pytest.mark.parametrize(
    ("word", "permission", "verb"),
    [
        ("audio", "send-audio", "speak"),
        ("video", "send-video", "share video"),
        ("screenshare", "screenshare", "share screen"),
    ],
)
async def test_revoke_each_permission_word(
    stack: LocalStack, word: str, permission: str, verb: str
) -> None:
    out = await slash(stack, f"/revoke john call-123 {word}", MODERATOR)

    held = stack.emulator.state.calls[CALL].permissions["john"]
    assert held == EVERY_PERMISSION - {permission}
    assert out.reply == (
        f":no_entry_sign: `john` can no longer {verb} in `default:call-123`.\n_Case #1_"
    )
    assert out.log == [
        f"<@U0MODER01> · stop `john` from being able to {verb} in `default:call-123` · "
        ":white_check_mark: done · Case #1"
    ]
    assert out.writes[0].body == {"user_id": "john", "revoke_permissions": [permission]}


async def test_revoke_several_at_once(stack: LocalStack) -> None:
    out = await slash(stack, "/revoke john call-123 screenshare video", MODERATOR)

    assert stack.emulator.state.calls[CALL].permissions["john"] == {"send-audio"}
    assert "share screen and share video" in out.reply
    assert len(out.writes) == 1 and len(out.log) == 1
