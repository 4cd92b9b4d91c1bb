"""Case history: `/cases <user>`, `/cases by <moderator>`, `/case <n>` and its amendments, and the
History button every announcement naming a user carries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.cases.errors import CaseAlreadyVoided, CaseNotFound
from bot.cases.models import Actor as CaseActor
from bot.cases.models import Case, CasePage
from bot.core.context import ActionContext
from bot.core.model import Click, Plan, Reply, Role
from bot.core.parsing import UsageError, expect_count, parse_user, split_words
from bot.core.registry import ButtonAction, Command
from bot.moderation.history.render import HISTORY_ACTION, case_detail, case_line, counts_line
from bot.settings import Settings
from bot.slack import blocks
from bot.slack.blocks import Button, code, escape, mention

PAGE_SIZE = 20  # a header, 20 sections and the buttons stay under Slack's 50 blocks
NOTE_LIMIT = 2000
CASES_PAGE_ACTION = "callmod_cases_page"
SLACK_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>")
SLACK_ID = re.compile(r"@?([UW][A-Z0-9]{2,})")
CASE_NUMBER = re.compile(r"#?([0-9]{1,18})")


# /cases ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryQuery:
    user: str | None = None  # a Stream user's history
    moderator: str | None = None  # or what a Slack moderator did


def parse_moderator(word: str) -> str:
    """`<@U0123|maria>` (how Slack sends a mention), `@U0123` or `U0123`."""
    match = SLACK_MENTION.fullmatch(word) or SLACK_ID.fullmatch(word)
    if match is None:
        raise UsageError(f"`{escape(word[:80])}` is not a Slack user (mention them: @maria)")
    return match.group(1)


def _parse_cases(text: str, settings: Settings) -> HistoryQuery:
    words = split_words(text)
    expect_count(words.positional, 1, 2)
    first, *rest = words.positional
    if first.lower() == "by":
        expect_count(rest, 1, 1)
        return HistoryQuery(moderator=parse_moderator(rest[0]))
    expect_count(rest, 0, 0)
    return HistoryQuery(user=parse_user(first))


def _history_plan(query: HistoryQuery) -> Plan:
    if query.moderator is not None:
        return Plan(f"list the cases of {mention(query.moderator)}")
    return Plan(f"list the cases of {code(query.user or '')}", target=query.user)


async def _page(ctx: ActionContext, query: HistoryQuery, before: int | None) -> CasePage:
    store = ctx.cases.store
    if query.moderator is not None:
        return await store.by_moderator(query.moderator, limit=PAGE_SIZE, before_number=before)
    return await store.history_for_user(query.user or "", limit=PAGE_SIZE, before_number=before)


async def show_history(ctx: ActionContext, query: HistoryQuery, before: int | None) -> Reply:
    page = await _page(ctx, query, before)
    if query.moderator is not None:
        whose = f"by {mention(query.moderator)}"
        header = f"*Cases {whose}*"
    else:
        whose = f"for {code(query.user or '')}"
        counts = await ctx.cases.store.counts_for_user(query.user or "")
        header = f"*History of {code(query.user or '')}* — {counts_line(counts)}"
    if not page.cases:
        return Reply(f"No cases {whose}." if before is None else f"No older cases {whose}.")
    if before is not None:
        header += f" (older than #{before})"
    lines = [case_line(case) for case in page.cases]
    parts = [blocks.section(header), *(blocks.section(line) for line in lines)]
    if page.next_before is not None:
        value = blocks.encode_value({"u": query.user, "m": query.moderator, "b": page.next_before})
        parts.append(blocks.actions([Button("Next page", CASES_PAGE_ACTION, value)]))
    return Reply("\n".join([header, *lines]), blocks.to_dicts(parts))


async def _list_cases(ctx: ActionContext, query: HistoryQuery) -> Reply:
    return await show_history(ctx, query, None)


CASES = Command(
    name="cases",
    family="cases",
    usage="<user> | by <@moderator>",
    summary="A user's case history (newest first), or every case a moderator recorded",
    min_role=Role.MODERATOR,
    parse=_parse_cases,
    plan=_history_plan,
    run=_list_cases,
    writes=False,
)


async def _history_button(ctx: ActionContext, click: Click) -> Reply:
    try:
        user = parse_user(click.value)
    except UsageError:
        return Reply(":warning: That History button names no valid user.")
    return await show_history(ctx, HistoryQuery(user=user), None)


async def _cases_page_button(ctx: ActionContext, click: Click) -> Reply:
    try:
        data = blocks.decode_value(click.value)
        raw_user, raw_moderator, before = data.get("u"), data.get("m"), data["b"]
        if not isinstance(before, int) or before < 1:
            raise ValueError("page out of range")
        query = HistoryQuery(
            user=parse_user(str(raw_user)) if raw_user is not None else None,
            moderator=parse_moderator(str(raw_moderator)) if raw_moderator is not None else None,
        )
        if (query.user is None) == (query.moderator is None):
            raise ValueError("a page names one user or one moderator")
    except (ValueError, KeyError, UsageError):
        return Reply(":warning: That button no longer works; run `/cases` again.")
    return await show_history(ctx, query, before)


HISTORY_BUTTON = ButtonAction(HISTORY_ACTION, Role.MODERATOR, _history_button)
CASES_PAGE_BUTTON = ButtonAction(
    CASES_PAGE_ACTION, Role.MODERATOR, _cases_page_button, replace_original=True
)


# /case -----------------------------------------------------------------------------------------

CaseAction = Literal["show", "note", "reason", "void"]
CASE_ACTIONS: tuple[CaseAction, ...] = ("note", "reason", "void")


@dataclass(frozen=True)
class CaseArgs:
    number: int
    action: CaseAction
    text: str | None


def _parse_case(text: str, settings: Settings) -> CaseArgs:
    word, _, rest = text.strip().partition(" ")
    match = CASE_NUMBER.fullmatch(word)
    if match is None:
        raise UsageError(
            "name a case by its number, e.g. `/case 41`"
            if not word
            else f"`{escape(word[:80])}` is not a case number"
        )
    number = int(match.group(1))
    action_word, _, words = rest.strip().partition(" ")
    if not action_word:
        return CaseArgs(number, "show", None)
    action = action_word.lower()
    if action not in CASE_ACTIONS:
        raise UsageError(f"`{escape(action_word[:80])}` is not one of note, reason or void")
    words = words.strip()
    if not words:
        raise UsageError(f"say what the {action} is")
    if len(words) > NOTE_LIMIT:
        raise UsageError(f"the {action} is longer than {NOTE_LIMIT} characters")
    return CaseArgs(number, action, words)


def _case_plan(args: CaseArgs) -> Plan:
    verb = {
        "show": "show",
        "note": "add a note to",
        "reason": "change the reason of",
        "void": "void",
    }[args.action]
    return Plan(f"{verb} case #{args.number}", reason=args.text if args.action != "note" else None)


def _case_role(args: CaseArgs) -> Role:
    return Role.ADMIN if args.action == "void" else Role.MODERATOR


async def _case(ctx: ActionContext, args: CaseArgs) -> Reply:
    store = ctx.cases.store
    author = CaseActor(ctx.actor.user_id, ctx.actor.user_name)
    case = await store.get(args.number)
    if case is None:
        return _no_such_case(args.number)
    if args.action == "show":
        return _shown(case)
    if args.action == "note":
        await store.add_note(case.number, author, args.text or "")
        return Reply(f":memo: Noted on case #{case.number}.")
    if args.action == "void":
        try:
            await store.void(case.number, author, args.text or "")
        except CaseAlreadyVoided:
            return Reply(f"Case #{case.number} was already voided; nothing was changed.")
        return Reply(f":wastebasket: Case #{case.number} is void; it stays in the history, marked.")
    return await _amend_reason(ctx, case, author, args.text or "")


async def _amend_reason(ctx: ActionContext, case: Case, author: CaseActor, reason: str) -> Reply:
    mine = case.moderator is not None and case.moderator.id == ctx.actor.user_id
    if not mine and ctx.actor.role < Role.ADMIN:
        return Reply(
            f":lock: Case #{case.number} was recorded by "
            f"{mention(case.moderator.id) if case.moderator else 'Stream, outside Slack'}; you "
            "need the *admin* role to change another moderator's case. Nothing was changed.",
            outcome="denied",
        )
    try:
        amended = await ctx.cases.store.amend_reason(case.number, author, reason)
    except CaseNotFound:
        return _no_such_case(case.number)
    shown = await ctx.cases.republish(amended)
    text = f":pencil2: The reason of case #{case.number} is now: {escape(reason)}"
    if shown.edited:
        text += f"\n_(Updated the {_messages(shown.edited)} that announced it.)_"
    if shown.failed:
        text += f"\n_({_messages(shown.failed).capitalize()} could not be edited in Slack.)_"
    return Reply(text)


def _messages(count: int) -> str:
    return "message" if count == 1 else f"{count} messages"


def _shown(case: Case) -> Reply:
    text = case_detail(case)
    parts = [blocks.section(text)]
    if case.target_user_id:
        parts.append(blocks.actions([Button("History", HISTORY_ACTION, case.target_user_id)]))
    return Reply(text, blocks.to_dicts(parts))


def _no_such_case(number: int) -> Reply:
    return Reply(
        f":warning: There is no case #{number}; nothing was changed.\n"
        f"Usage: `{escape(CASE.usage_line)}`",
        outcome="usage",
    )


CASE = Command(
    name="case",
    family="cases",
    usage="<n> [note <text> | reason <text> | void <why>]",
    summary="Show a case with its notes; add a note, amend its reason, or void it (admin)",
    min_role=Role.MODERATOR,
    parse=_parse_case,
    plan=_case_plan,
    run=_case,
    writes=False,  # amendments are kept in the case itself, with author and time
    required_role=_case_role,
)

COMMANDS = (CASES, CASE)
BUTTONS = (HISTORY_BUTTON, CASES_PAGE_BUTTON)
