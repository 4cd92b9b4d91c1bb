"""/user end to end: the card (Stream profile, ban with time left, user blocks, live calls, last
cases with counts) and its buttons (History, Ban… by role, Deactivate through /deactivate's
confirmation)."""

from __future__ import annotations

from bot.local.stack import ADMIN, MODERATOR, OUTSIDER, LocalStack, Person
from bot.moderation.history.render import HISTORY_ACTION
from commands.live import BAN_LENGTHS
from commands.live_view import BAN_CHOICES_ACTION
from commands.user_card import CALLS_CHECKED, CASES_SHOWN

from .cmdtest import Outcome, blocks_text, click, confirm, slash

RUN = "callmod_run"  # the dispatcher's command-line buttons
FORM = "callmod_form_open"  # Moderate…: the action form with the user filled in
# Stream queries sent as POST: reading live calls and who is in them changes nothing.
READS = ("/video/calls", "/participants")


def changes(outcome: Outcome) -> list[str]:
    return [w.path for w in outcome.writes if not w.path.endswith(READS)]


def buttons(outcome: Outcome) -> list[tuple[str, str]]:
    """(action id, value) of every button in the reply's blocks, in order."""
    found: list[tuple[str, str]] = []
    for blocks in outcome.response_blocks:
        for block in blocks:
            for element in block.get("elements") or []:
                if element.get("type") == "button":
                    found.append((str(element["action_id"]), str(element["value"])))
    return found


def run_buttons(outcome: Outcome) -> list[str]:
    """The command lines of the reply's command-line buttons."""
    return [value for action, value in buttons(outcome) if action.startswith(RUN)]


async def run_line(stack: LocalStack, line: str, who: Person, asked: Outcome) -> Outcome:
    action = next(a for a, value in buttons(asked) if value == line)
    return await click(stack, action, line, who, response_key=asked.key)


async def test_the_card_shows_profile_ban_blocks_calls_and_cases(stack: LocalStack) -> None:
    state = stack.emulator.state
    state.users["sara"].image = "https://img.example/sara.png"
    state.block_user("sara", "john")
    await slash(stack, "/mute sara call-123 video", MODERATOR)
    state.add_call("default:call-456", members=["john"])
    state.join("default:call-456", "sara", ["audio"])
    state.join("default:call-456", "sara")  # a second device
    state.add_call("default:quiet", members=["bob"])  # live, without sara
    await slash(stack, "/ban sara 2h spamming <!channel>", MODERATOR)
    await stack.clock.advance(30 * 60)

    out = await slash(stack, "/user @sara", MODERATOR)

    lines = out.reply.splitlines()
    assert lines[0] == ":bust_in_silhouette: *`sara`* · `Sara`"
    assert lines[1].startswith("role `user` · created <!date^")
    assert lines[1].endswith(" · active · avatar `https://img.example/sara.png`")
    assert lines[2] == ":hammer: *Banned*"
    assert lines[3].startswith("• `sara` — 1h 30m left (until <!date^")
    assert "— spamming &lt;!channel&gt; — by <@U0MODER01> · <https://" in lines[3]
    assert lines[3].endswith("|Case #2>")  # linked to its notification
    assert lines[4] == ":no_bell: Blocks `john`."
    assert lines[5] == ":movie_camera: *In live calls*"
    calls = sorted(lines[6:8])
    assert calls[0].startswith("• `default:call-123`")
    assert calls[1].startswith("• `default:call-456`, joined <!date^")
    assert calls[1].endswith(", on 2 devices")
    assert lines[8] == "*Cases* — 1 ban, 1 mute"
    assert lines[9].startswith("*#2* · ") and "ban `sara` for 2h" in lines[9]
    assert lines[10].startswith("*#1* · ") and "mute video of `sara`" in lines[10]
    assert len(lines) == 11
    # a moderator may ban (up to a day) but not deactivate: no Deactivate button for them
    assert buttons(out) == [
        (HISTORY_ACTION, "sara"),
        (BAN_CHOICES_ACTION, "sara"),
        (FORM, '{"a":"mute","u":"sara"}'),
    ]
    assert changes(out) == [] and out.log == []


