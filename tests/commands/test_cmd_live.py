"""/calls and /roster end to end: Slack-signed requests into the real server, the emulator's calls
and participants over a socket, what the fake Slack was sent; and the roster's menus clicked as
Slack sends overflow picks, each running the command it names through the dispatcher."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from bot.cases import Kind
from bot.local.fake_slack import MAX_BLOCKS
from bot.local.stack import ADMIN, MODERATOR, OUTSIDER, LocalStack, Person

from .cmdtest import CALL, Outcome, blocks_text, button_value, click, confirm, find_button, slash

RUN = "callmod_run"
RUN_ANY = re.compile(r"^callmod_run(:.*)?$")
BAN_CHOICES = "callmod_ban_choices"
ROSTER_PAGE = "callmod_roster_page"
ROSTER_BACK = "callmod_roster_back"
CALLS_PAGE = "callmod_calls_page"
DEMO = ["alice", "bob", "john", "sara"]  # sorted by name, as the roster lists them


# -- reading a roster ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    user: str
    name: dict[str, Any]  # the plain_text field
    details: str
    menu: dict[str, str]  # option text -> value
    buttons: dict[str, tuple[str, str]]  # button text -> (action id, value)


def rows(blocks: list[dict[str, Any]]) -> list[Row]:
    found = []
    for i, block in enumerate(blocks):
        accessory = block.get("accessory") or {}
        if block.get("type") != "section" or accessory.get("type") != "overflow":
            continue
        name, details = block["fields"]
        user = re.match(r"`([^`]+)`", details["text"])
        assert user is not None, details
        following = blocks[i + 1]
        assert following["type"] == "actions"
        found.append(
            Row(
                user=user.group(1),
                name=name,
                details=details["text"],
                menu={o["text"]["text"]: o["value"] for o in accessory["options"]},
                buttons={
                    e["text"]["text"]: (e["action_id"], e["value"]) for e in following["elements"]
                },
            )
        )
    return found


def row_of(out: Outcome, user: str) -> Row:
    return next(r for r in rows(out.response_blocks[-1]) if r.user == user)


READS = ("/video/calls", "/participants")  # queries Stream takes as POSTs


def changes(out: Outcome) -> list[Any]:
    """The requests that could have changed something in Stream."""
    return [w for w in out.writes if not w.path.endswith(READS)]


def header(out: Outcome) -> str:
    return str(out.response_blocks[-1][0]["text"]["text"])


async def pick(
    stack: LocalStack,
    value: str,
    who: Person = ADMIN,
    *,
    action_id: str = RUN,
    element: str = "overflow",
    trigger: bool = True,
) -> Outcome:
    """Pick an overflow menu's option (or press a button, `element="button"`) as Slack sends it;
    each click gets its own response_url, so the reply is a new ephemeral message."""
    return await click(stack, action_id, value, who, element=element, trigger=trigger)


def nav(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """The roster's second block: Mute all, Previous, Next, by action id."""
    if blocks[1]["type"] != "actions":
        return {}
    return {e["action_id"]: e["value"] for e in blocks[1]["elements"]}


async def press(stack: LocalStack, row: Row, label: str, who: Person = ADMIN) -> Outcome:
    action_id, value = row.buttons[label]
    return await pick(stack, value, who, action_id=action_id, element="button")


def crowd(stack: LocalStack, cid: str, n: int, prefix: str = "user") -> list[str]:
    users = [f"{prefix}-{i:03d}" for i in range(n)]
    stack.emulator.state.add_call(cid, members=users)
    return users


# -- /calls ----------------------------------------------------------------------------------


async def test_calls_lists_live_calls_with_roster_buttons(stack: LocalStack) -> None:
    state = stack.emulator.state
    state.add_call("livestream:show-1", members=["carol", "dave"])
    state.add_call("default:empty-1", members=["erin"], participants=[])  # nobody joined

    out = await slash(stack, "/calls", MODERATOR)

    text = blocks_text(out.response_blocks[-1])
    assert "`call-123` · type `default` · started just now · 4 people in it" in text
    assert "`show-1` · type `livestream` · started just now · 2 people in it" in text
    assert "empty-1" not in text
    roster_values = [
        b["accessory"]["value"]
        for b in out.response_blocks[-1]
        if (b.get("accessory") or {}).get("text", {}).get("text") == "Roster"
    ]
    assert sorted(roster_values) == ["roster default:call-123", "roster livestream:show-1"]
    assert out.log == [] and changes(out) == []  # a read: no case, no audit line


