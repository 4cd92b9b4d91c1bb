"""Bans: ban (permanent, timed, by IP), unban, list active bans."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from bot.cases.models import Kind
from bot.core.context import ActionContext
from bot.core.model import Click, Plan, Reply, Role
from bot.core.parsing import (
    UsageError,
    expect_count,
    format_duration,
    looks_like_duration,
    parse_duration,
    parse_user,
    split_words,
    user_argument,
)
from bot.core.presets import ReasonPreset, reason_from
from bot.core.registry import ButtonAction, Command
from bot.moderation.bans.book import UnbanOutcome
from bot.moderation.bans.record import BanRecord
from bot.moderation.bans.render import UNBAN_ACTION, ban_entry, closure_text
from bot.settings import Settings
from bot.slack import blocks
from bot.slack.blocks import Button, code, date_token
from bot.stream.client import MAX_BANS_OFFSET

MODERATOR_MAX_BAN = timedelta(days=1)
PAGE_SIZE = 20  # bans per /bans page: a header, 20 sections and the buttons stay under 50 blocks
BANS_PAGE_ACTION = "callmod_bans_page"  # Next page
BANS_PAGE_BACK_ACTION = "callmod_bans_page_back"  # Previous page: Slack wants distinct action_ids


@dataclass(frozen=True)
class BanArgs:
    user: str
    duration: timedelta | None
    reason: str | None
    ip_ban: bool
    preset: ReasonPreset | None = None  # `#key` named a reason preset (bot/core/presets.py)


def _parse_ban(text: str, settings: Settings) -> BanArgs:
    words = split_words(text, ("--ip",))
    expect_count(words.positional, 1)
    user = parse_user(words.positional[0])
    rest = list(words.positional[1:])
    duration = None
    if rest and looks_like_duration(rest[0]):
        duration = parse_duration(rest.pop(0))
    chosen = reason_from(rest, settings, f"/ban {user} 2h spamming")
    if duration is None and chosen.preset is not None:
        duration = chosen.preset.duration  # the preset's length when none was typed
    return BanArgs(user, duration, chosen.text, words.flag("--ip"), chosen.preset)


def _ban_role(args: BanArgs) -> Role:
    preset_role = args.preset.min_role if args.preset else Role.MODERATOR
    if args.ip_ban or args.duration is None or args.duration > MODERATOR_MAX_BAN:
        return Role.ADMIN
    return max(Role.MODERATOR, preset_role)


def _ban_plan(args: BanArgs) -> Plan:
    length = f"for {format_duration(args.duration)}" if args.duration else "permanently"
    ip = " by IP" if args.ip_ban else ""
    return Plan(
        f"ban {code(args.user)}{ip} {length}",
        target=args.user,
        detail=length,
        reason=args.reason,
        kind=Kind.BAN,
        duration=args.duration,
    )


async def _ban(ctx: ActionContext, args: BanArgs) -> Reply:
    record = await ctx.bans.ban(
        ctx.actor,
        args.user,
        reason=args.reason,
        duration=args.duration,
        ip_ban=args.ip_ban,
        ticket=ctx.ticket,
    )
    until = record.expires_at
    if args.duration and until is not None:
        # The same instant as the notification's, so the two can never disagree.
        length = f"for {format_duration(args.duration)} (until {date_token(until)})"
    else:
        length = "permanently"
    ip = " by IP (everyone sharing their address)" if args.ip_ban else ""
    text = f":hammer: {code(args.user)} is banned{ip} {length}."
    if record.message_ts is None:
        text += "\n_(The ban notification could not be posted to the log channel.)_"
    # Undo is /unban: it closes the ban and edits the notification, the ban's announcement.
    return Reply(text, audited=True, undo=f"unban {args.user}")


BAN = Command(
    name="ban",
    family="bans",
    usage="<user> [duration] [reason…] [--ip]",
    summary="Ban a user from all calls: 30m, 2h, 1d, 1w, 1d12h, or permanently",
    min_role=Role.MODERATOR,
    parse=_parse_ban,
    plan=_ban_plan,
    run=_ban,
    required_role=_ban_role,
)


# /unban --------------------------------------------------------------------------------------


async def _unban(ctx: ActionContext, user: str) -> Reply:
    result = await ctx.bans.unban(ctx.actor, user)
    # The updated notification is the audit trail; without one (a ban made while callmod did
    # not know of it) the dispatcher posts the audit line.
    return Reply(f":dove_of_peace: {code(user)} is no longer banned.", audited=result.announced)


UNBAN = Command(
    name="unban",
    family="bans",
    usage="<user>",
    summary="Lift a user's ban",
    min_role=Role.ADMIN,
    parse=user_argument,
    plan=lambda user: Plan(f"unban {code(user)}", target=user, kind=Kind.UNBAN),
    run=_unban,
)


# /bans ---------------------------------------------------------------------------------------


def _parse_bans(text: str, settings: Settings) -> str | None:
    words = split_words(text)
    expect_count(words.positional, 0, 1)
    return parse_user(words.positional[0]) if words.positional else None


@dataclass(frozen=True)
class BansPage:
    user: str | None
    offset: int
    records: list[BanRecord]
    more: bool


async def _fetch_page(ctx: ActionContext, user: str | None, offset: int) -> BansPage:
    """Always from Stream, the truth for bans; callmod adds what it knows of each (who banned
    through Slack and why, the case, the notification)."""
    bans = await ctx.stream.query_bans(user_id=user, limit=PAGE_SIZE, offset=offset)
    records = [ctx.bans.known_as(ban) for ban in bans]
    # Offsets count every entry Stream sent, readable or not (unreadable ones are left out).
    ahead = offset + PAGE_SIZE
    more = bans.raw_count == PAGE_SIZE and ahead <= MAX_BANS_OFFSET
    if more:
        more = (await ctx.stream.query_bans(user_id=user, limit=1, offset=ahead)).raw_count > 0
    return BansPage(user, offset, records, more)


def render_bans_page(page: BansPage, now: float, team_url: str | None) -> Reply:
    if not page.records:
        who = f" for {code(page.user)}" if page.user else ""
        return Reply(f"No active bans{who}.")
    first, last = page.offset + 1, page.offset + len(page.records)
    whole = page.offset == 0 and not page.more
    header = f"*Active bans* ({last})" if whole else f"*Active bans* {first}–{last}"
    if page.more:
        header += " (more on the next page)"
    lines = [ban_entry(record, now, team_url) for record in page.records]
    parts = [blocks.section(header), *(blocks.section(line) for line in lines)]
    buttons = []
    if page.offset > 0:
        back = max(0, page.offset - PAGE_SIZE)
        buttons.append(Button("Previous page", BANS_PAGE_BACK_ACTION, _page_value(page.user, back)))
    if page.more:
        ahead = page.offset + PAGE_SIZE
        buttons.append(Button("Next page", BANS_PAGE_ACTION, _page_value(page.user, ahead)))
    if buttons:
        parts.append(blocks.actions(buttons))
    return Reply("\n".join([header, *lines]), blocks.to_dicts(parts))


def _page_value(user: str | None, offset: int) -> str:
    return blocks.encode_value({"u": user, "o": offset})


async def _show_bans(ctx: ActionContext, user: str | None, offset: int) -> Reply:
    page = await _fetch_page(ctx, user, offset)
    if not page.records and offset > 0:
        page = await _fetch_page(ctx, user, 0)  # the list shrank under the button
    return render_bans_page(page, ctx.clock.time(), ctx.bans.team_url)


async def _list_bans(ctx: ActionContext, user: str | None) -> Reply:
    return await _show_bans(ctx, user, 0)


BANS = Command(
    name="bans",
    family="bans",
    usage="[user]",
    summary="List active bans with the time left",
    min_role=Role.MODERATOR,
    parse=_parse_bans,
    plan=lambda user: Plan(f"list the bans of {code(user)}" if user else "list active bans"),
    run=_list_bans,
    writes=False,
)


async def _bans_page_button(ctx: ActionContext, click: Click) -> Reply:
    try:
        data = blocks.decode_value(click.value)
        raw_user, offset = data.get("u"), data["o"]
        user = None if raw_user is None else parse_user(str(raw_user))
        if not isinstance(offset, int) or not 0 <= offset <= MAX_BANS_OFFSET:
            raise ValueError("offset out of range")
    except (ValueError, KeyError, UsageError):
        return Reply(":warning: That button no longer works; run `/bans` again.")
    return await _show_bans(ctx, user, offset)


BANS_PAGE_BUTTON = ButtonAction(
    action_id=BANS_PAGE_ACTION,
    min_role=Role.MODERATOR,
    run=_bans_page_button,
    replace_original=True,  # the next page replaces the ephemeral list
)
BANS_PAGE_BACK_BUTTON = replace(BANS_PAGE_BUTTON, action_id=BANS_PAGE_BACK_ACTION)

# The Unban button on ban notifications -------------------------------------------------------


async def _unban_button(ctx: ActionContext, click: Click) -> Reply:
    try:
        user = parse_user(click.value)
    except UsageError:
        return Reply(":warning: That Unban button names no valid user.")
    result = await ctx.bans.unban(ctx.actor, user, clicked=click.message)
    match result.outcome:
        case UnbanOutcome.ALREADY_CLOSED:
            how = closure_text(result.closure) if result.closure else "it had ended"
            return Reply(f"That ban was already closed: {how}.")
        case UnbanOutcome.ENDED:
            return Reply(
                f"That ban of {code(user)} has already ended; nothing was changed. "
                f"`/bans {user}` shows whether a newer ban is in force."
            )
        case UnbanOutcome.EARLIER_BAN:
            return Reply(
                f"That notification is about an earlier ban of {code(user)}; the ban in force "
                "has its own notification. Use its Unban button or `/unban`."
            )
    note = "" if result.announced else "\n_(The ban notification could not be updated.)_"
    return Reply(
        f":dove_of_peace: You unbanned {code(user)}.{note}",
        audited=result.announced,
        did=Plan(f"unban {code(user)}", target=user, kind=Kind.UNBAN),
    )


UNBAN_BUTTON = ButtonAction(action_id=UNBAN_ACTION, min_role=Role.ADMIN, run=_unban_button)

COMMANDS = (BAN, UNBAN, BANS)
BUTTONS = (UNBAN_BUTTON, BANS_PAGE_BUTTON, BANS_PAGE_BACK_BUTTON)