async def test_a_quiet_user(stack: LocalStack) -> None:
    stack.emulator.state.add_user("carol", "Carol <@U0ADMIN01> `x`")

    out = await slash(stack, "/user carol", ADMIN)

    assert out.reply.splitlines() == [
        ":bust_in_silhouette: *`carol`* · `Carol &lt;@U0ADMIN01&gt; x`",
        out.reply.splitlines()[1],
        "Not banned.",
        "Blocks no one.",
        "Not in a live call.",
        "*Cases* — no cases",
    ]
    assert out.reply.splitlines()[1].endswith(" · active · no avatar")
    assert buttons(out) == [
        (HISTORY_ACTION, "carol"),
        (BAN_CHOICES_ACTION, "carol"),
        (FORM, '{"a":"mute","u":"carol"}'),
        (RUN, "deactivate carol"),
    ]


async def test_a_long_name_is_escaped_and_cut(stack: LocalStack) -> None:
    stack.emulator.state.add_user("carol", "<!here> " + "n" * 1000)

    out = await slash(stack, "/user carol", ADMIN)

    first = out.reply.splitlines()[0]
    assert first.startswith(":bust_in_silhouette: *`carol`* · `&lt;!here&gt; nnn")
    assert first.endswith("…`") and len(first) < 150
    assert "<!here>" not in blocks_text(out.response_blocks[0])


async def test_a_deactivated_user_offers_reactivate_to_an_admin(stack: LocalStack) -> None:
    stack.emulator.state.deactivate("sara", created_by=None)

    out = await slash(stack, "/user sara", ADMIN)

    assert " · :zzz: *deactivated* · " in out.reply
    assert run_buttons(out) == ["reactivate sara"]
    done = await run_line(stack, "reactivate sara", ADMIN, out)
    assert done.reply.startswith(":sunrise: `sara` is active again.")
    assert not stack.emulator.state.users["sara"].deactivated


async def test_only_the_newest_live_calls_are_checked(stack: LocalStack) -> None:
    state = stack.emulator.state
    for n in range(CALLS_CHECKED + 2):
        state.add_call(f"default:busy-{n}", members=["john"])
        await stack.clock.advance(1)  # newest first needs distinct creation times

    out = await slash(stack, "/user sara", MODERATOR)

    assert "Not in a live call." in out.reply
    assert f"_(Only the {CALLS_CHECKED} newest live calls were checked.)_" in out.reply
    checked = [r for r in stack.emulator.requests if r.path.endswith("/participants")]
    assert len(checked) == CALLS_CHECKED


async def test_only_the_last_cases_are_listed(stack: LocalStack) -> None:
    for _ in range(CASES_SHOWN + 1):
        await slash(stack, "/mute sara call-123 audio", MODERATOR)

    out = await slash(stack, "/user sara", MODERATOR)

    assert f"*Cases* — {CASES_SHOWN + 1} mutes" in out.reply
    assert out.reply.count("mute audio of `sara`") == CASES_SHOWN
    assert f"_(The {CASES_SHOWN} newest; History shows them all.)_" in out.reply
    history = await click(stack, HISTORY_ACTION, "sara", MODERATOR, response_key=out.key)
    assert history.reply.count("mute audio of `sara`") == CASES_SHOWN + 1


async def test_unknown_user_is_a_sentence_and_the_usage(stack: LocalStack) -> None:
    out = await slash(stack, "/user nobody", MODERATOR)

    assert out.reply == ':warning: user "nobody" was not found.\nUsage: `/user &lt;user&gt;`'
    assert changes(out) == [] and out.log == []


async def test_an_outsider_is_denied(stack: LocalStack) -> None:
    since = len(stack.emulator.requests)

    out = await slash(stack, "/user sara", OUTSIDER)

    assert out.reply == (
        ":lock: You need the *moderator* role to use `/user`; you have no callmod role. "
        "Nothing was sent to Stream."
    )
    asked = [r.path for r in stack.emulator.requests[since:]]
    assert not any(path.startswith("/api/v2/users") or path.endswith(READS) for path in asked)


