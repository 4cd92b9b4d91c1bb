"""Live calls: `/calls` lists the calls people are in now, `/roster <call> [filter]` shows who is
in one, with a menu per person (rendering in live_view.py).

Both only read. The roster's actions are command lines run by `Dispatcher.run_line` as if the
clicker typed them, so `/kick`, `/mute`, `/revoke`, `/ban`, `/cases` and `/muteall` keep their
own role rules, confirmations, cases and audit lines; the buttons declared here only page (Ban…
is commands/ban_choices.py, shared with the user card).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.context import ActionContext
from bot.core.model import Click, Plan, Reply, Role
from bot.core.parsing import UsageError, expect_count, parse_call, parse_user, split_words
from bot.core.registry import ButtonAction, Command
from bot.settings import Settings
from bot.slack import blocks
from bot.slack.blocks import code
from bot.stream import CallRef
from commands.bans import BAN
from commands.calls import MUTEALL
from commands.live_view import (
    BAN_CHOICES_ACTION,
    CALLS_PAGE_ACTION,
    CALLS_PAGE_SIZE,
    ROSTER_BACK_ACTION,
    ROSTER_PAGE_ACTION,
    RosterPage,
    render_ban_choices,
    render_calls,
    render_roster,
)

FILTER_LIMIT = 64
# What Ban… offers, shortest first ("" is permanent); each length is shown only to those whose
# role may ban that long: /ban's own rule decides, so the two cannot disagree.
BAN_LENGTHS: tuple[tuple[str, str], ...] = (
    ("30 minutes", "30m"),
    ("1 hour", "1h"),
    ("6 hours", "6h"),
    ("24 hours", "1d"),
    ("7 days", "1w"),
    ("Permanently", ""),
)


# /calls --------------------------------------------------------------------------------------


def _parse_calls(text: str, settings: Settings) -> None:
    expect_count(split_words(text).positional, 0, 0)


async def _show_calls(ctx: ActionContext, cursor: str | None) -> Reply:
    page = await ctx.stream.query_calls(ongoing=True, limit=CALLS_PAGE_SIZE, next_page=cursor)
    next_value = None
    if page.next:
        try:
            next_value = blocks.encode_value({"n": page.next})
        except ValueError:  # a cursor too long for a button: the first page still shows
            next_value = None
    return render_calls(
        page.calls,
        ctx.clock.time(),
        later=cursor is not None,
        next_value=next_value,
        skipped=page.skipped,
    )


async def _list_calls(ctx: ActionContext, args: None) -> Reply:
    return await _show_calls(ctx, None)


CALLS = Command(
    name="calls",
    family="live",
    usage="",
    summary="List live calls (with a Roster button for each)",
    min_role=Role.MODERATOR,
    parse=_parse_calls,
    plan=lambda args: Plan("list live calls"),
    run=_list_calls,
    writes=False,
)


async def _calls_page_button(ctx: ActionContext, click: Click) -> Reply:
    try:
        cursor = blocks.decode_value(click.value)["n"]
        if not isinstance(cursor, str) or not cursor:
            raise ValueError("no cursor")
    except (ValueError, KeyError):
        return Reply(":warning: That button no longer works; run `/calls` again.")
    return await _show_calls(ctx, cursor)


CALLS_PAGE_BUTTON = ButtonAction(
    CALLS_PAGE_ACTION, Role.MODERATOR, _calls_page_button, replace_original=True
)


# /roster -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterArgs:
    call: CallRef
    filter: str | None = None  # a name or id substring, any case


def _check_filter(words: str) -> str | None:
    needle = " ".join(words.split())
    if len(needle) > FILTER_LIMIT:
        raise UsageError(f"the filter is longer than {FILTER_LIMIT} characters")
    return needle or None


def _parse_roster(text: str, settings: Settings) -> RosterArgs:
    words = split_words(text)
    expect_count(words.positional, 1)
    call = parse_call(words.positional[0], settings.mod_default_call_type)
    return RosterArgs(call, _check_filter(" ".join(words.positional[1:])))


async def show_roster(ctx: ActionContext, args: RosterArgs, page: int) -> Reply:
    roster = await ctx.stream.roster(args.call)
    view = RosterPage(
        roster=roster,
        filter=args.filter,
        page=page,
        now=ctx.clock.time(),
        can_mute_all=ctx.actor.role >= MUTEALL.min_role,
    )
    return render_roster(view)


async def _roster(ctx: ActionContext, args: RosterArgs) -> Reply:
    return await show_roster(ctx, args, 0)


ROSTER = Command(
    name="roster",
    family="live",
    usage="<call> [filter]",
    summary="Who is in a call, with a menu per person (mute, kick, ban, history)",
    min_role=Role.MODERATOR,
    parse=_parse_roster,
    plan=lambda args: Plan(f"show who is in {code(args.call.cid)}", call=args.call.cid),
    run=_roster,
    writes=False,
)


async def _roster_page_button(ctx: ActionContext, click: Click) -> Reply:
    """Refresh, Previous and Next: a new snapshot from Stream, replacing the old one."""
    try:
        data = blocks.decode_value(click.value)
        page, raw_filter = data["p"], data.get("f")
        if not isinstance(page, int) or not 0 <= page <= 100:
            raise ValueError("page out of range")
        call = parse_call(str(data["c"]), ctx.settings.mod_default_call_type)
        needle = _check_filter(raw_filter) if isinstance(raw_filter, str) else None
    except (ValueError, KeyError, UsageError):
        return Reply(":warning: That button no longer works; run `/roster` again.")
    return await show_roster(ctx, RosterArgs(call, needle), page)


ROSTER_PAGE_BUTTON = ButtonAction(
    ROSTER_PAGE_ACTION, Role.MODERATOR, _roster_page_button, replace_original=True
)
ROSTER_BACK_BUTTON = ButtonAction(
    ROSTER_BACK_ACTION, Role.MODERATOR, _roster_page_button, replace_original=True
)


async def _ban_choices_button(ctx: ActionContext, click: Click) -> Reply:
    """Ban… (a roster row, a user card): the lengths the clicker may choose, each a /ban line
    run as if typed, so /ban's role rule is checked again at that click."""
    try:
        user = parse_user(click.value)
    except UsageError:
        return Reply(":warning: That Ban… button names no valid user.")
    choices, more = [], False
    for label, length in BAN_LENGTHS:
        words = f"{user} {length}".rstrip()
        if BAN.role_needed(BAN.parse(words, ctx.settings)) <= ctx.actor.role:
            choices.append((label, f"{BAN.name} {words}"))
        else:
            more = True
    return render_ban_choices(user, choices, more)


BAN_CHOICES_BUTTON = ButtonAction(BAN_CHOICES_ACTION, Role.MODERATOR, _ban_choices_button)

COMMANDS = (CALLS, ROSTER)
BUTTONS = (CALLS_PAGE_BUTTON, ROSTER_PAGE_BUTTON, ROSTER_BACK_BUTTON, BAN_CHOICES_BUTTON)
