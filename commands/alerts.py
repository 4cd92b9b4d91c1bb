"""Stream's moderation alerts: `/queue` lists the open ones with their buttons, `/report <user>
<call> <reason>` lets anyone flag a user through Stream's `flag` API (it comes back as a review
queue item, shown like any other alert). The cards themselves are bot/moderation/alerts.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.context import ActionContext
from bot.core.model import Click, Plan, Reply, Role
from bot.core.parsing import UsageError, parse_call, parse_user
from bot.core.registry import ButtonAction, Command
from bot.moderation.alerts import render
from bot.moderation.alerts.desk import AlertDesk
from bot.moderation.alerts.findings import USER_ENTITY
from bot.settings import Settings
from bot.slack.blocks import code, escape
from bot.stream import CallRef, StreamAPIError

QUEUE_PAGE_SIZE = 10  # a page is 1 + 2 or 3 blocks per alert + navigation, within Slack's 50
REPORT_REASON_LIMIT = 255  # Stream's flag reason
NO_DESK = ":warning: Stream alerts are not set up in this callmod; nothing was sent."


# /queue ---------------------------------------------------------------------------------------


def _parse_queue(text: str, settings: Settings) -> int:
    words = text.split()
    if not words:
        return 0
    if len(words) == 1 and words[0].isdigit() and int(words[0]) >= 1:
        return int(words[0]) - 1
    raise UsageError("the only argument is a page number, like `2`")


def _desk(ctx: ActionContext) -> AlertDesk | None:
    return ctx.alerts if isinstance(ctx.alerts, AlertDesk) else None


async def show_queue(desk: AlertDesk, page: int) -> Reply:
    """Stream's open review items are taken in first (those flagged while callmod was down or
    before a restart), then the page of open alerts, oldest first."""
    note = ""
    try:
        await desk.adopt_open_items()
    except StreamAPIError as error:
        note = (
            f"_(Stream's review queue could not be read: {escape(error.sentence)}; these are "
            "the alerts callmod received.)_"
        )
    alerts = await desk.all_open_alerts()
    pages = max(1, (len(alerts) + QUEUE_PAGE_SIZE - 1) // QUEUE_PAGE_SIZE)
    page = min(max(page, 0), pages - 1)
    shown = alerts[page * QUEUE_PAGE_SIZE : (page + 1) * QUEUE_PAGE_SIZE]
    text, blocks = render.queue_page(shown, page, QUEUE_PAGE_SIZE, len(alerts))
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return Reply(text, blocks)


async def _queue(ctx: ActionContext, page: int) -> Reply:
    desk = _desk(ctx)
    if desk is None:
        return Reply(NO_DESK)
    return await show_queue(desk, page)


QUEUE = Command(
    name="queue",
    family="alerts",
    usage="[page]",
    summary="Open Stream moderation alerts, oldest first, with their buttons",
    min_role=Role.MODERATOR,
    parse=_parse_queue,
    plan=lambda page: Plan("list open Stream alerts"),
    run=_queue,
    writes=False,
)


async def _queue_page_button(ctx: ActionContext, click: Click) -> Reply:
    desk = _desk(ctx)
    if desk is None:
        return Reply(NO_DESK)
    page = int(click.value) if click.value.isdigit() else 0
    return await show_queue(desk, page)


QUEUE_PAGE_BUTTON = ButtonAction(
    render.QUEUE_PAGE_ACTION, Role.MODERATOR, _queue_page_button, replace_original=True
)


# /report --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportArgs:
    user: str
    call: CallRef
    reason: str


def _parse_report(text: str, settings: Settings) -> ReportArgs:
    words = text.split(maxsplit=2)
    if len(words) < 3 or not words[2].strip():
        raise UsageError("name the user, the call and what happened")
    reason = " ".join(words[2].split())
    if len(reason) > REPORT_REASON_LIMIT:
        raise UsageError(
            f"the reason is {len(reason)} characters; Stream takes at most {REPORT_REASON_LIMIT}"
        )
    return ReportArgs(
        parse_user(words[0]), parse_call(words[1], settings.mod_default_call_type), reason
    )


def _report_plan(args: ReportArgs) -> Plan:
    return Plan(f"report {code(args.user)} in {code(args.call.cid)}", target=args.user)


async def _report(ctx: ActionContext, args: ReportArgs) -> Reply:
    desk = _desk(ctx)
    if desk is not None:
        wait = await desk.report_wait(ctx.actor.user_id)
        if wait is not None:
            minutes = max(1, round(wait / 60))
            return Reply(
                f":hourglass: You have sent several reports in the last few minutes; try again in "
                f"{minutes} minute{'s' if minutes != 1 else ''}. Nothing was sent.",
                outcome="denied",
            )
    reporter = ctx.actor
    await ctx.stream.flag(
        USER_ENTITY,
        args.user,
        user_id=ctx.settings.mod_stream_user_id,
        entity_creator_id=args.user,
        reason=args.reason,
        custom={
            "call_cid": args.call.cid,
            "slack_reporter": reporter.user_id,
            "source": "callmod /report",
        },
    )
    return Reply(
        f":triangular_flag_on_post: Thank you. Your report of {code(args.user)} in "
        f"{code(args.call.cid)} went to the moderators: “{escape(args.reason)}”"
    )


REPORT = Command(
    name="report",
    family="alerts",
    usage="<user> <call> <reason…>",
    summary="Report a user in a call to the moderators (anyone may)",
    min_role=Role.NONE,
    parse=_parse_report,
    plan=_report_plan,
    run=_report,
    writes=False,
)

COMMANDS = (QUEUE, REPORT)
BUTTONS = (QUEUE_PAGE_BUTTON,)
