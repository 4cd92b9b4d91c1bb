"""Bans: ban (permanent, timed, by IP), unban, list active bans."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from bot.actions import ActionContext
from bot.bans import UNBAN_ACTION
from bot.blocks import code, date_token, escape
from bot.parsing import (
    UsageError,
    expect_count,
    format_duration,
    looks_like_duration,
    parse_duration,
    parse_user,
    split_words,
)
from bot.registry import ButtonAction, Click, Command, Plan, Reply, Role
from bot.settings import Settings
from bot.stream import Ban

MODERATOR_MAX_BAN = timedelta(days=1)
REASON_LIMIT = 500
LIST_LIMIT = 20


@dataclass(frozen=True)
class BanArgs:
    user: str
    duration: timedelta | None
    reason: str | None
    ip_ban: bool


def _parse_ban(text: str, settings: Settings) -> BanArgs:
    words = split_words(text, ("--ip",))
    expect_count(words.positional, 1)
    user = parse_user(words.positional[0])
    rest = list(words.positional[1:])
    duration = None
    if rest and looks_like_duration(rest[0]):
        duration = parse_duration(rest.pop(0))
    reason = " ".join(rest).strip() or None
    if reason and len(reason) > REASON_LIMIT:
        raise UsageError(f"the reason is longer than {REASON_LIMIT} characters")
    return BanArgs(user, duration, reason, words.flag("--ip"))


def _ban_role(args: BanArgs) -> Role:
    if args.ip_ban or args.duration is None or args.duration > MODERATOR_MAX_BAN:
        return Role.ADMIN
    return Role.MODERATOR


def _ban_plan(args: BanArgs) -> Plan:
    length = f"for {format_duration(args.duration)}" if args.duration else "permanently"
    ip = " by IP" if args.ip_ban else ""
    return Plan(
        f"ban {code(args.user)}{ip} {length}",
        target=args.user,
        detail=length,
        reason=args.reason,
    )


def stream_reason(reason: str | None, slack_user_name: str) -> str:
    """The reason Stream stores names the Slack moderator, since Stream only sees the bot."""
    by = f"(by @{slack_user_name} via Slack)"
    return f"{reason} {by}" if reason else by


async def _ban(ctx: ActionContext, args: BanArgs) -> Reply:
    minutes = math.ceil(args.duration.total_seconds() / 60) if args.duration else None
    await ctx.stream.ban(
        args.user,
        banned_by_id=ctx.settings.mod_stream_user_id,
        reason=stream_reason(args.reason, ctx.actor.user_name),
        timeout_minutes=minutes,
        ip_ban=args.ip_ban,
    )
    posted = await ctx.bans.record_ban(
        actor=ctx.actor,
        user_id=args.user,
        reason=args.reason,
        duration=args.duration,
        ip_ban=args.ip_ban,
    )
    if args.duration:
        until = ctx.clock.time() + args.duration.total_seconds()
        length = f"for {format_duration(args.duration)} (until {date_token(until)})"
    else:
        length = "permanently"
    ip = " by IP (everyone sharing their address)" if args.ip_ban else ""
    text = f":hammer: {code(args.user)} is banned{ip} {length}."
    if not posted:
        text += "\n_(The ban notification could not be posted to the log channel.)_"
    return Reply(text, audited=True)


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
    examples=("/ban sara 2h spamming", "/ban sara abusive --ip"),
)


# /unban --------------------------------------------------------------------------------------


def _parse_user_only(text: str, settings: Settings) -> str:
    words = split_words(text)
    expect_count(words.positional, 1, 1)
    return parse_user(words.positional[0])


async def _unban(ctx: ActionContext, user: str) -> Reply:
    await ctx.stream.unban(user, unbanned_by_id=ctx.settings.mod_stream_user_id)
    await ctx.bans.record_unban(actor=ctx.actor, user_id=user)
    return Reply(f":dove_of_peace: {code(user)} is no longer banned.", audited=True)


UNBAN = Command(
    name="unban",
    family="bans",
    usage="<user>",
    summary="Lift a user's ban",
    min_role=Role.ADMIN,
    parse=_parse_user_only,
    plan=lambda user: Plan(f"unban {code(user)}", target=user),
    run=_unban,
)


# /bans ---------------------------------------------------------------------------------------


def _parse_bans(text: str, settings: Settings) -> str | None:
    words = split_words(text)
    expect_count(words.positional, 0, 1)
    return parse_user(words.positional[0]) if words.positional else None


def describe_ban(ban: Ban, now: float) -> str:
    line = f"• {code(ban.user_id)}"
    if ban.expires_at is None:
        line += " — permanent"
    else:
        left = timedelta(seconds=max(60.0, ban.expires_at.timestamp() - now))
        line += f" — {format_duration(left)} left (until {date_token(ban.expires_at)})"
    if ban.reason:
        line += f" — {escape(ban.reason)}"
    return line


async def _list_bans(ctx: ActionContext, user: str | None) -> Reply:
    bans = await ctx.stream.query_bans(user_id=user, limit=LIST_LIMIT + 1)
    if not bans:
        who = f" for {code(user)}" if user else ""
        return Reply(f"No active bans{who}.")
    now = ctx.clock.time()
    lines = [f"*Active bans* ({len(bans[:LIST_LIMIT])}{'+' if len(bans) > LIST_LIMIT else ''})"]
    lines += [describe_ban(ban, now) for ban in bans[:LIST_LIMIT]]
    if len(bans) > LIST_LIMIT:
        lines.append(f"_Showing the newest {LIST_LIMIT}; name a user to see theirs._")
    return Reply("\n".join(lines))


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

# The Unban button on ban notifications -------------------------------------------------------


async def _unban_button(ctx: ActionContext, click: Click) -> Reply:
    try:
        user = parse_user(click.value)
    except UsageError:
        return Reply(":warning: That Unban button names no valid user.")
    earlier = ctx.bans.handled_by(click.message_ts)
    if earlier is not None:
        return Reply(f"That ban was already closed: {earlier}.")
    await ctx.stream.unban(user, unbanned_by_id=ctx.settings.mod_stream_user_id)
    await ctx.bans.record_unban(actor=ctx.actor, user_id=user)
    return Reply(f":dove_of_peace: You unbanned {code(user)}.")


UNBAN_BUTTON = ButtonAction(action_id=UNBAN_ACTION, min_role=Role.ADMIN, run=_unban_button)

COMMANDS = (BAN, UNBAN, BANS)
BUTTONS = (UNBAN_BUTTON,)
