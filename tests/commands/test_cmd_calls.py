"""Call commands end to end: /kick, /block, /unblock, /mute, /muteall, /screenshare."""

from __future__ import annotations

import pytest

from bot.local.stack import ADMIN, MODERATOR, LocalStack

from .cmdtest import (
    CALL,
    CANCEL,
    CONFIRM,
    button_value,
    click,
    clicks_at_once,
    confirm,
    requests_to,
    slash,
)

ALL_TRACKS = {"audio", "video", "screenshare", "screenshare_audio"}
DEMO_PEOPLE = {"sara", "john", "alice", "bob"}


async def test_kick_removes_the_user_and_audits(stack: LocalStack) -> None:
    out = await slash(stack, "/kick sara call-123", MODERATOR)

    call = stack.emulator.state.calls[CALL]
    assert "sara" not in call.participants
    assert "sara" not in call.blocked
    assert [k.user_id for k in call.kicked] == ["sara"]
    assert out.reply == ":boot: `sara` was kicked from `default:call-123`.\n_Case #1_"
    assert out.log == [
        "<@U0MODER01> · kick `sara` from `default:call-123` · :white_check_mark: done · Case #1"
    ]
    assert [w.body for w in out.writes] == [{"user_id": "sara", "kicked_by_id": "callmod-bot"}]


async def test_kick_with_block_keeps_them_out(stack: LocalStack) -> None:
    out = await slash(stack, "/kick sara call-123 --block")

    call = stack.emulator.state.calls[CALL]
    assert "sara" not in call.participants
    assert "sara" in call.blocked
    assert call.kicked[-1].blocked
    assert "blocked from rejoining" in out.reply
    assert len(out.log) == 1 and "and block them" in out.log[0] and "done" in out.log[0]


async def test_block_removes_and_blocks(stack: LocalStack) -> None:
    out = await slash(stack, "/block john call-123", MODERATOR)

    call = stack.emulator.state.calls[CALL]
    assert "john" in call.blocked
    assert "john" not in call.participants
    assert out.reply == ":no_entry: `john` is blocked from `default:call-123`.\n_Case #1_"
    assert out.log == [
        "<@U0MODER01> · block `john` from `default:call-123` · :white_check_mark: done · Case #1"
    ]


async def test_unblock_lets_them_back(stack: LocalStack) -> None:
    stack.emulator.state.block_on_call(CALL, "john")

    out = await slash(stack, "/unblock john call-123", MODERATOR)

    assert "john" not in stack.emulator.state.calls[CALL].blocked
    assert out.reply == ":unlock: `john` may join `default:call-123` again.\n_Case #1_"
    assert out.log == [
        "<@U0MODER01> · unblock `john` on `default:call-123` · :white_check_mark: done · Case #1"
    ]


async def test_mute_one_user_defaults_to_audio(stack: LocalStack) -> None:
    out = await slash(stack, "/mute sara call-123", MODERATOR)

    assert stack.emulator.state.calls[CALL].muted == {"sara": {"audio"}}
    assert out.reply.startswith(":mute: Muted audio of `sara` in `default:call-123`.")
    assert out.log == [
        "<@U0MODER01> · mute audio of `sara` in `default:call-123` · :white_check_mark: done"
        " · Case #1"
    ]
    assert out.writes[0].body["user_ids"] == ["sara"]
    assert out.writes[0].body["muted_by_id"] == "callmod-bot"


async def test_mute_several_users(stack: LocalStack) -> None:
    out = await slash(stack, "/mute sara,john,@alice,sara call-123 video")

    muted = stack.emulator.state.calls[CALL].muted
    assert muted == {"sara": {"video"}, "john": {"video"}, "alice": {"video"}}
    assert "`sara`, `john`, `alice`" in out.reply
    assert len(out.log) == 1 and "`sara`, `john`, `alice`" in out.log[0]
    assert len(out.writes) == 1  # one Stream call for all of them


@pytest.mark.parametrize(
    ("words", "tracks"),
    [
        ("audio", {"audio"}),
        ("video", {"video"}),
        ("screenshare", {"screenshare"}),
        ("screenshare_audio", {"screenshare_audio"}),
        ("VIDEO audio video", {"audio", "video"}),
        ("all", ALL_TRACKS),
        ("video all", ALL_TRACKS),
    ],
)
async def test_mute_each_track_word(stack: LocalStack, words: str, tracks: set[str]) -> None:
    out = await slash(stack, f"/mute bob call-123 {words}", MODERATOR)

    assert stack.emulator.state.calls[CALL].muted == {"bob": tracks}
    body = out.writes[0].body
    assert {t for t in ALL_TRACKS if body.get(t)} == tracks
    assert out.reply.startswith(":mute: Muted")
    assert len(out.log) == 1 and out.log[0].endswith(":white_check_mark: done · Case #1")