async def test_the_roster_button_shows_the_roster(stack: LocalStack) -> None:
    listed = await slash(stack, "/calls", MODERATOR)
    value = next(
        b["accessory"]["value"] for b in listed.response_blocks[-1] if "call-123" in str(b)
    )

    out = await pick(stack, value, MODERATOR, element="button")

    assert [r.user for r in rows(out.response_blocks[-1])] == DEMO
    assert stack.slack.responses_for(out.key)[-1].replace_original is False  # the list stays


async def test_calls_started_is_relative_to_the_clock(stack: LocalStack, clock: Any) -> None:
    await clock.advance(2 * 3600 + 5 * 60)
    stack.emulator.state.add_call("default:later", members=["carol"])

    text = blocks_text((await slash(stack, "/calls")).response_blocks[-1])

    assert "`call-123` · type `default` · started 2h 5m ago" in text
    assert "`later` · type `default` · started just now · 1 person in it" in text


async def test_calls_pages_with_a_next_button(stack: LocalStack) -> None:
    for i in range(30):
        stack.emulator.state.add_call(f"default:room-{i:02d}", members=[f"p{i}"])

    first = await slash(stack, "/calls", MODERATOR)
    shown = re.findall(r"`(room-\d\d|call-123)`", blocks_text(first.response_blocks[-1]))
    assert len(shown) == 25
    assert len(first.response_blocks[-1]) <= MAX_BLOCKS
    nxt = button_value(first, CALLS_PAGE)

    second = await click(stack, CALLS_PAGE, nxt, MODERATOR, response_key=first.key)

    more = re.findall(r"`(room-\d\d|call-123)`", blocks_text(second.response_blocks[-1]))
    assert len(more) == 6 and not set(more) & set(shown)
    assert "(continued)" in second.reply
    assert find_button(second.response_blocks[-1], CALLS_PAGE) is None
    assert stack.slack.responses_for(first.key)[-1].replace_original  # the page replaced
    # The filter is sent again with the cursor, as Stream asks.
    queries = [r for r in stack.emulator.requests if r.path.endswith("/video/calls")]
    assert queries[-1].body["filter_conditions"] == {"ongoing": True}
    assert queries[-1].body["next"]


async def test_no_live_calls(stack: LocalStack) -> None:
    for user in DEMO:
        stack.emulator.state.leave(CALL, user)

    out = await slash(stack, "/calls", MODERATOR)

    assert out.reply == "No live calls."


async def test_calls_is_for_moderators(stack: LocalStack) -> None:
    out = await slash(stack, "/calls", OUTSIDER)
    assert out.reply.startswith(":lock: You need the *moderator* role to use `/calls`")


# -- /roster ---------------------------------------------------------------------------------


async def test_roster_shows_people_tracks_and_menus(stack: LocalStack) -> None:
    stack.emulator.state.join(CALL, "sara", ["screenshare"])  # a second device

    out = await slash(stack, "/roster call-123", MODERATOR)

    blocks = out.response_blocks[-1]
    assert "*Who is in `default:call-123`* · 4 people · as of <!date^" in header(out)
    assert blocks[0]["accessory"]["text"]["text"] == "Refresh"
    found = rows(blocks)
    assert [r.user for r in found] == DEMO
    sara = row_of(out, "sara")
    assert sara.name == {"type": "plain_text", "text": "Sara", "emoji": False}
    assert ":microphone: :video_camera: :desktop_computer:" in sara.details
    assert "2 devices" in sara.details and "joined <!date^" in sara.details
    assert ":microphone:" in row_of(out, "john").details
    assert ":microphone:" not in row_of(out, "bob").details
    assert sara.menu == {
        "Mute audio": "mute sara default:call-123 audio",
        "Mute video": "mute sara default:call-123 video",
        "Stop screen share": "mute sara default:call-123 screenshare screenshare_audio",
        "Revoke speaking": "revoke sara default:call-123 audio",
        "History": "cases sara",
    }
    assert sara.buttons == {
        "Kick": ("callmod_run", "kick sara default:call-123"),
        "Kick and block": ("callmod_run:block", "kick sara default:call-123 --block"),
        "Ban…": (BAN_CHOICES, "sara"),
        "Mute…": ("callmod_form_open", '{"a":"mute","c":"default:call-123","u":"sara"}'),
    }
    # Moderators are not offered Mute all (admin only): the viewer's role decides.
    assert "muteall" not in str(blocks[:2])
    assert out.log == [] and changes(out) == []


