"""Names and avatars, which abusers use too: /rename and /clearavatar.

Each reads the user first, so the case keeps what was replaced: its "What" reads
"rename `sara` to `user-1234` (was `<the old name>`)", in the audit line, `/cases` and `/case n`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.cases.models import Kind
from bot.core.context import ActionContext
from bot.core.model import Plan, Reply, Role
from bot.core.parsing import UsageError, parse_user, user_argument
from bot.core.registry import Command
from bot.settings import Settings
from bot.slack.blocks import code
from bot.stream import StreamUser

# A name is shown on every participant tile; Stream documents no limit, callmod sets this one.
NAME_LIMIT = 100
# Characters of the replaced name or avatar URL the case keeps (a longer one is cut, marked …).
OLD_VALUE_KEPT = 300


async def read_user(ctx: ActionContext, user: str) -> StreamUser:
    """The user's Stream profile; a `UsageError` when Stream has no such user."""
    profile = await ctx.stream.get_user(user)
    if profile is None:
        raise UsageError(f'user "{user}" was not found')
    return profile


# /rename ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenameArgs:
    user: str
    name: str
    old_name: str | None = None
    looked_up: bool = False


def _parse_rename(text: str, settings: Settings) -> RenameArgs:
    word, _, rest = text.strip().partition(" ")
    if not word:
        raise UsageError("some arguments are missing")
    user = parse_user(word)
    name = " ".join(rest.split())  # one line, single spaces, as a tile shows it
    if not name:
        raise UsageError("say what the new name is")
    if len(name) > NAME_LIMIT:
        raise UsageError(f"the new name is longer than {NAME_LIMIT} characters")
    return RenameArgs(user, name)


async def _look_up_rename(ctx: ActionContext, args: RenameArgs) -> RenameArgs | Reply:
    profile = await read_user(ctx, args.user)
    if profile.name == args.name:
        return Reply(
            f"{code(args.user)} is already named {code(args.name, NAME_LIMIT)}; "
            "nothing was changed."
        )
    return replace(args, old_name=profile.name, looked_up=True)


def _rename_plan(args: RenameArgs) -> Plan:
    summary = f"rename {code(args.user)} to {code(args.name, NAME_LIMIT)}"
    if args.looked_up:
        was = code(args.old_name, OLD_VALUE_KEPT) if args.old_name else "no name"
        summary += f" (was {was})"
    return Plan(summary, target=args.user, detail=args.name, kind=Kind.RENAME)


async def _rename(ctx: ActionContext, args: RenameArgs) -> Reply:
    await ctx.stream.update_user(args.user, set_fields={"name": args.name})
    was = code(args.old_name, OLD_VALUE_KEPT) if args.old_name else "no name"
    return Reply(
        f":label: {code(args.user)} is now named {code(args.name, NAME_LIMIT)} (was {was}). "
        "People already in a call may see the old name until they rejoin."
    )


RENAME = Command(
    name="rename",
    family="users",
    usage="<user> <new name>",
    summary=f"Change a user's display name (at most {NAME_LIMIT} characters)",
    min_role=Role.ADMIN,
    parse=_parse_rename,
    plan=_rename_plan,
    run=_rename,
    look_up=_look_up_rename,
)


# /clearavatar ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AvatarArgs:
    user: str
    old_image: str | None = None


def _parse_clearavatar(text: str, settings: Settings) -> AvatarArgs:
    return AvatarArgs(user_argument(text, settings))


async def _look_up_avatar(ctx: ActionContext, args: AvatarArgs) -> AvatarArgs | Reply:
    profile = await read_user(ctx, args.user)
    if profile.image is None:
        return Reply(f"{code(args.user)} has no avatar; nothing was changed.")
    return replace(args, old_image=profile.image)


def _avatar_plan(args: AvatarArgs) -> Plan:
    summary = f"clear the avatar of {code(args.user)}"
    if args.old_image:
        summary += f" (was {code(args.old_image, OLD_VALUE_KEPT)})"
    return Plan(summary, target=args.user, kind=Kind.CLEAR_AVATAR)


async def _clear_avatar(ctx: ActionContext, args: AvatarArgs) -> Reply:
    await ctx.stream.update_user(args.user, unset=["image"])
    return Reply(f":frame_with_picture: The avatar of {code(args.user)} is cleared.")


CLEARAVATAR = Command(
    name="clearavatar",
    family="users",
    usage="<user>",
    summary="Remove a user's avatar image",
    min_role=Role.ADMIN,
    parse=_parse_clearavatar,
    plan=_avatar_plan,
    run=_clear_avatar,
    look_up=_look_up_avatar,
)

COMMANDS = (RENAME, CLEARAVATAR)