async def test_muteall_changes_nothing_until_confirmed(stack: LocalStack) -> None:
    asked = await slash(stack, "/muteall call-123")

    assert asked.reply == ":warning: Really mute audio of everyone in `default:call-123`?"
    assert asked.writes == [] and asked.log == []
    assert stack.emulator.state.calls[CALL].muted == {}

    done = await confirm(stack, asked)

    assert stack.emulator.state.calls[CALL].muted == {p: {"audio"} for p in DEMO_PEOPLE}
    assert done.reply == ":mute: Muted audio of everyone in `default:call-123`.\n_Case #1_"
    post = stack.slack.responses_for(asked.key)[-1]
    assert post.replace_original  # the question is replaced by the answer
    assert done.log == [
        "<@U0ADMIN01> · mute audio of everyone in `default:call-123` · :white_check_mark: done"
        " · Case #1"
    ]
    assert [w.body for w in done.writes] == [
        {"mute_all_users": True, "audio": True, "muted_by_id": "callmod-bot"}
    ]


async def test_muteall_with_tracks(stack: LocalStack) -> None:
    asked = await slash(stack, "/muteall call-123 video screenshare")
    await confirm(stack, asked)
    assert stack.emulator.state.calls[CALL].muted == {
        p: {"video", "screenshare"} for p in DEMO_PEOPLE
    }


async def test_muteall_cancel_changes_nothing(stack: LocalStack) -> None:
    asked = await slash(stack, "/muteall call-123")

    cancelled = await click(
        stack, CANCEL, button_value(asked, CANCEL), ADMIN, response_key=asked.key
    )

    assert cancelled.reply == "Cancelled; nothing was changed."
    assert cancelled.writes == [] and cancelled.log == []
    # A Confirm click on the cancelled question does nothing either.
    late = await confirm(stack, asked)
    assert late.reply == "This was already handled by <@U0ADMIN01>."
    assert late.writes == [] and late.log == []
    assert stack.emulator.state.calls[CALL].muted == {}


async def test_muteall_double_confirm_calls_stream_once(stack: LocalStack) -> None:
    asked = await slash(stack, "/muteall call-123")

    first = await confirm(stack, asked)
    second = await confirm(stack, asked)

    assert first.reply.startswith(":mute: Muted audio of everyone")
    assert second.reply == "This was already handled by <@U0ADMIN01>."
    assert len(requests_to(stack, "/mute_users")) == 1
    assert len(first.log) == 1 and second.log == []


async def test_muteall_concurrent_confirms_call_stream_once(stack: LocalStack) -> None:
    asked = await slash(stack, "/muteall call-123")
    value = button_value(asked, CONFIRM)

    await clicks_at_once(stack, CONFIRM, value, [ADMIN, ADMIN, ADMIN], asked.key)

    assert len(requests_to(stack, "/mute_users")) == 1
    texts = [r.text for r in stack.slack.responses_for(asked.key)[1:]]
    assert sorted(texts) == [
        ":mute: Muted audio of everyone in `default:call-123`.\n_Case #1_",
        "This was already handled by <@U0ADMIN01>.",
        "This was already handled by <@U0ADMIN01>.",
    ]
    assert sum("mute audio of everyone" in line for line in stack.log_lines()) == 1


@pytest.mark.parametrize(
    ("mode", "before", "after", "words"),
    [
        ("on", (False, False), (True, False), "anyone may share their screen"),
        ("off", (True, False), (False, False), "screen sharing is off"),
        ("request", (False, False), (True, True), "screen sharing needs a moderator's approval"),
        ("REQUEST", (True, False), (True, True), "screen sharing needs a moderator's approval"),
    ],
)
async def test_screenshare_modes(
    stack: LocalStack,
    mode: str,
    before: tuple[bool, bool],
    after: tuple[bool, bool],
    words: str,
) -> None:
    settings = stack.emulator.state.calls[CALL].screensharing
    settings.enabled, settings.access_request_enabled = before

    out = await slash(stack, f"/screenshare call-123 {mode}")

    assert (settings.enabled, settings.access_request_enabled) == after
    assert out.reply == f":desktop_computer: In `default:call-123` {words}.\n_Case #1_"
    assert out.log == [
        f"<@U0ADMIN01> · set screen sharing in `default:call-123` to {mode.lower()} · "
        ":white_check_mark: done · Case #1"
    ]
    assert out.writes[0].method == "PATCH"
    assert out.writes[0].body == {
        "settings_override": {
            "screensharing": {"enabled": after[0], "access_request_enabled": after[1]}
        }
    }
