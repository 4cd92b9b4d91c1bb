"""The one action form (issue 14) end to end: `/mute`, `/kick`, `/grant` and `/revoke` with
nothing or only a user open it through the fake Slack's views.open; its call and user pickers
load from the emulator through signed block_suggestion payloads; a changed field redraws the
summary with views.update; a signed view_submission comes back with field errors (nothing sent
to Stream) or runs the command through the dispatcher as the submitter."""

from __future__ import annotations

from typing import Any

from bot.local.fake_slack import OpenedView
from bot.local.stack import ADMIN, MODERATOR, OUTSIDER, LocalStack, Person
from bot.slack.action_form import (
    ACTION_FORM,
    FIELD_ACTION,
    FIELD_CALL,
    FIELD_DURATION,
    FIELD_KEEP_OUT,
    FIELD_PERMISSIONS,
    FIELD_REASON,
    FIELD_TRACKS,
    FIELD_USER,
    OPEN_BUTTON,
)
from bot.util.clock import ManualClock
from commands.live_view import FORM_ACTION

from .cmdtest import CALL, button_value, click, log_since, mark, slash, writes_since

CHANNEL = "C0MODS"


def last_view(stack: LocalStack) -> OpenedView:
    assert stack.slack.views, "no views.open reached the fake Slack"
    return stack.slack.views[-1]


def block_ids(view: OpenedView) -> list[str]:
    return [str(b.get("block_id")) for b in view.view["blocks"]]


def element(view: OpenedView, block_id: str) -> dict[str, Any]:
    for block in view.view["blocks"]:
        if block.get("block_id") == block_id:
            return dict(block["element"])
    raise AssertionError(f"no block {block_id} in {block_ids(view)}")


def summary(view: OpenedView) -> str:
    [block] = [b for b in view.view["blocks"] if b.get("block_id") == "summary"]
    return str(block["elements"][0]["text"])


def picked(value: str | None, kind: str = "static_select") -> dict[str, Any]:
    option = None if value is None else {"text": {"type": "plain_text", "text": value},
                                         "value": value}
    return {"type": kind, "selected_option": option}


def ticked(*values: str) -> dict[str, Any]:
    return {"type": "checkboxes", "selected_options": [{"value": v} for v in values]}


def form_values(
    action: str,
    user: str | None = "sara",
    call: str | None = CALL,
    **fields: dict[str, Any],
) -> dict[str, dict[str, dict[str, Any]]]:
    """`view.state.values` as Slack sends it back."""
    values: dict[str, dict[str, dict[str, Any]]] = {
        "action": {FIELD_ACTION: picked(action)},
        "user": {FIELD_USER: picked(user, "external_select")},
    }
    values["call"] = {FIELD_CALL: picked(call, "external_select")}
    for block_id, state in fields.items():
        values[block_id] = state
    return values


async def submit(
    stack: LocalStack, view: OpenedView, state: dict[str, Any], who: Person = MODERATOR
) -> dict[str, Any] | None:
    assert stack.driver is not None
    status, answer = await stack.driver.submit_view(
        view.id, state, user_id=who.user_id, user_name=who.user_name
    )
    assert status == 200
    await stack.idle()
    return answer


def told(stack: LocalStack, who: Person) -> list[str]:
    return [m.text for m in stack.slack.messages if m.ephemeral_user == who.user_id]


# -- opening ---------------------------------------------------------------------------------


async def test_mute_alone_opens_the_form_on_mute(stack: LocalStack) -> None:
    out = await slash(stack, "/mute", MODERATOR)

    assert out.replies == [] and out.writes == []
    view = last_view(stack)
    assert view.callback_id == ACTION_FORM and view.user_id == MODERATOR.user_id
    assert element(view, "action")["initial_option"]["value"] == "mute"
    assert block_ids(view)[:4] == ["action", "user", "call", "tracks"]
    assert [o["value"] for o in element(view, "tracks")["initial_options"]] == ["audio"]
    assert view.view["submit"]["text"] == "Mute"
    assert summary(view).startswith("Choose a user and a call.")
    assert "reason" not in block_ids(view)  # /mute takes no reason