async def test_roster_header_offers_mute_all_to_admins(stack: LocalStack) -> None:
    out = await slash(stack, "/roster call-123", ADMIN)
    assert nav(out.response_blocks[-1]) == {RUN: "muteall default:call-123"}


@dataclass(frozen=True)
class Effect:
    label: str
    summary: str  # what the audit line says was done


MENU = [
    Effect("Mute audio", "mute audio of `sara` in `default:call-123`"),
    Effect("Mute video", "mute video of `sara` in `default:call-123`"),
    Effect(
        "Stop screen share", "mute screenshare, screenshare audio of `sara` in `default:call-123`"
    ),
    Effect("Revoke speaking", "stop `sara` from being able to speak in `default:call-123`"),
]


@pytest.mark.parametrize("effect", MENU, ids=lambda e: e.label)
async def test_each_menu_action_does_the_stream_thing_with_a_case_and_audit(
    stack: LocalStack, effect: Effect
) -> None:
    roster = await slash(stack, "/roster call-123", MODERATOR)

    out = await pick(stack, row_of(roster, "sara").menu[effect.label], MODERATOR)

    call = stack.emulator.state.calls[CALL]
    expected = {
        "Mute audio": lambda: call.muted == {"sara": {"audio"}},
        "Mute video": lambda: call.muted == {"sara": {"video"}},
        "Stop screen share": lambda: call.muted == {"sara": {"screenshare", "screenshare_audio"}},
        "Revoke speaking": lambda: "send-audio" not in call.permissions["sara"],
    }[effect.label]
    assert expected()
    assert out.reply.endswith("_Case #1_")
    assert out.log == [f"<@U0MODER01> · {effect.summary} · :white_check_mark: done · Case #1"]
    assert stack.store is not None
    case = await stack.store.get(1)
    assert case is not None and case.target_user_id == "sara" and case.call_cid == CALL
    assert case.moderator is not None and case.moderator.id == MODERATOR.user_id


async def test_kick_and_kick_and_block_buttons(stack: LocalStack) -> None:
    roster = await slash(stack, "/roster call-123", MODERATOR)

    kicked = await press(stack, row_of(roster, "sara"), "Kick", MODERATOR)
    blocked = await press(stack, row_of(roster, "bob"), "Kick and block", MODERATOR)

    call = stack.emulator.state.calls[CALL]
    assert "sara" not in call.participants and "sara" not in call.blocked
    assert "bob" not in call.participants and "bob" in call.blocked
    assert kicked.reply == ":boot: `sara` was kicked from `default:call-123`.\n_Case #1_"
    assert blocked.log == [
        "<@U0MODER01> · kick `bob` from `default:call-123` and block them · "
        ":white_check_mark: done · Case #2"
    ]
    assert stack.store is not None
    assert [c.kind for c in (await stack.store.history_for_user("bob", limit=5)).cases] == [
        Kind.KICK
    ]


async def test_history_option_answers_with_the_users_cases(stack: LocalStack) -> None:
    await slash(stack, "/mute sara call-123", MODERATOR)
    roster = await slash(stack, "/roster call-123", MODERATOR)

    out = await pick(stack, row_of(roster, "sara").menu["History"], MODERATOR)

    assert out.reply.startswith("*History of `sara`* — 1 mute")
    assert out.log == []


async def test_ban_choices_by_role(stack: LocalStack) -> None:
    roster = await slash(stack, "/roster call-123", MODERATOR)
    ban = row_of(roster, "bob").buttons["Ban…"]

    # Without a trigger_id Ban… falls back to its length buttons (with one it opens the form).
    as_moderator = await pick(
        stack, ban[1], MODERATOR, action_id=ban[0], element="button", trigger=False
    )
    as_admin = await pick(stack, ban[1], ADMIN, action_id=ban[0], element="button", trigger=False)

    def choices(out: Outcome) -> dict[str, str]:
        (actions,) = [b for b in out.response_blocks[-1] if b["type"] == "actions"]
        ids = [e["action_id"] for e in actions["elements"]]
        assert len(set(ids)) == len(ids) and all(RUN_ANY.match(i) for i in ids)
        return {e["text"]["text"]: e["value"] for e in actions["elements"]}

    assert choices(as_moderator) == {
        "30 minutes": "ban bob 30m",
        "1 hour": "ban bob 1h",
        "6 hours": "ban bob 6h",
        "24 hours": "ban bob 1d",
    }
    assert "Longer and permanent bans need the admin role" in as_moderator.reply
    assert choices(as_admin) == {
        **choices(as_moderator),
        "7 days": "ban bob 1w",
        "Permanently": "ban bob",
    }

    banned = await pick(
        stack, "ban bob 1h", MODERATOR, action_id="callmod_run:ban1", element="button"
    )

    ban_state = stack.emulator.state.active_ban("bob")
    assert ban_state is not None and ban_state.expires_at is not None
    assert banned.reply.startswith(":hammer: `bob` is banned for 1h")


