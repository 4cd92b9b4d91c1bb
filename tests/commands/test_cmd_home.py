"""The App Home tab (issue 14) end to end: a signed Events API `app_home_opened` makes callmod
publish the tab with views.publish to the fake Slack; what it shows comes from the emulator
(live calls), the request desk, the ban book and the case store; its buttons are clicked as
Slack sends Home-tab block_actions (no response_url: answers go to the clicker's DM); and the
tab is published again after the moderator's own actions."""

from __future__ import annotations

from bot.core.undo import UNDO_ACTION
from bot.local.fake_slack import PublishedHome
from bot.local.stack import ADMIN, MODERATOR, OUTSIDER, LocalStack, Person
from bot.moderation.bans.render import UNBAN_ACTION
from bot.moderation.history.render import HISTORY_ACTION
from bot.moderation.permission_requests import APPROVE_ACTION, DENY_ACTION
from bot.util.clock import ManualClock

from .cmdtest import CALL, blocks_text, slash

RUN = "callmod_run"


async def open_home(stack: LocalStack, who: Person = MODERATOR) -> PublishedHome:
    assert stack.driver is not None
    status, _ = await stack.driver.home_opened(who.user_id)
    assert status == 200
    await stack.idle()
    return stack.slack.homes[who.user_id]


def buttons(home: PublishedHome) -> list[tuple[str, str, str]]:
    """(text, action id, value) of every button on the tab, top to bottom."""
    found = []
    for block in home.blocks:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("type") == "button":
                found.append((element["text"]["text"], element["action_id"], element["value"]))
    return found


def text(home: PublishedHome) -> str:
    return blocks_text(home.blocks)


def dms(stack: LocalStack, who: Person) -> list[str]:
    dm = stack.slack.dm_channel(who.user_id)
    return [m.text for m in stack.slack.messages if m.channel == dm]


async def test_opening_the_tab_publishes_the_moderators_page(stack: LocalStack) -> None:
    home = await open_home(stack)

    [call] = stack.slack.calls_to("views.publish")
    assert call.error is None and call.args["user_id"] == MODERATOR.user_id
    assert home.view["type"] == "home" and len(home.blocks) <= 100
    page = text(home)
    assert "<@U0MODER01> · moderator" in page
    assert "*Live calls*" in page and "`call-123` · type `default` · 4 people in it" in page
    assert ("Roster", RUN, f"roster {CALL}") in buttons(home)
    assert "*Permission requests*\nNone waiting." in page
    assert "*Active bans*\nNone." in page
    assert "*Your last actions*\nNone yet." in page


async def test_outsiders_see_an_explanation_and_nothing_else(stack: LocalStack) -> None:
    await slash(stack, "/ban bob 1h", ADMIN, trigger=False)  # there is something to hide

    home = await open_home(stack, OUTSIDER)

    assert [b["type"] for b in home.blocks] == ["header", "section"]
    assert "You have no callmod role" in text(home)
    assert "bob" not in text(home) and buttons(home) == []


async def test_the_messages_tab_publishes_nothing(stack: LocalStack) -> None:
    assert stack.driver is not None
    await stack.driver.home_opened(MODERATOR.user_id, tab="messages")
    await stack.idle()

    assert stack.slack.calls_to("views.publish") == []


async def test_the_tab_is_refreshed_after_the_moderators_action_with_undo_and_history(
    stack: LocalStack,
) -> None:
    await open_home(stack)

    await slash(stack, "/kick sara call-123 --block", MODERATOR)

    home = stack.slack.homes[MODERATOR.user_id]
    assert len(stack.slack.calls_to("views.publish")) == 2
    page = text(home)
    assert "*Your last 10 actions*" in page and "*#1*" in page and "kick" in page
    undo = [b for b in buttons(home) if b[1] == UNDO_ACTION]
    assert len(undo) == 1
    assert ("History", HISTORY_ACTION, "sara") in buttons(home)

    # Undo from the tab: the same token as the reply's, run as the clicker.
    assert stack.driver is not None
    await stack.driver.home_click(
        action_id=UNDO_ACTION, value=undo[0][2], user_id=MODERATOR.user_id
    )
    await stack.idle()
    assert "sara" not in stack.emulator.state.calls[CALL].blocked
    [answer] = dms(stack, MODERATOR)
    assert "may join `default:call-123` again" in answer
    refreshed = stack.slack.homes[MODERATOR.user_id]
    assert [b for b in buttons(refreshed) if b[1] == UNDO_ACTION] == []  # used up


