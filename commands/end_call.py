"""/endcall: end a call for everyone in it (Stream's `mark_ended`); asks for confirmation first."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.cases.models import Kind
from bot.core.context import ActionContext
from bot.core.model import Plan, Reply, Role
from bot.core.parsing import UsageError, expect_count, parse_call, split_words
from bot.core.presets import REASON_LIMIT
from bot.core.registry import Command
from bot.settings import Settings
from bot.slack.blocks import code
from bot.stream import CallRef, StreamAPIError


@dataclass(frozen=True)
class EndCallArgs:
    call: CallRef
    reason: str | None
    people: int | None = None  # connected when it was looked up


def _parse_endcall(text: str, settings: Settings) -> EndCallArgs:
    words = split_words(text)
    expect_count(words.positional, 1)
    call = parse_call(words.positional[0], settings.mod_default_call_type)
    reason = " ".join(words.positional[1:]) or None
    if reason and len(reason) > REASON_LIMIT:
        raise UsageError(f"the reason is longer than {REASON_LIMIT} characters")
    return EndCallArgs(call, reason)


async def _look_up(ctx: ActionContext, args: EndCallArgs) -> EndCallArgs | Reply:
    try:
        call = await ctx.stream.get_call(args.call)
    except StreamAPIError as error:
        if error.status == 404:  # "call default:call-999 does not exist"
            raise UsageError(error.sentence) from None
        raise
    if call.ended_at is not None and call.participant_count == 0:
        return Reply(f"{code(args.call.cid)} has already ended; nothing was changed.")
    return replace(args, people=call.participant_count)


def _people(count: int) -> str:
    if count == 0:
        return "nobody in it"
    return "1 person in it" if count == 1 else f"{count} people in it"


def _plan(args: EndCallArgs) -> Plan:
    summary = f"end {code(args.call.cid)} for everyone"
    if args.people is not None:
        summary += f" ({_people(args.people)})"
    return Plan(summary, call=args.call.cid, reason=args.reason, kind=Kind.END_CALL)


async def _end_call(ctx: ActionContext, args: EndCallArgs) -> Reply:
    await ctx.stream.end_call(args.call)
    return Reply(
        f":octagonal_sign: {code(args.call.cid)} has ended for everyone; their apps are told to "
        "leave the call."
    )


ENDCALL = Command(
    name="endcall",
    family="calls",
    usage="<call> [reason…]",
    summary="End a call for everyone in it (asks for confirmation)",
    min_role=Role.ADMIN,
    parse=_parse_endcall,
    plan=_plan,
    run=_end_call,
    confirm=True,
    look_up=_look_up,
)

COMMANDS = (ENDCALL,)
