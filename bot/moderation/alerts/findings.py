"""What one Stream moderation event says, in the terms an alert card shows: `finding_of`.

Stream's findings come in several shapes (stream-next-features.md §5–§6): an AI call rule warned
or blurred someone (`call.moderation_warning` / `call.moderation_blur`), ended a call
(`call.ended` with reason `PolicyViolationModeration`), a rule fired (`moderation_rule.triggered`),
or a review queue item was created or changed (`review_queue_item.new` / `.updated`). Each becomes
a `Finding`; an event about something callmod does not moderate (an unknown entity type, a call
that ended for another reason) becomes None.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.stream.events import (
    POLICY_VIOLATION,
    CallEnded,
    CallModerationEvent,
    ItemFlag,
    ModerationEvent,
    ModerationRuleTriggered,
    ReviewItem,
    ReviewItemEvent,
)

CALL_ENTITY = "stream:v1:call"
USER_ENTITY = "stream:user"
ENTITY_TYPES = frozenset({CALL_ENTITY, USER_ENTITY})
# ⚠ Review item statuses that mean a moderator decided it (not documented as an enum).
DECIDED_STATUSES = frozenset({"reviewed", "completed", "actioned", "resolved"})


class FindingKind(StrEnum):
    WARNING = "warning"
    BLUR = "blur"
    CALL_ENDED = "call_ended"
    RULE = "rule"
    REVIEW = "review"


KIND_PHRASES = {
    FindingKind.WARNING: "warned by Stream's call moderation",
    FindingKind.BLUR: "video blurred by Stream's call moderation",
    FindingKind.CALL_ENDED: "call ended by Stream for a policy violation",
    FindingKind.RULE: "moderation rule triggered",
    FindingKind.REVIEW: "flagged for review",
}


@dataclass(frozen=True)
class Decided:
    """A review item decided outside Slack (Stream's dashboard): by whom, with what."""

    by: str | None
    action: str | None
    status: str | None


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    user_id: str | None
    user_name: str | None
    call_cid: str | None
    at: float  # Stream's created_at
    item_id: str | None = None  # the review queue item, when there is one
    entity_type: str | None = None
    rule: str | None = None
    labels: tuple[str, ...] = ()
    severity: str | None = None
    texts: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    stream_actions: tuple[str, ...] = ()  # what Stream did already (a rule's actions)
    message: str | None = None  # a warning's text, a flag's reason
    reporter: str | None = None  # a Slack user id, for reports made with /report
    decided: Decided | None = None  # set by `review_queue_item.updated` once decided
    new_flag: bool = True  # False for an update that only records a decision

    @property
    def key(self) -> tuple[str, str]:
        """Alerts about the same user in the same call share a card."""
        return (self.user_id or "", self.call_cid or "")


def finding_of(
    event: ModerationEvent | CallEnded, default_call_type: str = "default"
) -> Finding | None:
    if isinstance(event, CallModerationEvent):
        warning = event.type == "call.moderation_warning"
        return Finding(
            kind=FindingKind.WARNING if warning else FindingKind.BLUR,
            user_id=event.user_id,
            user_name=None,
            call_cid=event.call_cid,
            at=event.created_at.timestamp(),
            message=event.message,
        )
    if isinstance(event, CallEnded):
        if event.reason != POLICY_VIOLATION:
            return None
        return Finding(
            kind=FindingKind.CALL_ENDED,
            user_id=None,
            user_name=None,
            call_cid=event.call_cid,
            at=event.created_at.timestamp(),
        )
    if isinstance(event, ModerationRuleTriggered):
        return _rule_finding(event, default_call_type)
    return _item_finding(event, default_call_type)


def _rule_finding(event: ModerationRuleTriggered, default_call_type: str) -> Finding | None:
    if event.entity_type not in ENTITY_TYPES:
        return None
    labels: list[str] = []
    texts: list[str] = []
    images: list[str] = []
    severity = None
    for content in event.matched_contents:
        labels += [*content.classifications, *content.ocr_classifications]
        if content.text:
            texts.append(content.text)
        if content.url:
            images.append(content.url)
        severity = severity or content.severity
    call = None
    if event.entity_type == CALL_ENTITY:
        call = _call_cid(event.entity_id, None, default_call_type)
    rule = event.rule.name or event.rule.id
    if event.violation_number is not None:
        rule = f"{rule or 'rule'} (violation {event.violation_number})"
    return Finding(
        kind=FindingKind.RULE,
        user_id=event.user_id,
        user_name=None,
        call_cid=call,
        at=event.created_at.timestamp(),
        item_id=event.review_queue_item_id,
        entity_type=event.entity_type,
        rule=rule,
        labels=_unique(labels),
        severity=severity,
        texts=tuple(texts),
        images=tuple(images),
        stream_actions=event.triggered_actions,
    )


def item_finding(item: ReviewItem, default_call_type: str = "default") -> Finding | None:
    """An open item read from Stream's queue (`query_review_queue`), as if it had just arrived."""
    at = item.created_at.timestamp() if item.created_at is not None else 0.0
    return _from_item(item, (), at, None, default_call_type)


def _item_finding(event: ReviewItemEvent, default_call_type: str) -> Finding | None:
    item = event.review_queue_item
    at = event.created_at.timestamp()
    return _from_item(item, event.flags, at, event, default_call_type)


def _from_item(
    item: ReviewItem,
    extra_flags: tuple[ItemFlag, ...],
    at: float,
    event: ReviewItemEvent | None,
    default_call_type: str,
) -> Finding | None:
    if item.entity_type not in ENTITY_TYPES:
        return None
    flags = (*item.flags, *extra_flags)
    user_id, user_name = _item_user(item)
    reasons = [flag.reason for flag in flags if flag.reason]
    labels = [label for flag in flags for label in flag.labels]
    reporter = next((r for flag in flags if (r := _slack_reporter(flag.custom))), None)
    call_cid = None
    if item.entity_type == CALL_ENTITY:
        cid = item.call.cid if item.call else None
        call_cid = _call_cid(item.entity_id, cid, default_call_type)
    else:
        custom_call = next(
            (c for flag in flags if isinstance(c := flag.custom.get("call_cid"), str)), None
        )
        if custom_call:
            call_cid = _call_cid(custom_call, None, default_call_type)
    payload = item.moderation_payload
    decided = None
    updated = event is not None and event.type == "review_queue_item.updated"
    if (updated or event is None) and _is_decided(item):
        logged = event.action if event is not None else None
        action = logged.type if logged is not None else item.latest_moderator_action
        decided = Decided(item.reviewed_by, action, item.status)
    return Finding(
        kind=FindingKind.REVIEW,
        user_id=user_id,
        user_name=user_name,
        call_cid=call_cid,
        at=at,
        item_id=item.id,
        entity_type=item.entity_type,
        labels=_unique(labels),
        severity=item.severity,
        texts=payload.texts if payload else (),
        images=payload.images if payload else (),
        message=reasons[-1] if reasons else None,
        reporter=reporter,
        decided=decided,
        new_flag=decided is None or (event is not None and event.type == "review_queue_item.new"),
    )


def _item_user(item: ReviewItem) -> tuple[str | None, str | None]:
    """Whom the item is about: its creator; for a user item, the user itself."""
    creator = item.entity_creator
    if creator is not None:
        return creator.id, creator.name
    if item.entity_creator_id:
        return item.entity_creator_id, None
    if item.entity_type == USER_ENTITY:
        return item.entity_id, None
    return None, None


def _call_cid(entity_id: str, cid: str | None, default_call_type: str) -> str:
    """⚠ A call item's `entity_id` may be the call id or the cid: `call.cid` wins when sent."""
    if cid and ":" in cid:
        return cid
    if ":" in entity_id:
        return entity_id
    return f"{default_call_type}:{entity_id}"


def _is_decided(item: ReviewItem) -> bool:
    return (
        (item.status or "").lower() in DECIDED_STATUSES
        or item.reviewed_at is not None
        or item.completed_at is not None
        or bool(item.reviewed_by)
    )


def _slack_reporter(custom: Any) -> str | None:
    value = custom.get("slack_reporter") if hasattr(custom, "get") else None
    if isinstance(value, str) and value[:1] in ("U", "W") and value.isalnum() and len(value) < 24:
        return value
    return None


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))