@pytest.mark.parametrize(
    ("line", "needed"),
    [
        ("muteall default:call-123", "admin"),  # Mute all, from an admin's roster
        ("ban bob 1w", "admin"),  # 7 days, offered to admins only
        ("ban bob", "admin"),
    ],
)
async def test_a_moderator_clicking_an_admin_only_action_is_denied(
    stack: LocalStack, line: str, needed: str
) -> None:
    out = await pick(stack, line, MODERATOR, element="button")

    assert out.reply.startswith(f":lock: You need the *{needed}* role")
    assert changes(out) == [] and out.log == []
    assert stack.emulator.state.active_ban("bob") is None
    assert stack.emulator.state.calls[CALL].muted == {}


async def test_an_outsider_clicking_a_roster_menu_is_denied(stack: LocalStack) -> None:
    out = await pick(stack, "mute sara default:call-123 audio", OUTSIDER)
    assert out.reply.startswith(":lock: You need the *moderator* role to use `/mute`")
    assert stack.emulator.state.calls[CALL].muted == {}


async def test_mute_all_goes_through_the_muteall_confirmation(stack: LocalStack) -> None:
    roster = await slash(stack, "/roster call-123", ADMIN)
    value = nav(roster.response_blocks[-1])[RUN]

    asked = await pick(stack, value, ADMIN, element="button")

    assert asked.reply == ":warning: Really mute audio of everyone in `default:call-123`?"
    assert stack.emulator.state.calls[CALL].muted == {}
    await confirm(stack, asked)
    assert stack.emulator.state.calls[CALL].muted == {p: {"audio"} for p in DEMO}


async def test_an_action_after_the_person_left_answers_with_streams_sentence(
    stack: LocalStack,
) -> None:
    roster = await slash(stack, "/roster call-123", MODERATOR)
    stack.emulator.state.leave(CALL, "sara")

    out = await pick(stack, row_of(roster, "sara").menu["Mute audio"], MODERATOR)

    assert out.reply.startswith(":x: Could not mute audio of `sara` in `default:call-123`: ")
    assert "sara" in out.reply and "participant" in out.reply
    assert out.log and ":x: failed (nothing was changed)" in out.log[0]


async def test_a_stale_or_garbled_menu_value_changes_nothing(stack: LocalStack) -> None:
    for value in ("", "nosuchcommand sara", "mute"):
        out = await pick(stack, value, ADMIN)
        assert out.reply.startswith(":warning:")
        assert out.writes == [] and out.log == []


async def test_refresh_replaces_the_roster_with_a_new_snapshot(stack: LocalStack) -> None:
    roster = await slash(stack, "/roster call-123", MODERATOR)
    stack.emulator.state.add_user("carol", "Carol")
    stack.emulator.state.join(CALL, "carol", ["video"])
    refresh = roster.response_blocks[-1][0]["accessory"]

    out = await click(
        stack, refresh["action_id"], refresh["value"], MODERATOR, response_key=roster.key
    )

    assert [r.user for r in rows(out.response_blocks[-1])] == [
        "alice",
        "bob",
        "carol",
        "john",
        "sara",
    ]
    assert stack.slack.responses_for(roster.key)[-1].replace_original


