"""Ban records as Slack text, written once: the notification, its closing line, the expiry line
and the one-line entry of `/bans`. Records hold data; only this module turns them into mrkdwn."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.model import Actor
from bot.core.parsing import format_duration
from bot.moderation.bans.record import BanRecord, Closure, ClosureKind, StreamActor
from bot.moderation.history.render import history_button
from bot.slack import blocks
from bot.slack.blocks import Button, code, date_token, escape, mention, truncate

UNBAN_ACTION = "callmod_unban"
REASON_SHOWN = 200  # characters of a reason shown in /bans (the notification has all of it)


def who(actor: Actor | StreamActor | None) -> str:
    """A Slack moderator as a mention, callmod's own Stream user as "callmod", anyone else by
    their Stream id."""
    if isinstance(actor, Actor):
        return mention(actor.user_id)
    if actor is None or actor.stream_user_id is None:
        return "someone in Stream"
    if actor.is_callmod:
        return "callmod"
    return f"{code(actor.stream_user_id)} in Stream"


def closure_text(closure: Closure) -> str:
    at = date_token(closure.at)
    match closure.kind:
        case ClosureKind.UNBANNING:
            return f"Being unbanned by {who(closure.by)}"
        case ClosureKind.UNBANNED if isinstance(closure.by, StreamActor) and not closure.by.known:
            return f"Unbanned by Stream at {at}"
        case ClosureKind.UNBANNED:
            return f"Unbanned by {who(closure.by)} at {at}"
        case ClosureKind.EXPIRED:
            return f"Expired at {at}"
        case ClosureKind.REPLACED:
            return f"Replaced by a newer ban at {at}"


def ban_length(record: BanRecord) -> str:
    """ "for 2h" or "permanently"."""
    if record.expires_at is None:
        return "permanently"
    minutes = round((record.expires_at - record.created_at) / 60)
    return f"for {format_duration(timedelta(minutes=minutes))}"


def notification(record: BanRecord) -> tuple[str, list[dict[str, Any]]]:
    """The ban message in the log channel: an Unban button while the ban is open, the closing
    status instead once it is not."""
    ip = " *by IP*" if record.ip_ban else ""
    length = ban_length(record)
    if record.expires_at is not None:
        length += f", until {date_token(record.expires_at)}"
    text = f":hammer: {code(record.user_id)} was banned{ip} by {who(record.banned_by)} {length}."
    lines = [text, f"Reason: {escape(record.reason) if record.reason else '_none given_'}"]
    parts = [blocks.section("\n".join(lines))]
    about = [f"Case #{record.case_number}"] if record.case_number is not None else []
    if record.history:
        about.append(record.history)
    if about:
        parts.append(blocks.context(" · ".join(about)))
    buttons = [history_button(record.user_id)]
    if record.closure is None:
        buttons.insert(0, Button("Unban", UNBAN_ACTION, record.user_id, "danger"))
    else:
        closed = closure_text(record.closure)
        parts.append(blocks.context(closed))
        text = f"{text} {closed}."
    parts.append(blocks.actions(buttons, block_id=f"ban:{record.user_id}"[:255]))
    return text, blocks.to_dicts(parts)


def lifted_notification(user_id: str, closure: Closure) -> tuple[str, list[dict[str, Any]]]:
    """A notification callmod no longer tracks (posted before a restart), closed by an unban."""
    text = f":dove_of_peace: The ban of {code(user_id)} is lifted."
    how = closure_text(closure)
    return f"{text} {how}.", blocks.to_dicts([blocks.section(text), blocks.context(how)])


def expiry_line(record: BanRecord, expired_at: float) -> str:
    if record.lapsed_offline:
        return (
            f":hourglass: The ban of {code(record.user_id)} expired while callmod was offline "
            f"({date_token(expired_at)})."
        )
    return f":hourglass: The ban of {code(record.user_id)} has expired."


def permalink(team_url: str, channel: str, ts: str) -> str:
    """A Slack message's permalink, as chat.getPermalink makes it, without a call per line."""
    return f"{team_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"


def closure_line(record: BanRecord) -> str:
    """When the notification cannot be edited: a fresh line saying how the ban ended."""
    how = closure_text(record.closure) if record.closure else "Ended"
    return f":dove_of_peace: The ban of {code(record.user_id)} is over: {how}."


def ban_entry(record: BanRecord, now: float, team_url: str | None = None) -> str:
    """One line of `/bans`: who, how long is left, why, by whom, and callmod's case and
    notification when it has them."""
    line = f"• {code(record.user_id)}"
    if record.expires_at is None:
        line += " — permanent"
    else:
        left = timedelta(seconds=max(60.0, record.expires_at - now))
        line += f" — {format_duration(left)} left (until {date_token(record.expires_at)})"
    if record.reason:
        line += f" — {escape(truncate(record.reason, REASON_SHOWN))}"
    line += f" — by {who(record.banned_by)}"
    if record.case_number is not None:
        case = f"Case #{record.case_number}"
        if team_url and record.channel and record.message_ts:
            case = f"<{permalink(team_url, record.channel, record.message_ts)}|{case}>"
        line += f" · {case}"
    return line