async def test_each_command_opens_its_own_fields_with_the_user_filled_in(
    stack: LocalStack,
) -> None:
    await slash(stack, "/kick @sara", MODERATOR)
    kick = last_view(stack)
    await slash(stack, "/grant john", MODERATOR)
    grant = last_view(stack)
    await slash(stack, "/revoke", MODERATOR)
    revoke = last_view(stack)

    assert element(kick, "user")["initial_option"]["value"] == "sara"
    assert {"keep_out", "reason"} <= set(block_ids(kick)) and "tracks" not in block_ids(kick)
    assert element(grant, "action")["initial_option"]["value"] == "grant"
    assert [o["value"] for o in element(grant, "permissions")["options"]] == [
        "audio", "video", "screenshare"
    ]
    assert element(revoke, "action")["initial_option"]["value"] == "revoke"
    assert [c.error for c in stack.slack.calls_to("views.open")] == [None, None, None]


async def test_a_whole_command_line_still_runs_typed(stack: LocalStack) -> None:
    out = await slash(stack, "/mute sara call-123", MODERATOR)

    assert stack.slack.calls_to("views.open") == []
    assert stack.emulator.state.calls[CALL].muted == {"sara": {"audio"}}
    assert out.reply.startswith(":mute:")


async def test_outsiders_get_the_denial_not_a_form(stack: LocalStack) -> None:
    out = await slash(stack, "/kick", OUTSIDER)

    assert stack.slack.calls_to("views.open") == []
    assert out.reply.startswith(":lock: You need the *moderator* role")


# -- pickers and the summary -----------------------------------------------------------------


async def test_the_call_picker_lists_live_calls_and_a_typed_call_id(stack: LocalStack) -> None:
    stack.emulator.state.add_call("default:quiet-room", members=["sara"], participants=[])
    await slash(stack, "/mute", MODERATOR)
    view = last_view(stack)
    assert stack.driver is not None

    _, live = await stack.driver.suggest(
        view.id, action_id=FIELD_CALL, block_id="call", value="", user_id=MODERATOR.user_id
    )
    _, typed = await stack.driver.suggest(
        view.id, action_id=FIELD_CALL, block_id="call", value="quiet-room",
        user_id=MODERATOR.user_id,
    )
    _, outsider = await stack.driver.suggest(
        view.id, action_id=FIELD_CALL, block_id="call", value="", user_id=OUTSIDER.user_id
    )

    assert [o["value"] for o in live] == [CALL]
    assert live[0]["text"]["text"].startswith("default:call-123 · ")
    assert [o["value"] for o in typed] == ["default:quiet-room"]
    assert "not live now" in typed[0]["text"]["text"]
    assert outsider == []


async def test_the_user_picker_offers_the_calls_participants_then_stream_users(
    stack: LocalStack,
) -> None:
    stack.emulator.state.add_user("sam", name="Sam Outside")
    await slash(stack, "/mute", MODERATOR)
    view = last_view(stack)
    assert stack.driver is not None
    # Choosing the call redraws the form, which keeps the call for the pickers.
    await stack.driver.pick_in_view(
        view.id,
        form_values("mute", user=None),
        block_id="call",
        action_id=FIELD_CALL,
        user_id=MODERATOR.user_id,
    )
    await stack.idle()

    _, everyone = await stack.driver.suggest(
        view.id, action_id=FIELD_USER, block_id="user", value="", user_id=MODERATOR.user_id
    )
    _, sa = await stack.driver.suggest(
        view.id, action_id=FIELD_USER, block_id="user", value="sa", user_id=MODERATOR.user_id
    )

    assert sorted(o["value"] for o in everyone) == ["alice", "bob", "john", "sara"]
    assert all("in the call" in o["text"]["text"] for o in everyone)
    assert [o["value"] for o in sa] == ["sara", "sam"]  # the participant, then Stream's user
    assert "in the call" not in sa[1]["text"]["text"]