async def test_other_peoples_actions_do_not_publish_a_tab_they_have_not_opened(
    stack: LocalStack,
) -> None:
    await slash(stack, "/mute sara call-123", ADMIN)

    assert stack.slack.calls_to("views.publish") == []


async def test_pending_requests_can_be_approved_from_the_tab(stack: LocalStack) -> None:
    await stack.emulator.raise_permission_request(CALL, "bob", ["send-audio"])
    await stack.idle()

    home = await open_home(stack)

    assert "`bob`) asks to *speak* in `default:call-123`" in text(home)  # "Bob (`bob`)"
    approve = [b for b in buttons(home) if b[1] == APPROVE_ACTION]
    assert len(approve) == 1 and any(b[1] == DENY_ACTION for b in buttons(home))
    assert stack.driver is not None
    await stack.driver.home_click(
        action_id=APPROVE_ACTION, value=approve[0][2], user_id=MODERATOR.user_id
    )
    await stack.idle()

    assert "send-audio" in stack.emulator.state.calls[CALL].permissions["bob"]
    [answer] = dms(stack, MODERATOR)
    assert answer.startswith(":white_check_mark: Bob (`bob`) may now speak")
    assert "None waiting." in text(stack.slack.homes[MODERATOR.user_id])


async def test_active_bans_show_time_left_and_unban_for_admins_only(stack: LocalStack) -> None:
    await slash(stack, "/ban bob 2h spam", ADMIN, trigger=False)

    moderator = await open_home(stack, MODERATOR)
    admin = await open_home(stack, ADMIN)

    assert "`bob` — 2h left" in text(moderator)
    assert "Unban needs the admin role" in text(moderator)
    assert not any(b[1] == UNBAN_ACTION for b in buttons(moderator))
    assert ("Unban", UNBAN_ACTION, "bob") in buttons(admin)

    assert stack.driver is not None
    await stack.driver.home_click(action_id=UNBAN_ACTION, value="bob", user_id=MODERATOR.user_id)
    await stack.idle()
    assert stack.emulator.state.active_ban("bob") is not None  # the role is checked again
    assert dms(stack, MODERATOR)[-1].startswith(":lock: You need the *admin* role")


async def test_roster_from_the_tab_answers_in_the_dm(stack: LocalStack) -> None:
    await open_home(stack)
    assert stack.driver is not None

    await stack.driver.home_click(
        action_id=RUN, value=f"roster {CALL}", user_id=MODERATOR.user_id
    )
    await stack.idle()

    [answer] = dms(stack, MODERATOR)
    assert answer.startswith("*Who is in `default:call-123`*")


async def test_a_section_stream_cannot_answer_says_so_and_the_rest_shows(
    stack: LocalStack,
) -> None:
    stack.emulator.faults.server_error(status=500, times=None, path="/video/calls")

    home = await open_home(stack)

    page = text(home)
    assert "could not be loaded just now" in page
    assert "*Active bans*" in page and "*Your last actions*" in page



async def test_requests_too_old_to_answer_leave_the_tab(stack: LocalStack) -> None:
    await stack.emulator.raise_permission_request(CALL, "bob", ["send-video"])
    await stack.idle()
    assert "asks to *share video*" in text(await open_home(stack))

    assert isinstance(stack.clock, ManualClock)
    await stack.clock.advance(stack.settings().mod_request_max_age_seconds + 1)
    home = await open_home(stack)

    assert "None waiting." in text(home)
    assert not any(b[1] == APPROVE_ACTION for b in buttons(home))


async def test_open_alerts_show_with_their_buttons_and_are_decided_from_the_tab(
    stack: LocalStack,
) -> None:
    stack.emulator.moderation.rule("sara", CALL, ("nudity",))
    await stack.idle()

    home = await open_home(stack)

    page = text(home)
    assert "*Open alerts* · 1 open" in page and "`sara`" in page
    labels = [b[0] for b in buttons(home)]
    assert {"Kick", "Ban…", "Mark reviewed", "End call"} <= set(labels)
    [review] = [b for b in buttons(home) if b[0] == "Mark reviewed"]
    assert stack.driver is not None
    await stack.driver.home_click(action_id=review[1], value=review[2], user_id=MODERATOR.user_id)
    await stack.idle()

    [card] = [m for m in stack.slack.messages if "Stream alert" in m.text]
    assert "Reviewed by <@U0MODER01>, no action" in blocks_text(card.blocks)
    assert "*Open alerts*\nNone open." in text(stack.slack.homes[MODERATOR.user_id])
    outsider = await open_home(stack, OUTSIDER)
    assert "alert" not in text(outsider).lower()
