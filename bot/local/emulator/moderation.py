"""Stream's moderation review queue, emulated statefully (stream-next-features.md §5–§6):
`QueryReviewQueue`, `SubmitAction` and `Flag`, and the events Stream's call moderation raises.

A flag creates a review queue item (or adds a flag to the user's open one) and sends
`review_queue_item.new` (`.updated`); `submit_action` records the decision on the item (a `ban`
also bans its user; ⚠ what `kick_user` and `end_call` do beyond recording is undocumented, so
they only record, and only on `stream:v1:call` items) and sends `review_queue_item.updated`.
The console and tests raise the AI findings: a warning, a blur, a rule that fires on a call (its
rule event plus a `stream:v1:call` review item), a call ended by policy.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field

from bot.local.emulator import events
from bot.local.emulator.bodies import Body, UserId, parse_body
from bot.local.emulator.errors import CODE_NOT_ALLOWED, Invalid, NotFound, StreamApiError
from bot.local.emulator.routing import Host, ok
from bot.util.timefmt import format_stream_time

API = "/api/v2/moderation"
CALL_ENTITY = "stream:v1:call"
USER_ENTITY = "stream:user"
ACTION_TYPES = frozenset(
    {
        "flag", "mark_reviewed", "delete_message", "delete_activity", "delete_comment",
        "delete_reaction", "ban", "custom", "unban", "restore", "delete_user",
        "delete_user_messages", "unblock", "block", "shadow_block", "unmask", "kick_user",
        "end_call", "reject_appeal", "escalate", "de_escalate", "bypass",
    }
)
CALL_ONLY_ACTIONS = frozenset({"kick_user", "end_call"})
MAX_PAGE = 100
MAX_REASON = 255


class FlagBody(Body):
    entity_type: Annotated[str, Field(min_length=1)]
    entity_id: Annotated[str, Field(min_length=1)]
    entity_creator_id: UserId | None = None
    reason: Annotated[str, Field(max_length=MAX_REASON)] | None = None
    user_id: UserId | None = None
    custom: dict[str, Any] = Field(default_factory=dict)


class SubmitActionBody(Body):
    action_type: str
    item_id: Annotated[str, Field(min_length=1)]
    user_id: UserId | None = None
    ban: dict[str, Any] | None = None
    mark_reviewed: dict[str, Any] | None = None


class SortField(Body):
    field: str
    direction: Literal[1, -1] = -1


class QueryReviewQueueBody(Body):
    limit: Annotated[int, Field(ge=0, le=MAX_PAGE)] = 25
    next: str | None = None
    filter: dict[str, Any] = Field(default_factory=dict)
    sort: list[SortField] = Field(default_factory=list)


@dataclass
class QueueItem:
    id: str
    entity_type: str
    entity_id: str
    creator: str | None
    call_cid: str | None
    created_at: float
    updated_at: float
    severity: int = 0
    texts: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    status: str = "pending"
    reviewed_by: str | None = None
    reviewed_at: float | None = None

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None


class ModerationRoutes:
    """The routes, over a review queue of their own (the host's state may be swapped)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.items: dict[str, QueueItem] = {}
        self._ids = itertools.count(1)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(API + "/review_queue", self.query, name="QueryReviewQueue"),
            web.get(API + "/review_queue/{id}", self.get_item, name="GetReviewQueueItem"),
            web.post(API + "/submit_action", self.submit_action, name="SubmitAction"),
            web.post(API + "/flag", self.flag_route, name="Flag"),
        ]

    # --- routes ------------------------------------------------------------------------------

    async def query(self, request: web.Request) -> web.Response:
        body = parse_body(QueryReviewQueueBody, await request.read())
        found = [item for item in self.items.values() if _matches(item, body.filter)]
        found.sort(key=lambda item: item.created_at, reverse=True)
        start = int(body.next) if body.next and body.next.isdigit() else 0
        page = found[start : start + body.limit]
        answer: dict[str, Any] = {
            "items": [self.item_json(item) for item in page],
            "stats": {},
            "action_config": {},
        }
        if start + body.limit < len(found):
            answer["next"] = str(start + body.limit)
        return ok(answer)

    async def get_item(self, request: web.Request) -> web.Response:
        return ok({"item": self.item_json(self.item(request.match_info["id"]))})

    async def submit_action(self, request: web.Request) -> web.Response:
        body = parse_body(SubmitActionBody, await request.read())
        if body.action_type not in ACTION_TYPES:
            raise Invalid.field("action_type", f"action_type {body.action_type!r} is not valid")
        item = self.item(body.item_id)
        state = self.host.state
        if body.user_id is not None:
            state.user(body.user_id)
        if body.action_type in CALL_ONLY_ACTIONS:
            if item.entity_type != CALL_ENTITY or item.call_cid is None:
                raise StreamApiError(
                    403,
                    CODE_NOT_ALLOWED,
                    f"SubmitAction failed with error: \"{body.action_type} can only be applied "
                    f'to {CALL_ENTITY} items"',
                )
            # ⚠ Whether Stream also kicks or ends the call for these is undocumented (§6c):
            # the emulator records the decision only; callmod acts through the video API.
            state.call(item.call_cid)
        if body.action_type == "ban" and item.creator is not None:
            options = body.ban or {}
            timeout = options.get("timeout")
            ban = state.ban(
                item.creator,
                banned_by=body.user_id or "",
                reason=options.get("reason"),
                timeout_minutes=timeout if isinstance(timeout, int) else None,
                ip_ban=bool(options.get("ip_ban")),
            )
            self.host.webhooks.send(events.user_banned(state, ban))
        now = state.now()
        item.actions.append(
            {
                "id": f"act-{next(self._ids)}",
                "type": body.action_type,
                "user_id": body.user_id,
                "target_user_id": item.creator,
                "reason": (body.mark_reviewed or {}).get("decision_reason", ""),
                "reporter_type": "moderator",
                "custom": {},
                "created_at": format_stream_time(now),
            }
        )
        item.status = "reviewed"
        item.reviewed_by = body.user_id
        item.reviewed_at = item.updated_at = now
        updated = self.item_event("review_queue_item.updated", item, item.actions[-1])
        self.host.webhooks.send(updated)
        return ok({"item": self.item_json(item)})

    async def flag_route(self, request: web.Request) -> web.Response:
        body = parse_body(FlagBody, await request.read())
        state = self.host.state
        if body.entity_type == USER_ENTITY:
            state.user(body.entity_id)
        if body.user_id is not None:
            state.user(body.user_id)
        item = self.flag(
            body.entity_type,
            body.entity_id,
            creator=body.entity_creator_id
            or (body.entity_id if body.entity_type == USER_ENTITY else None),
            reason=body.reason,
            flagged_by=body.user_id,
            custom=body.custom,
        )
        return ok({"item_id": item.id})

    # --- state changes, shared by the routes, the console and tests ---------------------------

    def item(self, item_id: str) -> QueueItem:
        found = self.items.get(item_id)
        if found is None:
            raise NotFound(f"review queue item {item_id} does not exist")
        return found

    def delete_item(self, item_id: str) -> None:
        """The item goes away (as when Stream's retention removes it)."""
        self.items.pop(item_id, None)

    def flag(
        self,
        entity_type: str,
        entity_id: str,
        *,
        creator: str | None,
        reason: str | None,
        flagged_by: str | None,
        custom: dict[str, Any] | None = None,
        labels: tuple[str, ...] = (),
        texts: tuple[str, ...] = (),
        images: tuple[str, ...] = (),
        call_cid: str | None = None,
        severity: int = 0,
    ) -> QueueItem:
        """Flag an entity: a new item (`review_queue_item.new`), or one more flag on the
        entity's open item (`review_queue_item.updated`)."""
        state = self.host.state
        now = state.now()
        item = next(
            (
                i
                for i in self.items.values()
                if i.entity_type == entity_type and i.entity_id == entity_id and not i.reviewed
            ),
            None,
        )
        kind = "review_queue_item.updated"
        if item is None:
            kind = "review_queue_item.new"
            item = QueueItem(
                id=f"rq-{next(self._ids)}",
                entity_type=entity_type,
                entity_id=entity_id,
                creator=creator,
                call_cid=call_cid,
                created_at=now,
                updated_at=now,
            )
            self.items[item.id] = item
        item.updated_at = now
        item.severity = max(item.severity, severity)
        item.texts += texts
        item.images += images
        item.flags.append(
            {
                "type": "flag",
                "user_id": flagged_by,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "reason": reason,
                "labels": list(labels),
                "result": [],
                "custom": dict(custom or {}),
                "review_queue_item_id": item.id,
                "created_at": format_stream_time(now),
            }
        )
        self.host.webhooks.send(self.item_event(kind, item, None))
        return item

    def warn(self, user_id: str, call_cid: str, message: str) -> dict[str, Any]:
        return self._call_event("call.moderation_warning", user_id, call_cid, message)

    def blur(self, user_id: str, call_cid: str) -> dict[str, Any]:
        return self._call_event("call.moderation_blur", user_id, call_cid, None)

    def rule(
        self,
        user_id: str,
        call_cid: str,
        labels: tuple[str, ...],
        *,
        rule_name: str = "Call safety",
        text: str | None = None,
        image: str | None = None,
        actions: tuple[str, ...] = ("flag_user", "call_warning"),
        violation: int = 1,
    ) -> QueueItem:
        """A call rule fired on a keyframe or caption: `moderation_rule.triggered`, and its
        `stream:v1:call` review item (new or updated)."""
        state = self.host.state
        state.call(call_cid)
        state.user(user_id)
        item = self.flag(
            CALL_ENTITY,
            call_cid.partition(":")[2],
            creator=user_id,
            reason=rule_name,
            flagged_by=None,
            labels=labels,
            texts=(text,) if text else (),
            images=(image,) if image else (),
            call_cid=call_cid,
            severity=3,
        )
        content: dict[str, Any] = {
            "type": "image" if image else "text",
            "id": f"mc-{next(self._ids)}",
            "published_at": format_stream_time(state.now()),
            "classifications": {label: 0.93 for label in labels},
            "severity": "high",
            "confidence": 0.93,
        }
        if text:
            content["text"] = text
        self.host.webhooks.send(
            {
                "type": "moderation_rule.triggered",
                "created_at": format_stream_time(state.now()),
                "custom": {},
                "rule": {"id": "rule-1", "name": rule_name, "type": "call", "description": ""},
                "entity_id": call_cid.partition(":")[2],
                "entity_type": CALL_ENTITY,
                "user_id": user_id,
                "triggered_actions": list(actions),
                "violation_number": violation,
                "review_queue_item_id": item.id,
                "matched_contents": [content],
                "received_at": format_stream_time(state.now()),
            }
        )
        return item

    def end_for_policy(self, call_cid: str) -> dict[str, Any]:
        state = self.host.state
        call = state.call(call_cid)
        if call.ended_at is None:
            state.end_call(call_cid)
        event = events.call_ended(state, call, reason="PolicyViolationModeration")
        self.host.webhooks.send(event)
        return event

    def _call_event(
        self, kind: str, user_id: str, call_cid: str, message: str | None
    ) -> dict[str, Any]:
        state = self.host.state
        state.call(call_cid)
        state.user(user_id)
        event: dict[str, Any] = {
            "type": kind,
            "created_at": format_stream_time(state.now()),
            "call_cid": call_cid,
            "user_id": user_id,
            "custom": {},
        }
        if message is not None:
            event["message"] = message
        self.host.webhooks.send(event)
        return event

    # --- JSON ----------------------------------------------------------------------------------

    def item_event(
        self, kind: str, item: QueueItem, action: dict[str, Any] | None
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": kind,
            "created_at": format_stream_time(item.updated_at),
            "custom": {},
            "review_queue_item": self.item_json(item),
            "flags": item.flags[-1:],
            "received_at": format_stream_time(item.updated_at),
        }
        if action is not None:
            event["action"] = action
        return event

    def item_json(self, item: QueueItem) -> dict[str, Any]:
        state = self.host.state
        creator: dict[str, Any] | None = None
        if item.creator is not None and item.creator in state.users:
            user = state.users[item.creator]
            creator = {"id": user.id, "name": user.name, "role": user.role, "ban_count": 0}
        shaped: dict[str, Any] = {
            "id": item.id,
            "created_at": format_stream_time(item.created_at),
            "updated_at": format_stream_time(item.updated_at),
            "entity_type": item.entity_type,
            "entity_id": item.entity_id,
            "entity_creator_id": item.creator,
            "entity_creator": creator,
            "status": item.status,
            "recommended_action": "flag",
            "reviewed_by": item.reviewed_by or "",
            "reviewed_at": format_stream_time(item.reviewed_at) if item.reviewed_at else None,
            "languages": [],
            "severity": item.severity,
            "ai_text_severity": "",
            "latest_moderator_action": item.actions[-1]["type"] if item.actions else "",
            "bans": [],
            "flags": item.flags,
            "actions": item.actions,
            "flags_count": len(item.flags),
            "escalated": False,
            "moderation_payload": {"texts": item.texts, "images": item.images, "custom": {}},
        }
        if item.call_cid is not None:
            call_type, _, call_id = item.call_cid.partition(":")
            shaped["call"] = {"cid": item.call_cid, "id": call_id, "type": call_type}
        return shaped


def _matches(item: QueueItem, filter: dict[str, Any]) -> bool:
    fields: dict[str, object] = {
        "reviewed": item.reviewed,
        "entity_type": item.entity_type,
        "entity_id": item.entity_id,
        "entity_creator_id": item.creator,
        "flagged_user_id": item.creator,
        "status": item.status,
    }
    for key, wanted in filter.items():
        if isinstance(wanted, dict) and "$eq" in wanted:
            wanted = wanted["$eq"]
        if key in fields and fields[key] != wanted:
            return False
    return True
