"""/user: one person at a glance. Their Stream profile, their ban as Stream holds it, whom they
block, the live calls they are in, and their last cases with counts by kind; buttons for the
whole history, Ban… and (for an admin) Deactivate or Reactivate.

Each part is asked for separately: when one cannot be answered the card says so and shows the
rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, replace

from bot.cases.errors import CaseStoreError
from bot.core.context import ActionContext
from bot.core.dispatch import command_action
from bot.core.model import Plan, Reply, Role
from bot.core.parsing import user_argument
from bot.core.registry import Command
from bot.moderation.bans.render import ban_entry
from bot.moderation.history.render import case_line, counts_line, history_button
from bot.settings import Settings
from bot.slack import blocks
from bot.slack.blocks import Button, code, date_token, escape
from bot.stream import LiveCall, Participant, StreamAPIError, StreamUser
from commands.live_view import BAN_CHOICES_ACTION, FORM_ACTION
from commands.profiles import read_user

NAME_SHOWN = 80
BANS_SHOWN = 3
BLOCKS_SHOWN = 10
CASES_SHOWN = 5
# Finding someone's calls costs one participants query per live call (Stream cannot search
# participants across calls), so only the newest are checked, a few at a time.
CALLS_CHECKED = 20
CHECKS_AT_ONCE = 5


@dataclass(frozen=True)
class CardArgs:
    user: str
    profile: StreamUser | None = None  # filled in by the look-up


def _parse_user(text: str, settings: Settings) -> CardArgs:
    return CardArgs(user_argument(text, settings))


async def _look_up(ctx: ActionContext, args: CardArgs) -> CardArgs:
    return replace(args, profile=await read_user(ctx, args.user))


async def _card(ctx: ActionContext, args: CardArgs) -> Reply:
    profile = args.profile or await read_user(ctx, args.user)
    user = profile.id
    parts = await asyncio.gather(
        _part(_ban_lines(ctx, user)),
        _part(_block_lines(ctx, user)),
        _part(_call_lines(ctx, user)),
        _case_lines(ctx, user),
    )
    sections = [_profile_lines(profile), *parts]
    buttons = [
        history_button(user),
        Button("Ban…", BAN_CHOICES_ACTION, user),
        # The action form with the user filled in: mute, kick, grant or revoke in a call.
        Button("Moderate…", FORM_ACTION, blocks.encode_value({"a": "mute", "u": user})),
    ]
    if ctx.actor.role >= Role.ADMIN:
        buttons.append(_account_button(profile))
    layout = [blocks.section("\n".join(lines)) for lines in sections]
    layout.append(blocks.actions(buttons))
    text = "\n".join(line for lines in sections for line in lines)
    return Reply(text, blocks.to_dicts(layout))


def _account_button(profile: StreamUser) -> Button:
    """Runs /deactivate (which asks for confirmation) or /reactivate as the clicker."""
    if profile.deactivated:
        return Button("Reactivate", command_action(), f"reactivate {profile.id}")
    return Button("Deactivate", command_action(), f"deactivate {profile.id}", "danger")


async def _part(lines: Awaitable[list[str]]) -> list[str]:
    try:
        return await lines
    except StreamAPIError as error:
        return [f":x: {escape(error.sentence)}."]


def _profile_lines(profile: StreamUser) -> list[str]:
    name = code(profile.name, NAME_SHOWN) if profile.name else "_no name_"
    lines = [f":bust_in_silhouette: *{code(profile.id)}* · {name}"]
    facts = [f"role {code(profile.role)}" if profile.role else "no role"]
    if profile.created_at is not None:
        facts.append(f"created {date_token(profile.created_at)}")
    facts.append(":zzz: *deactivated*" if profile.deactivated else "active")
    facts.append(f"avatar {code(profile.image)}" if profile.image else "no avatar")
    lines.append(" · ".join(facts))
    return lines


async def _ban_lines(ctx: ActionContext, user: str) -> list[str]:
    bans = await ctx.stream.query_bans(user_id=user, limit=BANS_SHOWN)
    if not bans:
        return ["Not banned."]
    now = ctx.clock.time()
    entries = [ban_entry(ctx.bans.known_as(ban), now, ctx.bans.team_url) for ban in bans]
    return [":hammer: *Banned*", *entries]


async def _block_lines(ctx: ActionContext, user: str) -> list[str]:
    blocked = await ctx.stream.get_blocked_users(user)
    if not blocked:
        return ["Blocks no one."]
    shown = ", ".join(code(block.blocked_user_id) for block in blocked[:BLOCKS_SHOWN])
    more = len(blocked) - BLOCKS_SHOWN
    rest = f" and {more} more (`/blocked {escape(user)}`)" if more > 0 else ""
    return [f":no_bell: Blocks {shown}{rest}."]


async def _call_lines(ctx: ActionContext, user: str) -> list[str]:
    page = await ctx.stream.query_calls(ongoing=True, limit=CALLS_CHECKED)
    gate = asyncio.Semaphore(CHECKS_AT_ONCE)

    async def people_in(call: LiveCall) -> list[Participant] | None:
        async with gate:
            try:
                _, people, _ = await ctx.stream.query_call_participants(call.ref, user_ids=[user])
            except StreamAPIError:
                return None  # ended meanwhile, or Stream hiccuped: counted as unchecked below
        return people

    found = await asyncio.gather(*(people_in(call) for call in page.calls))
    lines = [
        _call_line(call, people) for call, people in zip(page.calls, found, strict=True) if people
    ]
    lines = [":movie_camera: *In live calls*", *lines] if lines else ["Not in a live call."]
    unchecked = sum(1 for people in found if people is None)
    if unchecked:
        calls = "1 live call" if unchecked == 1 else f"{unchecked} live calls"
        lines.append(f"_({calls} could not be checked.)_")
    if page.next is not None:
        lines.append(f"_(Only the {len(page.calls)} newest live calls were checked.)_")
    return lines


def _call_line(call: LiveCall, people: list[Participant]) -> str:
    line = f"• {code(call.cid)}"
    joined = [person.joined_at for person in people if person.joined_at is not None]
    if joined:
        line += f", joined {date_token(min(joined))}"
    if len(people) > 1:
        line += f", on {len(people)} devices"
    return line


async def _case_lines(ctx: ActionContext, user: str) -> list[str]:
    counts = await ctx.cases.counts(user)
    try:
        page = await ctx.cases.store.history_for_user(user, limit=CASES_SHOWN)
    except CaseStoreError:
        return ["_The case history cannot be read right now._"]
    header = f"*Cases* — {counts_line(counts) if counts is not None else 'counts unavailable'}"
    lines = [header, *(case_line(case) for case in page.cases)]
    if page.next_before is not None:
        lines.append(f"_(The {CASES_SHOWN} newest; History shows them all.)_")
    return lines


USER = Command(
    name="user",
    family="users",
    usage="<user>",
    summary="A user's card: profile, ban, blocks, live calls and last cases",
    min_role=Role.MODERATOR,
    parse=_parse_user,
    plan=lambda a: Plan(f"show the card of {code(a.user)}", target=a.user),
    run=_card,
    writes=False,
    look_up=_look_up,
)

COMMANDS = (USER,)
