"""Cases as Slack text, written once: one line per case, a whole case with its notes, counts by
kind ("3 bans, 5 mutes, 1 kick"), the "3rd ban; 7 earlier cases" of a notification, and the
History button every message naming a user carries."""

from __future__ import annotations

from typing import Any

from bot.cases import Case, Kind, NoteKind, Outcome, Source
from bot.cases.models import Actor as CaseActor
from bot.core.audit import audit_line
from bot.core.model import Actor, Plan, Role
from bot.slack import blocks
from bot.slack.blocks import Button, code, date_token, escape, mention, truncate

HISTORY_ACTION = "callmod_history"
REASON_SHOWN = 200
UNDONE_BY = "Undone by #"  # the note an Undo leaves on the case it reversed

# Singular and plural, in the order counts are listed.
KIND_WORDS: dict[Kind, tuple[str, str]] = {
    Kind.BAN: ("ban", "bans"),
    Kind.UNBAN: ("unban", "unbans"),
    Kind.BAN_EXPIRED: ("expired ban", "expired bans"),
    Kind.KICK: ("kick", "kicks"),
    Kind.BLOCK: ("block", "blocks"),
    Kind.UNBLOCK: ("unblock", "unblocks"),
    Kind.MUTE: ("mute", "mutes"),
    Kind.MUTE_ALL: ("mute of everyone", "mutes of everyone"),
    Kind.SCREENSHARE: ("screen-share change", "screen-share changes"),
    Kind.GRANT: ("grant", "grants"),
    Kind.REVOKE: ("revoke", "revokes"),
    Kind.DEACTIVATE: ("deactivation", "deactivations"),
    Kind.REACTIVATE: ("reactivation", "reactivations"),
    Kind.USER_BLOCK: ("user block", "user blocks"),
    Kind.USER_UNBLOCK: ("user unblock", "user unblocks"),
    Kind.REQUEST_APPROVED: ("approved request", "approved requests"),
    Kind.REQUEST_DENIED: ("denied request", "denied requests"),
    Kind.END_CALL: ("ended call", "ended calls"),
    Kind.RENAME: ("rename", "renames"),
    Kind.CLEAR_AVATAR: ("avatar cleared", "avatars cleared"),
    Kind.PERMISSIONS: ("permission change", "permission changes"),
}

AUDIT_RESULTS = {
    Outcome.DONE: ":white_check_mark: done",
    Outcome.FAILED: ":x: failed (nothing was changed)",
    Outcome.MAYBE_APPLIED: ":x: failed (may have been applied)",
}

OUTCOME_WORDS = {
    Outcome.DONE: "",
    Outcome.FAILED: " · _failed, nothing changed_",
    Outcome.MAYBE_APPLIED: " · _may have been applied_",
}


def history_button(user_id: str, named: bool = False) -> Button:
    """`named` when a message names several users: "History of sara"."""
    return Button(f"History of {user_id}" if named else "History", HISTORY_ACTION, user_id)


def plural(count: int, kind: Kind) -> str:
    one, many = KIND_WORDS[kind]
    return f"{count} {one if count == 1 else many}"


def counts_line(counts: dict[Kind, int]) -> str:
    """ "3 bans, 5 mutes, 1 kick" — most serious first, as KIND_WORDS orders them."""
    parts = [plural(counts[kind], kind) for kind in KIND_WORDS if counts.get(kind)]
    return ", ".join(parts) if parts else "no cases"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def earlier_text(kind: Kind, counts: dict[Kind, int]) -> str:
    """For a new case of `kind` already counted in `counts`: "3rd ban; 7 earlier cases"."""
    earlier = sum(counts.values()) - 1
    if earlier <= 0:
        cases = "no earlier cases"
    else:
        cases = f"{earlier} earlier case{'s' if earlier > 1 else ''}"
    return f"{ordinal(max(1, counts.get(kind, 1)))} {KIND_WORDS[kind][0]}; {cases}"


def by_whom(case: Case) -> str:
    if case.moderator is not None:
        return mention(case.moderator.id)
    return "Stream (outside Slack)" if case.source is Source.STREAM else "callmod"


def what(case: Case) -> str:
    """The case's summary (mrkdwn the command wrote), or its kind and target in words."""
    if case.detail:
        return case.detail
    target = f" {code(case.target_user_id)}" if case.target_user_id else ""
    call = f" in {code(case.call_cid)}" if case.call_cid else ""
    return f"{KIND_WORDS[case.kind][0]}{target}{call}"


def case_line(case: Case) -> str:
    line = f"*#{case.number}* · {date_token(case.created_at)} · {what(case)} · by {by_whom(case)}"
    if case.reason:
        line += f" · reason: {escape(truncate(case.reason, REASON_SHOWN))}"
    line += OUTCOME_WORDS[case.outcome]
    if case.voided is not None:
        line = f"~{line}~ _voided_"
    return line


def _author(author: CaseActor) -> str:
    return mention(author.id)


def case_detail(case: Case) -> str:
    """The whole case: every field, then its notes and amendments oldest first."""
    lines = [f"*Case #{case.number}* · {KIND_WORDS[case.kind][0]}"]
    lines.append(f"What: {what(case)}")
    lines.append(f"By: {by_whom(case)} at {date_token(case.created_at)}")
    if case.target_user_id:
        lines.append(f"User: {code(case.target_user_id)}")
    if case.call_cid:
        lines.append(f"Call: {code(case.call_cid)}")
    lines.append(f"Reason: {escape(case.reason) if case.reason else '_none given_'}")
    if case.expires_at is not None:
        lines.append(f"Until: {date_token(case.expires_at)}")
    result = OUTCOME_WORDS[case.outcome].removeprefix(" · ") or "done"
    lines.append(f"Result: {result}")
    if case.voided is not None:
        lines.append(
            f":no_entry: Voided by {_author(case.voided.by)} at {date_token(case.voided.at)}: "
            f"{escape(case.voided.why)}"
        )
    for note in case.notes:
        when = date_token(note.created_at)
        if note.kind is NoteKind.REASON_CHANGED:
            old = escape(note.old_value) if note.old_value else "_none_"
            lines.append(
                f"• {when} {_author(note.author)} changed the reason from {old} to "
                f"{escape(note.text)}"
            )
        elif note.kind is NoteKind.NOTE:
            lines.append(f"• {when} {_author(note.author)}: {escape(note.text)}")
    return "\n".join(lines)


def undone_text(case: Case) -> str:
    """ " · undone by @tom (Case #42)" once an Undo reversed the case (its note says so)."""
    for note in case.notes:
        if note.kind is NoteKind.NOTE and note.text.startswith(UNDONE_BY):
            number = note.text.removeprefix(UNDONE_BY)
            if number.isdigit():
                return f" · undone by {_author(note.author)} (Case #{number})"
    return ""


def audit_message(case: Case) -> tuple[str, list[dict[str, Any]]]:
    """A case's audit line as the dispatcher posts it, re-rendered from the case (after its
    reason was amended)."""
    moderator = case.moderator or CaseActor("", "")
    actor = Actor(moderator.id, moderator.name, Role.NONE)
    plan = Plan(what(case), reason=case.reason)
    result = AUDIT_RESULTS[case.outcome] + undone_text(case)
    text = audit_line(actor, plan, result, f"Case #{case.number}")
    parts = [blocks.section(text)]
    if case.target_user_id:
        parts.append(blocks.actions([history_button(case.target_user_id)]))
    return text, blocks.to_dicts(parts)
