"""Whole-account actions: deactivate, reactivate, and user-to-user blocks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.cases.models import Kind
from bot.core.context import ActionContext
from bot.core.model import Plan, Reply, Role
from bot.core.parsing import expect_count, one_user, parse_user, split_words, user_argument
from bot.core.registry import Command
from bot.settings import Settings
from bot.slack.blocks import code, date_token


@dataclass(frozen=True)
class AccountChange:
    user: str
    messages: bool  # --delete-messages / --restore-messages


def _account_change(flag: str) -> Callable[[str, Settings], AccountChange]:
    def parse(text: str, settings: Settings) -> AccountChange:
        user, words = one_user(text, (flag,))
        return AccountChange(user, words.flag(flag))

    return parse


async def _deactivate(ctx: ActionContext, a: AccountChange) -> Reply:
    await ctx.stream.deactivate_user(
        a.user, created_by_id=ctx.settings.mod_stream_user_id, mark_messages_deleted=a.messages
    )
    also = " Their messages are marked deleted." if a.messages else ""
    restore = " --restore-messages" if a.messages else ""
    return Reply(
        f":zzz: {code(a.user)} is deactivated and can no longer connect.{also}",
        undo=f"reactivate {a.user}{restore}",
    )


async def _reactivate(ctx: ActionContext, a: AccountChange) -> Reply:
    await ctx.stream.reactivate_user(
        a.user, created_by_id=ctx.settings.mod_stream_user_id, restore_messages=a.messages
    )
    also = " Their messages are restored." if a.messages else ""
    return Reply(f":sunrise: {code(a.user)} is active again.{also}")


DEACTIVATE = Command(
    name="deactivate",
    family="users",
    usage="<user> [--delete-messages]",
    summary="Deactivate a user's account (asks for confirmation)",
    min_role=Role.ADMIN,
    parse=_account_change("--delete-messages"),
    plan=lambda a: Plan(
        f"deactivate {code(a.user)}" + (" and mark their messages deleted" if a.messages else ""),
        target=a.user,
        kind=Kind.DEACTIVATE,
    ),
    run=_deactivate,
    confirm=True,
)

REACTIVATE = Command(
    name="reactivate",
    family="users",
    usage="<user> [--restore-messages]",
    summary="Reactivate a deactivated account",
    min_role=Role.ADMIN,
    parse=_account_change("--restore-messages"),
    plan=lambda a: Plan(
        f"reactivate {code(a.user)}" + (" and restore their messages" if a.messages else ""),
        target=a.user,
        kind=Kind.REACTIVATE,
    ),
    run=_reactivate,
)


# user-to-user blocks -------------------------------------------------------------------------


@dataclass(frozen=True)
class UserPair:
    user: str
    blocked: str


def _parse_pair(text: str, settings: Settings) -> UserPair:
    words = split_words(text)
    expect_count(words.positional, 2, 2)
    return UserPair(parse_user(words.positional[0]), parse_user(words.positional[1]))


async def _userblock(ctx: ActionContext, a: UserPair) -> Reply:
    await ctx.stream.block_users(a.user, a.blocked)
    return Reply(
        f":no_bell: {code(a.user)} has blocked {code(a.blocked)}: no more rings or "
        "notifications from them.",
        undo=f"userunblock {a.user} {a.blocked}",
    )


async def _userunblock(ctx: ActionContext, a: UserPair) -> Reply:
    await ctx.stream.unblock_users(a.user, a.blocked)
    return Reply(
        f":bell: {code(a.user)} no longer blocks {code(a.blocked)}.",
        undo=f"userblock {a.user} {a.blocked}",
    )


USERBLOCK = Command(
    name="userblock",
    family="users",
    usage="<user> <blocked-user>",
    summary="Make one user block another (no rings or notifications)",
    min_role=Role.ADMIN,
    parse=_parse_pair,
    plan=lambda a: Plan(
        f"make {code(a.user)} block {code(a.blocked)}",
        target=a.blocked,
        kind=Kind.USER_BLOCK,
    ),
    run=_userblock,
)

USERUNBLOCK = Command(
    name="userunblock",
    family="users",
    usage="<user> <blocked-user>",
    summary="Undo a user-to-user block",
    min_role=Role.ADMIN,
    parse=_parse_pair,
    plan=lambda a: Plan(
        f"make {code(a.user)} unblock {code(a.blocked)}",
        target=a.blocked,
        kind=Kind.USER_UNBLOCK,
    ),
    run=_userunblock,
)


async def _blocked(ctx: ActionContext, user: str) -> Reply:
    blocks = await ctx.stream.get_blocked_users(user)
    if not blocks:
        return Reply(f"{code(user)} has not blocked anyone.")
    lines = [f"*{code(user)} blocks {len(blocks)} user{'s' if len(blocks) != 1 else ''}*"]
    for block in blocks[:50]:
        since = f" since {date_token(block.created_at)}" if block.created_at else ""
        lines.append(f"• {code(block.blocked_user_id)}{since}")
    return Reply("\n".join(lines))


BLOCKED = Command(
    name="blocked",
    family="users",
    usage="<user>",
    summary="List the users someone has blocked",
    min_role=Role.ADMIN,
    parse=user_argument,
    plan=lambda user: Plan(f"list the users {code(user)} blocks", target=user),
    run=_blocked,
    writes=False,
)

COMMANDS = (DEACTIVATE, REACTIVATE, USERBLOCK, USERUNBLOCK, BLOCKED)
