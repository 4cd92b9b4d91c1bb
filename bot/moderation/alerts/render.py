"""Alert cards, the flood digest and `/queue` pages as Slack text and Block Kit.

Everything Stream sends is user-controlled (matched captions, names, reasons): it is cut to a
bounded length, put on one line and escaped. A frame link is shown only when it is https to a
host Stream serves files from; anything else is named, never linked (and nothing is unfurled).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from bot.core.dispatch import command_action
from bot.moderation.alerts.findings import CALL_ENTITY, KIND_PHRASES, FindingKind
from bot.moderation.alerts.record import Alert, Status
from bot.moderation.history.render import history_button
from bot.slack import blocks
from bot.slack.blocks import Button, Choice, Confirm, Menu, code, date_token, escape, mention

MUTE_ACTION = "callmod_alert_mute"
KICK_ACTION = "callmod_alert_kick"
REVIEW_ACTION = "callmod_alert_review"
END_ACTION = "callmod_alert_end"
END_CONFIRM_ACTION = "callmod_alert_end_confirm"
QUEUE_PAGE_ACTION = "callmod_alert_queue_page"
BAN_ACTION = "callmod_ban_choices"  # the roster's Ban…: the ban form (bot/slack/forms.py)

TEXT_LIMIT = 300  # characters of one matched text on a card
NAME_LIMIT = 80
# ⚠ Where Stream serves keyframes is not documented; these are its API, CDN and the storage
# its recordings use. Any other host is shown as text, never linked.
IMAGE_HOST_SUFFIXES = (
    "getstream.io",
    "stream-io-api.com",
    "stream-io-cdn.com",
    "stream-io-video.com",
    "amazonaws.com",
    "cloudfront.net",
)
IMAGE_URL_LIMIT = 1000
MUTE_CHOICES = (
    ("Mute audio", "audio"),
    ("Mute video", "video"),
    ("Stop screen share", "screenshare"),
    ("Mute everything", "all"),
)


def one_line(text: str, limit: int) -> str:
    """User text for a card: whitespace folded to single spaces, cut, escaped."""
    return escape(blocks.truncate(" ".join(text.split()), limit))


def safe_image_url(url: str) -> str | None:
    """The URL when it may be linked: https, a known Stream host, no credentials or port
    tricks, nothing that would break out of a mrkdwn link."""
    if len(url) > IMAGE_URL_LIMIT or any(c in url for c in "<>|\" \n\t"):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host or parts.username or parts.password:
        return None
    if port not in (None, 443) or not host.isascii():
        return None
    try:
        ipaddress.ip_address(host)
        return None  # an address, not a name
    except ValueError:
        pass
    if not any(host == s or host.endswith("." + s) for s in IMAGE_HOST_SUFFIXES):
        return None
    return url


def who(alert: Alert) -> str:
    if alert.user_id is None:
        return "A call"
    name = " ".join((alert.user_name or "").split())
    if name and name != alert.user_id:
        return f"{escape(blocks.truncate(name, NAME_LIMIT))} ({code(alert.user_id)})"
    return code(alert.user_id)


def where(alert: Alert) -> str:
    return f" in {code(alert.call_cid)}" if alert.call_cid else ""


def headline(alert: Alert) -> str:
    kinds = sorted(alert.kinds, key=lambda kind: -alert.kinds[kind])
    what = KIND_PHRASES[kinds[0]] if kinds else "flagged"
    return f"{who(alert)}{where(alert)}: {what}"


def card(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    """The alert's own message."""
    count = f" · {alert.hits} hits since {date_token(alert.opened_at)}" if alert.hits > 1 else ""
    header = f":rotating_light: *Stream alert* · {headline(alert)}{count}"
    parts: list[blocks.Part] = [blocks.section(header), blocks.section(details(alert))]
    parts += status_blocks(alert)
    return f":rotating_light: Stream alert: {headline(alert)}", blocks.to_dicts(parts)


def details(alert: Alert) -> str:
    lines: list[str] = []
    if len(alert.kinds) > 1:
        seen = ", ".join(f"{KIND_PHRASES[k]} ×{n}" for k, n in alert.kinds.items())
        lines.append(f"*Seen:* {seen}")
    if alert.rules:
        lines.append("*Rule:* " + ", ".join(one_line(rule, 100) for rule in alert.rules[-3:]))
    labels = [one_line(label, 40) for label in alert.labels[-8:]]
    if alert.severity and alert.severity != "0":
        labels.append(f"severity {one_line(alert.severity, 20)}")
    if labels:
        lines.append("*Labels:* " + ", ".join(labels))
    said = alert.messages[-1] if alert.messages else None
    if said and not any(rule.startswith(said) for rule in alert.rules):  # not the rule again
        lines.append("*Said:* " + one_line(said, TEXT_LIMIT))
    for text in alert.texts:
        lines.append("> " + one_line(text, TEXT_LIMIT))
    for n, url in enumerate(alert.images, start=1):
        safe = safe_image_url(url)
        if safe is not None:
            lines.append(f"<{safe}|Frame {n}> _(link, not shown here)_")
        else:
            lines.append(f"Frame {n}: _a link to an unexpected place, not linked_")
    if alert.stream_actions:
        done = ", ".join(one_line(a, 30) for a in alert.stream_actions[-6:])
        lines.append(f"*Stream already did:* {done}")
    if alert.reporters:
        lines.append("*Reported in Slack by* " + ", ".join(mention(r) for r in alert.reporters[:5]))
    if alert.earlier:
        lines.append(alert.earlier)
    if alert.item_ids:
        lines.append("_Review item " + ", ".join(code(i, 40) for i in alert.item_ids[-3:]) + "_")
    return "\n".join(lines) or "_Stream sent no details._"


