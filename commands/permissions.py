"""Grant and revoke a user's send-audio / send-video / screenshare permission on a call."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cases.models import Kind
from bot.core.context import ActionContext
from bot.core.model import Plan, Reply, Role
from bot.core.parsing import (
    PERMISSION_WORDS,
    describe_permissions,
    expect_count,
    parse_call,
    parse_permissions,
    parse_user,
    split_words,
)
from bot.core.registry import Command
from bot.settings import Settings
from bot.slack.blocks import code
from bot.stream import CallRef, Permission


@dataclass(frozen=True)
class PermissionChange:
    user: str
    call: CallRef
    permissions: tuple[Permission, ...]


def _parse(text: str, settings: Settings) -> PermissionChange:
    words = split_words(text)
    expect_count(words.positional, 3)
    return PermissionChange(
        parse_user(words.positional[0]),
        parse_call(words.positional[1], settings.mod_default_call_type),
        parse_permissions(words.positional[2:]),
    )


def _grant_plan(a: PermissionChange) -> Plan:
    return Plan(
        f"let {code(a.user)} {describe_permissions(a.permissions)} in {code(a.call.cid)}",
        target=a.user,
        call=a.call.cid,
        detail=", ".join(a.permissions),
        kind=Kind.GRANT,
    )


def _revoke_plan(a: PermissionChange) -> Plan:
    return Plan(
        f"stop {code(a.user)} from being able to {describe_permissions(a.permissions)} "
        f"in {code(a.call.cid)}",
        target=a.user,
        call=a.call.cid,
        detail=", ".join(a.permissions),
        kind=Kind.REVOKE,
    )


async def _grant(ctx: ActionContext, a: PermissionChange) -> Reply:
    await ctx.stream.update_user_permissions(a.call, a.user, grant=a.permissions)
    return Reply(
        f":white_check_mark: {code(a.user)} may now {describe_permissions(a.permissions)} "
        f"in {code(a.call.cid)}.",
        undo=_line("revoke", a),
    )


async def _revoke(ctx: ActionContext, a: PermissionChange) -> Reply:
    await ctx.stream.update_user_permissions(a.call, a.user, revoke=a.permissions)
    return Reply(
        f":no_entry_sign: {code(a.user)} can no longer {describe_permissions(a.permissions)} "
        f"in {code(a.call.cid)}.",
        undo=_line("grant", a),
    )


_WORDS = {permission: word for word, permission in PERMISSION_WORDS.items()}


def _line(command: str, a: PermissionChange) -> str:
    """The command line that reverses `a` (Undo), permissions as the grammar reads them."""
    return f"{command} {a.user} {a.call.cid} {' '.join(_WORDS[p] for p in a.permissions)}"


GRANT = Command(
    name="grant",
    family="permissions",
    usage="<user> <call> <audio|video|screenshare>…",
    summary="Let a user speak, share video or share their screen in a call",
    min_role=Role.MODERATOR,
    parse=_parse,
    plan=_grant_plan,
    run=_grant,
)

REVOKE = Command(
    name="revoke",
    family="permissions",
    usage="<user> <call> <audio|video|screenshare>…",
    summary="Take away a user's right to speak, share video or share their screen",
    min_role=Role.MODERATOR,
    parse=_parse,
    plan=_revoke_plan,
    run=_revoke,
)

COMMANDS = (GRANT, REVOKE)