async def test_stream_failing_for_one_part_still_shows_the_rest(stack: LocalStack) -> None:
    stack.emulator.faults.server_error(status=500, times=20, path="/users/block")

    out = await slash(stack, "/user sara", MODERATOR)

    assert ":x: Stream is having trouble (HTTP 500)." in out.reply
    assert "Not banned." in out.reply and "*Cases* — no cases" in out.reply


# -- the buttons ---------------------------------------------------------------------------


async def test_ban_choices_follow_the_clickers_role(stack: LocalStack) -> None:
    card = await slash(stack, "/user sara", MODERATOR)

    as_moderator = await click(
        stack, BAN_CHOICES_ACTION, "sara", MODERATOR, response_key=card.key, trigger=False
    )
    as_admin = await click(
        stack, BAN_CHOICES_ACTION, "sara", ADMIN, response_key=card.key, trigger=False
    )

    up_to_a_day = {"30m", "1h", "6h", "24h", "1d", "15m", "12h"}
    lines = [f"ban sara {length}".rstrip() for _, length in BAN_LENGTHS]
    assert run_buttons(as_admin) == lines
    assert "ban sara" in lines and ("ban sara 1w" in lines or "ban sara 7d" in lines)
    assert run_buttons(as_moderator) == [
        line for line in lines if line.removeprefix("ban sara ") in up_to_a_day
    ]
    assert as_moderator.writes == [] and as_admin.writes == []


async def test_a_ban_choice_runs_ban_as_the_clicker(stack: LocalStack) -> None:
    card = await slash(stack, "/user sara", MODERATOR)
    choices = await click(
        stack, BAN_CHOICES_ACTION, "sara", MODERATOR, response_key=card.key, trigger=False
    )

    done = await run_line(stack, "ban sara 1h", MODERATOR, choices)

    assert done.reply.startswith(":hammer: `sara` is banned for 1h (until <!date^")
    ban = stack.emulator.state.active_ban("sara")
    assert ban is not None and ban.expires_at == stack.clock.time() + 3600
    [case] = (await stack.store.history_for_user("sara", limit=5)).cases  # type: ignore[union-attr]
    assert case.moderator is not None and case.moderator.id == MODERATOR.user_id


async def test_a_longer_ban_choice_clicked_by_a_moderator_is_denied(stack: LocalStack) -> None:
    card = await slash(stack, "/user sara", ADMIN)
    choices = await click(
        stack, BAN_CHOICES_ACTION, "sara", ADMIN, response_key=card.key, trigger=False
    )

    out = await run_line(stack, "ban sara", MODERATOR, choices)

    assert out.reply.startswith(":lock: You need the *admin* role to ban `sara` permanently")
    assert stack.emulator.state.active_ban("sara") is None
    assert out.writes == [] and out.log == []


async def test_deactivate_goes_through_the_confirmation(stack: LocalStack) -> None:
    card = await slash(stack, "/user sara", ADMIN)

    asked = await run_line(stack, "deactivate sara", ADMIN, card)

    assert asked.reply == ":warning: Really deactivate `sara`?"
    assert not stack.emulator.state.users["sara"].deactivated
    done = await confirm(stack, asked)
    assert stack.emulator.state.users["sara"].deactivated
    assert done.reply == ":zzz: `sara` is deactivated and can no longer connect.\n_Case #1_"
    assert done.log == ["<@U0ADMIN01> · deactivate `sara` · :white_check_mark: done · Case #1"]


async def test_deactivate_clicked_by_a_moderator_is_denied(stack: LocalStack) -> None:
    card = await slash(stack, "/user sara", ADMIN)

    out = await run_line(stack, "deactivate sara", MODERATOR, card)

    assert out.reply == (
        ":lock: You need the *admin* role to use `/deactivate`; you have the moderator role. "
        "Nothing was sent to Stream."
    )
    assert not stack.emulator.state.users["sara"].deactivated
    assert out.writes == [] and out.log == []
