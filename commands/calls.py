"""Commands on one call: kick, block, unblock, mute, mute everyone, screen-share settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.cases.models import Kind
from bot.core.context import ActionContext
from bot.core.model import Plan, Reply, Role
from bot.core.parsing import (
    UsageError,
    expect_count,
    parse_call,
    parse_tracks,
    parse_user,
    parse_users,
    split_words,
)
from bot.core.presets import ReasonPreset, reason_from
from bot.core.registry import Command
from bot.settings import Settings
from bot.slack.blocks import code
from bot.stream import CallRef, StreamAPIError, Track


@dataclass(frozen=True)
class UserOnCall:
    user: str
    call: CallRef
    block: bool = False
    reason: str | None = None
    preset: ReasonPreset | None = None  # `#key` named a reason preset (bot/core/presets.py)


def _user_on_call(text: str, settings: Settings, flags: tuple[str, ...] = ()) -> UserOnCall:
    words = split_words(text, flags)
    expect_count(words.positional, 2, 2)
    user = parse_user(words.positional[0])
    call = parse_call(words.positional[1], settings.mod_default_call_type)
    return UserOnCall(user, call, words.flag("--block"))


def _with_reason(name: str, flags: tuple[str, ...] = ()) -> Callable[[str, Settings], UserOnCall]:
    """`<user> <call> [reason…|#preset …]`: /kick and /block take a reason (MOD_REQUIRE_REASON
    can make it required); /unblock does not."""

    def parse(text: str, settings: Settings) -> UserOnCall:
        words = split_words(text, flags)
        expect_count(words.positional, 2)
        user = parse_user(words.positional[0])
        call = parse_call(words.positional[1], settings.mod_default_call_type)
        example = f"/{name} {user} {words.positional[1]} spamming"
        chosen = reason_from(list(words.positional[2:]), settings, example)
        return UserOnCall(user, call, words.flag("--block"), chosen.text, chosen.preset)

    return parse


def _preset_role(args: UserOnCall) -> Role:
    return args.preset.min_role if args.preset else Role.MODERATOR


# /kick ---------------------------------------------------------------------------------------


def _kick_plan(args: UserOnCall) -> Plan:
    extra = " and block them" if args.block else ""
    return Plan(
        f"kick {code(args.user)} from {code(args.call.cid)}{extra}",
        target=args.user,
        call=args.call.cid,
        reason=args.reason,
        kind=Kind.KICK,
    )


async def _kick(ctx: ActionContext, args: UserOnCall) -> Reply:
    await ctx.stream.kick_user(
        args.call, args.user, block=args.block, kicked_by_id=ctx.settings.mod_stream_user_id
    )
    text = f":boot: {code(args.user)} was kicked from {code(args.call.cid)}"
    if args.block:
        return Reply(f"{text} and blocked from rejoining.", undo=_unblock_line(args))
    return Reply(f"{text}.", no_undo="Nothing to undo: a kick without --block lets them rejoin.")


def _unblock_line(args: UserOnCall) -> str:
    return f"unblock {args.user} {args.call.cid}"


KICK = Command(
    name="kick",
    family="calls",
    usage="<user> <call> [reason…] [--block]",
    summary="Remove a user from a call (--block keeps them out)",
    min_role=Role.MODERATOR,
    parse=_with_reason("kick", ("--block",)),
    plan=_kick_plan,
    run=_kick,
    required_role=_preset_role,
)


# /block and /unblock -------------------------------------------------------------------------


async def _block(ctx: ActionContext, args: UserOnCall) -> Reply:
    await ctx.stream.block_user(args.call, args.user)
    return Reply(
        f":no_entry: {code(args.user)} is blocked from {code(args.call.cid)}.",
        undo=_unblock_line(args),
    )


async def _unblock(ctx: ActionContext, args: UserOnCall) -> Reply:
    await ctx.stream.unblock_user(args.call, args.user)
    return Reply(f":unlock: {code(args.user)} may join {code(args.call.cid)} again.")


BLOCK = Command(
    name="block",
    family="calls",
    usage="<user> <call> [reason…]",
    summary="Block a user from a call (they are removed and cannot rejoin)",
    min_role=Role.MODERATOR,
    parse=_with_reason("block"),
    plan=lambda a: Plan(
        f"block {code(a.user)} from {code(a.call.cid)}",
        target=a.user,
        call=a.call.cid,
        reason=a.reason,
        kind=Kind.BLOCK,
    ),
    run=_block,
    required_role=_preset_role,
)

UNBLOCK = Command(
    name="unblock",
    family="calls",
    usage="<user> <call>",
    summary="Let a blocked user join a call again",
    min_role=Role.MODERATOR,
    parse=_user_on_call,
    plan=lambda a: Plan(
        f"unblock {code(a.user)} on {code(a.call.cid)}",
        target=a.user,
        call=a.call.cid,
        kind=Kind.UNBLOCK,
    ),
    run=_unblock,
)


# /mute and /muteall --------------------------------------------------------------------------

NO_UNMUTE = "No Undo: Stream has no unmute; the user can unmute themselves."


@dataclass(frozen=True)
class Mute:
    users: tuple[str, ...]
    call: CallRef
    tracks: tuple[Track, ...]


def _tracks_text(tracks: tuple[Track, ...]) -> str:
    return ", ".join(t.replace("_", " ") for t in tracks)


def _parse_mute(text: str, settings: Settings) -> Mute:
    words = split_words(text)
    expect_count(words.positional, 2)
    users = parse_users(words.positional[0])
    call = parse_call(words.positional[1], settings.mod_default_call_type)
    return Mute(users, call, parse_tracks(words.positional[2:], allow_all=True))


def _users_text(users: tuple[str, ...]) -> str:
    return ", ".join(code(u) for u in users)


async def _mute(ctx: ActionContext, args: Mute) -> Reply:
    await ctx.stream.mute_users(
        args.call, args.users, args.tracks, muted_by_id=ctx.settings.mod_stream_user_id
    )
    return Reply(
        f":mute: Muted {_tracks_text(args.tracks)} of {_users_text(args.users)} "
        f"in {code(args.call.cid)}. They can unmute themselves; `/revoke` stops that.",
        no_undo=NO_UNMUTE,
    )


MUTE = Command(
    name="mute",
    family="calls",
    usage="<user>[,<user>…] <call> [audio] [video] [screenshare] [screenshare_audio] [all]",
    summary="Mute one or several users' tracks (default audio)",
    min_role=Role.MODERATOR,
    parse=_parse_mute,
    plan=lambda a: Plan(
        f"mute {_tracks_text(a.tracks)} of {_users_text(a.users)} in {code(a.call.cid)}",
        target=",".join(a.users),
        call=a.call.cid,
        detail=_tracks_text(a.tracks),
        kind=Kind.MUTE,
    ),
    run=_mute,
)


@dataclass(frozen=True)
class MuteAll:
    call: CallRef
    tracks: tuple[Track, ...]


def _parse_muteall(text: str, settings: Settings) -> MuteAll:
    words = split_words(text)
    expect_count(words.positional, 1)
    call = parse_call(words.positional[0], settings.mod_default_call_type)
    return MuteAll(call, parse_tracks(words.positional[1:], allow_all=False))


async def _muteall(ctx: ActionContext, args: MuteAll) -> Reply:
    await ctx.stream.mute_all(args.call, args.tracks, muted_by_id=ctx.settings.mod_stream_user_id)
    return Reply(
        f":mute: Muted {_tracks_text(args.tracks)} of everyone in {code(args.call.cid)}.",
        no_undo="No Undo: Stream has no unmute; each person can unmute themselves.",
    )


MUTEALL = Command(
    name="muteall",
    family="calls",
    usage="<call> [audio] [video] [screenshare] [screenshare_audio]",
    summary="Mute everyone in a call (asks for confirmation)",
    min_role=Role.ADMIN,
    parse=_parse_muteall,
    plan=lambda a: Plan(
        f"mute {_tracks_text(a.tracks)} of everyone in {code(a.call.cid)}",
        call=a.call.cid,
        detail=_tracks_text(a.tracks),
        kind=Kind.MUTE_ALL,
    ),
    run=_muteall,
    confirm=True,
)


# /screenshare --------------------------------------------------------------------------------

_MODES: dict[str, tuple[bool, bool, str]] = {
    "on": (True, False, "anyone may share their screen"),
    "off": (False, False, "screen sharing is off"),
    "request": (True, True, "screen sharing needs a moderator's approval"),
}


@dataclass(frozen=True)
class Screenshare:
    call: CallRef
    mode: str


def _parse_screenshare(text: str, settings: Settings) -> Screenshare:
    words = split_words(text)
    expect_count(words.positional, 2, 2)
    call = parse_call(words.positional[0], settings.mod_default_call_type)
    mode = words.positional[1].lower()
    if mode not in _MODES:
        raise UsageError(f"{code(words.positional[1])} is not a mode (use on, off or request)")
    return Screenshare(call, mode)


async def _screenshare(ctx: ActionContext, args: Screenshare) -> Reply:
    """The setting is read first so that Undo can put it back: Stream's call settings are the
    only record of it. When it cannot be read (or is unchanged) there is no Undo."""
    previous = await _screenshare_mode(ctx, args.call)
    enabled, access_request, words = _MODES[args.mode]
    await ctx.stream.update_screensharing(
        args.call, enabled=enabled, access_request_enabled=access_request
    )
    text = f":desktop_computer: In {code(args.call.cid)} {words}."
    if previous is None:
        return Reply(text, no_undo="No Undo: Stream did not say what the setting was before.")
    if previous == args.mode:
        return Reply(text, no_undo=f"Nothing to undo: it was already {previous}.")
    return Reply(text, undo=f"screenshare {args.call.cid} {previous}")


async def _screenshare_mode(ctx: ActionContext, call: CallRef) -> str | None:
    try:
        return (await ctx.stream.get_call(call)).screenshare_mode
    except StreamAPIError:
        return None  # the change itself will say what is wrong with the call


SCREENSHARE = Command(
    name="screenshare",
    family="calls",
    usage="<call> on|off|request",
    summary="Allow, forbid or require approval for screen sharing in a call",
    min_role=Role.ADMIN,
    parse=_parse_screenshare,
    plan=lambda a: Plan(
        f"set screen sharing in {code(a.call.cid)} to {a.mode}",
        call=a.call.cid,
        detail=a.mode,
        kind=Kind.SCREENSHARE,
    ),
    run=_screenshare,
)

COMMANDS = (KICK, BLOCK, UNBLOCK, MUTE, MUTEALL, SCREENSHARE)