async def test_changing_a_field_redraws_the_form_and_its_summary(stack: LocalStack) -> None:
    await slash(stack, "/mute sara", MODERATOR)
    view = last_view(stack)
    assert stack.driver is not None

    chosen = form_values("mute", tracks={FIELD_TRACKS: ticked("audio", "video")})
    await stack.driver.pick_in_view(
        view.id, chosen, block_id="call", action_id=FIELD_CALL, user_id=MODERATOR.user_id
    )
    await stack.idle()
    after_call = stack.slack.view(view.id)
    assert summary(after_call).startswith(
        "This will mute audio, video of `sara` in `default:call-123`."
    )

    to_kick = form_values("kick")
    await stack.driver.pick_in_view(
        view.id, to_kick, block_id="action", action_id=FIELD_ACTION, user_id=MODERATOR.user_id
    )
    await stack.idle()
    after_action = stack.slack.view(view.id)

    [first, second] = stack.slack.calls_to("views.update")
    assert first.error is None and second.error is None
    assert first.args["view_id"] == view.id and first.args["hash"]  # a newer edit would win
    assert "tracks" not in block_ids(after_action) and "keep_out" in block_ids(after_action)
    assert after_action.view["submit"]["text"] == "Kick"
    assert summary(after_action).startswith("This will kick `sara` from `default:call-123`.")
    assert writes_since(stack, mark(stack)) == []


# -- submitting ------------------------------------------------------------------------------


async def test_a_valid_mute_runs_once_through_the_dispatcher(stack: LocalStack) -> None:
    await slash(stack, "/mute", MODERATOR)
    since = mark(stack)

    answer = await submit(
        stack,
        last_view(stack),
        form_values("mute", tracks={FIELD_TRACKS: ticked("audio", "video")}),
    )

    assert answer is None
    assert stack.emulator.state.calls[CALL].muted == {"sara": {"audio", "video"}}
    [write] = writes_since(stack, since)
    assert write.body["user_ids"] == ["sara"] and write.body["audio"] and write.body["video"]
    assert log_since(stack, since) == [
        "<@U0MODER01> · mute audio, video of `sara` in `default:call-123` · "
        ":white_check_mark: done · Case #1"
    ]
    [answered] = told(stack, MODERATOR)
    assert answered.startswith(":mute: Muted audio, video of `sara` in `default:call-123`.")
    [posted] = [m for m in stack.slack.messages if m.ephemeral_user == MODERATOR.user_id]
    assert posted.channel == CHANNEL
    assert stack.store is not None
    [case] = (await stack.store.history_for_user("sara", limit=5)).cases
    assert case.moderator is not None and case.moderator.id == MODERATOR.user_id


async def test_kick_and_block_with_a_reason(stack: LocalStack) -> None:
    await slash(stack, "/kick", MODERATOR)

    await submit(
        stack,
        last_view(stack),
        form_values(
            "kick",
            user="bob",
            keep_out={FIELD_KEEP_OUT: ticked("block")},
            reason={FIELD_REASON: {"type": "plain_text_input", "value": "shouting <!channel>"}},
        ),
    )

    call = stack.emulator.state.calls[CALL]
    assert "bob" not in call.participants and "bob" in call.blocked
    assert stack.store is not None
    [case] = (await stack.store.history_for_user("bob", limit=5)).cases
    assert case.reason == "shouting <!channel>"
    [answered] = told(stack, MODERATOR)
    assert "kicked from `default:call-123` and blocked" in answered


async def test_revoke_and_grant_change_the_permissions(stack: LocalStack) -> None:
    await slash(stack, "/revoke john", MODERATOR)
    await submit(
        stack, last_view(stack), form_values(
            "revoke", user="john", permissions={FIELD_PERMISSIONS: ticked("audio", "video")}
        )
    )
    held = set(stack.emulator.state.calls[CALL].permissions["john"])
    assert "send-audio" not in held and "send-video" not in held

    await slash(stack, "/grant john", MODERATOR)
    await submit(
        stack, last_view(stack), form_values(
            "grant", user="john", permissions={FIELD_PERMISSIONS: ticked("audio")}
        )
    )
    assert "send-audio" in stack.emulator.state.calls[CALL].permissions["john"]