async def test_a_150_person_call_shows_100_and_the_filter(stack: LocalStack) -> None:
    users = crowd(stack, "default:big", 150)

    out = await slash(stack, "/roster big", MODERATOR)

    assert "showing 100 of 150" in header(out)
    assert "filter by name or id: `/roster default:big sar`" in header(out)
    assert "People 1–24 of 100 (page 1 of 5)" in header(out)

    # The filter looks at the 100 Stream returned (any case), and says so.
    filtered = await slash(stack, "/roster big USER-00", MODERATOR)
    matching = [r.user for r in rows(filtered.response_blocks[-1])]
    assert matching and all(u.startswith("user-00") for u in matching)
    assert set(matching) <= set(users)
    assert "The filter looked only at those 100." in header(filtered)
    assert f"{len(matching)} matching `USER-00`" in header(filtered)
    one = await slash(stack, f"/roster big {matching[-1]}", MODERATOR)
    assert [r.user for r in rows(one.response_blocks[-1])] == [matching[-1]]


async def test_every_person_of_a_100_person_roster_is_reachable_within_slacks_limits(
    stack: LocalStack,
) -> None:
    users = crowd(stack, "default:hundred", 100)
    out = await slash(stack, "/roster hundred", ADMIN)
    seen: list[str] = []
    for page in range(5):
        blocks = out.response_blocks[-1]
        assert len(blocks) <= MAX_BLOCKS
        assert stack.slack.responses_for(out.key)[-1].status == 200  # within the fake's limits
        seen += [r.user for r in rows(blocks)]
        if page < 4:
            out = await click(stack, ROSTER_PAGE, nav(blocks)[ROSTER_PAGE], ADMIN)
    assert ROSTER_PAGE not in nav(out.response_blocks[-1])  # the last page
    assert "People 97–100 of 100 (page 5 of 5)" in header(out)
    assert sorted(seen) == sorted(users) and len(seen) == 100
    assert len(out.response_blocks[-1]) == 2 + 4 * 2

    back = await click(stack, ROSTER_BACK, nav(out.response_blocks[-1])[ROSTER_BACK], ADMIN)
    assert [r.user for r in rows(back.response_blocks[-1])] == users[72:96]


async def test_names_are_escaped_and_cut(stack: LocalStack) -> None:
    state = stack.emulator.state
    names = {
        "pinger": "<!channel> hi & <@U0ADMIN01>",
        "bolder": "*bold* _it_ ~s~ `c`",
        "longer": "L" * 1000,
        "liner": "two\nlines\tand\x00nul",
    }
    for user, name in names.items():
        state.add_user(user, name)
    state.add_call("default:names", members=list(names))

    out = await slash(stack, "/roster names", MODERATOR)

    by_user = {r.user: r for r in rows(out.response_blocks[-1])}
    assert by_user["pinger"].name["text"] == "&lt;!channel&gt; hi &amp; &lt;@U0ADMIN01&gt;"
    assert by_user["bolder"].name == {
        "type": "plain_text",
        "text": "*bold* _it_ ~s~ `c`",
        "emoji": False,
    }
    assert by_user["longer"].name["text"] == "L" * 59 + "…"
    assert by_user["liner"].name["text"] == "two lines and nul"
    assert "<!channel>" not in str(out.response_blocks[-1]) and "<@U0ADMIN01>" not in str(
        out.response_blocks[-1]
    )
    assert stack.slack.responses_for(out.key)[-1].status == 200


async def test_unknown_call_is_a_sentence(stack: LocalStack) -> None:
    out = await slash(stack, "/roster call-999", MODERATOR)
    assert out.reply.startswith(
        ":x: Could not show who is in `default:call-999`: call default:call-999 does not exist."
    )


async def test_no_one_in_the_call(stack: LocalStack) -> None:
    stack.emulator.state.add_call("default:quiet", members=["carol"], participants=[])
    for user in DEMO:
        stack.emulator.state.leave(CALL, user)

    assert (await slash(stack, "/roster quiet")).reply == "No one is in `default:quiet`."
    assert (await slash(stack, "/roster call-123")).reply == "No one is in `default:call-123`."


async def test_a_filter_matching_no_one(stack: LocalStack) -> None:
    out = await slash(stack, "/roster call-123 zed", MODERATOR)
    assert out.reply == "No one of the 4 people in `default:call-123` matches `zed`."


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("/roster", "some arguments are missing"),
        ("/roster bad!call", "is not a call id"),
        (f"/roster call-123 {'x' * 65}", "the filter is longer than 64 characters"),
        ("/calls now", "unexpected extra words"),
    ],
)
async def test_bad_input_gets_usage(stack: LocalStack, line: str, problem: str) -> None:
    out = await slash(stack, line, MODERATOR)
    assert problem in out.reply and "Usage: `/" in out.reply
    assert out.writes == []