def status_blocks(alert: Alert) -> list[blocks.Part]:
    parts: list[blocks.Part] = []
    if alert.problem and alert.status.undecided:
        parts.append(blocks.context(alert.problem))
    if alert.status.undecided:
        parts.append(action_row(alert))
    else:
        parts.append(blocks.context(alert.decision or "Decided."))
    return parts


def action_row(alert: Alert) -> dict[str, Any]:
    elements: list[Button | Menu] = []
    user, cid = alert.user_id, alert.call_cid
    if user and cid:
        elements.append(
            Menu(MUTE_ACTION, tuple(Choice(label, f"{alert.id} {t}") for label, t in MUTE_CHOICES))
        )
        elements.append(
            Button(
                "Kick",
                KICK_ACTION,
                alert.id,
                "danger",
                Confirm("Kick?", f"Kick {code(user)} from {code(cid)}? They may rejoin.", "Kick"),
            )
        )
    if user:
        elements.append(Button("Ban…", BAN_ACTION, user))
    elements.append(Button("Mark reviewed", REVIEW_ACTION, alert.id, "primary"))
    if cid and FindingKind.CALL_ENDED not in alert.kinds:
        elements.append(Button("End call", END_ACTION, alert.id))
    if user:
        elements.append(history_button(user))
    if cid:
        elements.append(Button("Roster", command_action("roster"), f"roster {cid}"))
    return {
        "type": "actions",
        "block_id": f"alert:{alert.id}",
        "elements": [blocks.element(e) for e in elements],
    }


def decision_line(alert: Alert, verb: str, case_label: str) -> str:
    by = mention(alert.handled_by or "")
    at = date_token(alert.decided_at or alert.last_at)
    if alert.status is Status.REVIEWED:
        return f":white_check_mark: Reviewed by {by}, no action · {at}"
    case = f" — {case_label}" if case_label else ""
    return f":hammer_and_wrench: Actioned by {by}{case} · {verb} · {at}"


def stream_decision_line(alert: Alert) -> str:
    detail = alert.decision_detail
    by = f" by {code(detail.by)}" if detail and detail.by else ""
    action = f" ({one_line(detail.action, 40)})" if detail and detail.action else ""
    at = date_token(alert.decided_at or alert.last_at)
    return f":white_check_mark: Decided in Stream's dashboard{by}{action} · {at}"


def already_handled(alert: Alert) -> str:
    by = mention(alert.handled_by or "")
    if alert.status is Status.CLAIMED:
        return f"{by} is handling this alert right now; nothing was sent to Stream."
    if alert.status is Status.DECIDED_IN_STREAM:
        return "This alert was already decided in Stream's dashboard; nothing was sent to Stream."
    return f"This alert was already handled by {by}; nothing was sent to Stream."


def item_kinds(alert: Alert) -> set[str]:
    return set(alert.entity_types.values()) or {CALL_ENTITY}


def digest(
    alerts: Sequence[Alert], opened_at: float, slash_queue: str
) -> tuple[str, list[dict[str, Any]]]:
    """One message for the alerts of a flood beyond the first few cards: counts and the
    newest ten; every one of them is in `/queue` with its buttons."""
    kinds: dict[FindingKind, int] = {}
    for alert in alerts:
        for kind, n in alert.kinds.items():
            kinds[kind] = kinds.get(kind, 0) + n
    open_now = sum(1 for alert in alerts if alert.status.undecided)
    header = (
        f":rotating_light: *{len(alerts)} more Stream alerts* since {date_token(opened_at)} · "
        f"{open_now} open · `{escape(slash_queue)}` lists them with their buttons"
    )
    counts = ", ".join(f"{KIND_PHRASES[k]} ×{n}" for k, n in kinds.items())
    lines = [
        f"• {headline(alert)} · {alert.hits} hit{'s' if alert.hits != 1 else ''}"
        for alert in alerts[-10:]
    ]
    parts: list[blocks.Part] = [blocks.section(header)]
    if counts:
        parts.append(blocks.context(counts))
    parts.append(blocks.section("\n".join(lines)))
    return f":rotating_light: {len(alerts)} more Stream alerts", blocks.to_dicts(parts)


def queue_page(
    alerts: Sequence[Alert], page: int, per_page: int, total: int
) -> tuple[str, list[dict[str, Any]]]:
    """A `/queue` page: the open alerts, oldest first, each with its buttons."""
    if total == 0:
        text = ":white_check_mark: No open Stream alerts."
        return text, blocks.to_dicts([blocks.section(text)])
    pages = (total + per_page - 1) // per_page
    header = f"*Open Stream alerts* · {total} · oldest first · page {page + 1} of {pages}"
    parts: list[blocks.Part] = [blocks.section(header)]
    for alert in alerts:
        hits = f" · {alert.hits} hits" if alert.hits > 1 else ""
        parts.append(
            blocks.section(f"{headline(alert)}{hits} · since {date_token(alert.opened_at)}")
        )
        parts += status_blocks(alert)
    nav = []
    if page > 0:
        nav.append(Button("Previous", QUEUE_PAGE_ACTION, str(page - 1)))
    if page + 1 < pages:
        nav.append(Button("Next", QUEUE_PAGE_ACTION, str(page + 1)))
    if nav:
        parts.append(blocks.actions(nav))
    return f"{total} open Stream alerts", blocks.to_dicts(parts)