async def test_a_ban_chosen_in_the_form_uses_the_ban_rules(stack: LocalStack) -> None:
    await slash(stack, "/kick sara", MODERATOR)
    since = mark(stack)
    week = form_values("ban", call=None, duration={FIELD_DURATION: picked("1w")})
    two_hours = form_values("ban", call=None, duration={FIELD_DURATION: picked("2h")})

    refused = await submit(stack, last_view(stack), week)
    assert refused is not None and set(refused["errors"]) == {"duration"}
    assert writes_since(stack, since) == []

    await submit(stack, last_view(stack), two_hours)
    ban = stack.emulator.state.active_ban("sara")
    assert ban is not None and ban.expires_at == stack.clock.time() + 2 * 3600


async def test_field_errors_come_back_on_their_fields_and_nothing_reaches_stream(
    stack: LocalStack,
) -> None:
    await slash(stack, "/mute", ADMIN)
    view = last_view(stack)
    since = mark(stack)

    nothing = await submit(stack, view, form_values("mute", user=None, call=None), ADMIN)
    no_tracks = await submit(stack, view, form_values("mute", tracks={FIELD_TRACKS: ticked()}),
                             ADMIN)
    unknown = await submit(stack, view, form_values("mute", user="nobody-here"), ADMIN)
    bad_reason = await submit(
        stack,
        view,
        form_values("kick", reason={FIELD_REASON: {"type": "plain_text_input",
                                                   "value": "rude --block"}}),
        ADMIN,
    )

    assert nothing == {
        "response_action": "errors",
        "errors": {"user": "Choose the user.", "call": "Choose the call."},
    }
    assert no_tracks is not None and no_tracks["errors"] == {
        "tracks": "Tick at least one track to mute."
    }
    assert unknown is not None and set(unknown["errors"]) == {"user"}
    assert bad_reason is not None and set(bad_reason["errors"]) == {"reason"}
    assert writes_since(stack, since) == [] and stack.emulator.state.calls[CALL].muted == {}
    assert told(stack, ADMIN) == []


async def test_the_role_is_checked_again_at_submit(stack: LocalStack) -> None:
    await slash(stack, "/mute", MODERATOR)
    since = mark(stack)

    answer = await submit(stack, last_view(stack), form_values("mute"), OUTSIDER)

    assert answer is None
    [answered] = told(stack, OUTSIDER)
    assert answered.startswith(":lock: You need the *moderator* role")
    assert writes_since(stack, since) == [] and stack.emulator.state.calls[CALL].muted == {}


async def test_mute_on_a_roster_row_opens_the_form_for_that_user_and_call(
    stack: LocalStack,
) -> None:
    assert OPEN_BUTTON == FORM_ACTION  # declared on both sides of the import rule
    value = '{"a":"mute","c":"default:call-123","u":"john"}'

    out = await click(stack, OPEN_BUTTON, value, MODERATOR)
    typed = await click(stack, OPEN_BUTTON, value, MODERATOR, trigger=False)

    assert out.replies == []
    view = last_view(stack)
    assert element(view, "user")["initial_option"]["value"] == "john"
    assert element(view, "call")["initial_option"]["value"] == CALL
    assert summary(view).startswith("This will mute audio of `john` in `default:call-123`.")
    assert typed.reply.startswith("The form could not open here; type `/mute john")
    assert len(stack.slack.views) == 1 and typed.writes == []


async def test_moderate_on_a_user_card_opens_the_form_for_that_user(stack: LocalStack) -> None:
    card = await slash(stack, "/user sara", MODERATOR)
    value = button_value(card, OPEN_BUTTON)

    await click(stack, OPEN_BUTTON, value, MODERATOR)
    typed = await click(stack, OPEN_BUTTON, value, MODERATOR, trigger=False)

    view = last_view(stack)
    assert element(view, "user")["initial_option"]["value"] == "sara"
    assert "initial_option" not in element(view, "call")  # the picker lists the live calls
    assert typed.reply.startswith("The form could not open here; type `/mute sara &lt;call&gt;")


async def test_the_prefixed_name_opens_the_form_too(clock: ManualClock) -> None:
    local = LocalStack(clock=clock, mod_command_prefix="cm-")
    await local.start()
    try:
        await slash(local, "/cm-kick sara", MODERATOR)
        view = last_view(local)
        assert element(view, "action")["initial_option"]["value"] == "kick"
    finally:
        await local.stop()
