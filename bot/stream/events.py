"""Typed Stream webhook events (DESIGN.md §3 "Webhooks").

`parse_event` validates a decoded webhook body into one of the frozen pydantic models below,
chosen by its "type". Types we do not act on come back as `UnknownEvent`; a type we do know with
a missing or malformed field raises `EventError`, whose message names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictStr,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.stream.models import StreamTime

PERMISSION_REQUEST: Final = "call.permission_request"
USER_BANNED: Final = "user.banned"
USER_UNBANNED: Final = "user.unbanned"
CallUserEventType = Literal["call.kicked_user", "call.blocked_user", "call.unblocked_user"]
CALL_USER_EVENT_TYPES: frozenset[str] = frozenset(get_args(CallUserEventType))
CALL_USER_MUTED: Final = "call.user_muted"
CALL_PERMISSIONS_UPDATED: Final = "call.permissions_updated"
CALL_ENDED: Final = "call.ended"
UserStateEventType = Literal["user.deactivated", "user.reactivated"]
USER_STATE_EVENT_TYPES: frozenset[str] = frozenset(get_args(UserStateEventType))
# Stream's moderation findings (stream-next-features.md §5, §6a); see bot/moderation/alerts.
CallModerationEventType = Literal["call.moderation_warning", "call.moderation_blur"]
CALL_MODERATION_EVENT_TYPES: frozenset[str] = frozenset(get_args(CallModerationEventType))
MODERATION_RULE_TRIGGERED: Final = "moderation_rule.triggered"
ReviewItemEventType = Literal["review_queue_item.new", "review_queue_item.updated"]
REVIEW_ITEM_EVENT_TYPES: frozenset[str] = frozenset(get_args(ReviewItemEventType))
POLICY_VIOLATION: Final = "PolicyViolationModeration"  # call.ended's reason for a rule's end


class EventError(ValueError):
    """A known event type arrived with a missing or malformed field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _call_cid(value: str) -> str:
    call_type, colon, call_id = value.partition(":")
    if not (colon and call_type and call_id):
        raise PydanticCustomError("call_cid", "must look like <type>:<id>")
    return value


_Text = Annotated[StrictStr, Field(min_length=1)]
_OptionalText = Annotated[StrictStr | None, AfterValidator(lambda text: text or None)]
_CallCid = Annotated[StrictStr, AfterValidator(_call_cid)]


class _Body(BaseModel):
    """A part of a webhook body. Stream adds fields freely (ignored) and may send null for an
    absent field; the Python field names are accepted too, so the models can be built in code."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, body: Any) -> Any:
        if isinstance(body, Mapping):
            return {key: value for key, value in body.items() if value is not None}
        return body


class EventUser(_Body):
    id: _Text
    name: _OptionalText = None


class PermissionRequest(_Body):
    type: Literal["call.permission_request"] = PERMISSION_REQUEST
    call_cid: _CallCid
    user: EventUser
    permissions: Annotated[tuple[_Text, ...], Field(min_length=1)]
    created_at: StreamTime


class UserBanned(_Body):
    type: Literal["user.banned"] = USER_BANNED
    user: EventUser
    banned_by: EventUser | None = Field(None, validation_alias="created_by")
    reason: _OptionalText = None
    expires_at: StreamTime | None = Field(None, validation_alias="expiration")  # None: permanent
    created_at: StreamTime
    ip_ban: StrictBool = False
    shadow: StrictBool = False
    # Stream's "cid"; None for an app-wide ban
    channel_cid: _OptionalText = Field(None, validation_alias=AliasChoices("cid", "channel_cid"))


class UserUnbanned(_Body):
    type: Literal["user.unbanned"] = USER_UNBANNED
    user: EventUser
    unbanned_by: EventUser | None = Field(None, validation_alias="created_by")
    created_at: StreamTime


class CallUserEvent(_Body):
    type: CallUserEventType
    call_cid: _CallCid
    user: EventUser
    # Who kicked or blocked: null when it was done server-side (callmod, or another backend).
    by: EventUser | None = Field(
        None, validation_alias=AliasChoices("kicked_by_user", "blocked_by_user", "by")
    )
    created_at: StreamTime


class CallUserMuted(_Body):
    type: Literal["call.user_muted"] = CALL_USER_MUTED
    call_cid: _CallCid
    from_user_id: _OptionalText = None
    muted_user_ids: tuple[_Text, ...] = ()
    reason: _OptionalText = None
    created_at: StreamTime


class CallPermissionsUpdated(_Body):
    type: Literal["call.permissions_updated"] = CALL_PERMISSIONS_UPDATED
    call_cid: _CallCid
    user: EventUser
    own_capabilities: tuple[Any, ...] = ()
    created_at: StreamTime


class CallEnded(_Body):
    type: Literal["call.ended"] = CALL_ENDED
    call_cid: _CallCid
    user: EventUser | None = None  # who ended it, when Stream says
    reason: _OptionalText = None
    created_at: StreamTime


class UserStateChanged(_Body):
    type: UserStateEventType
    user: EventUser
    by: EventUser | None = Field(None, validation_alias=AliasChoices("created_by", "by"))
    created_at: StreamTime


def _severity_text(value: Any) -> Any:
    """⚠ `severity` is an integer in the OAS, a word ("high") in some answers: keep it as text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value if isinstance(value, str) else None


def _labels(value: Any) -> Any:
    """⚠ Labels and classifications arrive as ["nudity"], as {"nudity": 0.93}, or as objects
    [{"label": "nudity", …}]: all become a tuple of label names."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Mapping):
        return tuple(str(key) for key in value)
    if isinstance(value, list | tuple):
        names: list[str] = []
        for item in value:
            if isinstance(item, str):
                names.append(item)
            elif isinstance(item, Mapping):
                name = item.get("label") or item.get("name") or item.get("category")
                if isinstance(name, str):
                    names.append(name)
        return tuple(names)
    return ()


def _media(key: str) -> Any:
    """⚠ `moderation_payload.texts` / `.images` hold strings; accept objects {"text"/"url"}."""

    def read(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return ()
        found: list[str] = []
        for item in value:
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, Mapping) and isinstance(item.get(key), str):
                found.append(item[key])
        return tuple(found)

    return read


def _user_id_of(value: Any) -> Any:
    """⚠ `reviewed_by` is a user id in the OAS; a user object is accepted too."""
    if isinstance(value, Mapping):
        return value.get("id")
    return value


_Severity = Annotated[StrictStr | None, BeforeValidator(_severity_text)]
_Labels = Annotated[tuple[StrictStr, ...], BeforeValidator(_labels)]


class CallModerationEvent(_Body):
    """`call.moderation_warning` (with Stream's warning `message`) or `call.moderation_blur`."""

    type: CallModerationEventType
    call_cid: _CallCid
    user_id: _Text
    message: _OptionalText = None
    created_at: StreamTime


class ModerationRule(_Body):
    id: _OptionalText = None
    name: _OptionalText = None
    type: _OptionalText = None
    description: _OptionalText = None


class MatchedContent(_Body):
    type: _OptionalText = None  # image | text
    id: _OptionalText = None
    text: _OptionalText = None
    # ⚠ Not in the OAS's MatchedContent; a frame link is taken when one is sent.
    url: _OptionalText = Field(None, validation_alias=AliasChoices("url", "image_url"))
    classifications: _Labels = ()
    ocr_classifications: _Labels = ()
    severity: _Severity = None


class ModerationRuleTriggered(_Body):
    type: Literal["moderation_rule.triggered"] = MODERATION_RULE_TRIGGERED
    rule: ModerationRule
    entity_id: _Text
    entity_type: _Text
    user_id: _Text
    triggered_actions: tuple[StrictStr, ...] = ()
    violation_number: int | None = None
    review_queue_item_id: _OptionalText = None
    matched_contents: tuple[MatchedContent, ...] = ()
    created_at: StreamTime


class ModerationPayload(_Body):
    texts: Annotated[tuple[StrictStr, ...], BeforeValidator(_media("text"))] = ()
    images: Annotated[tuple[StrictStr, ...], BeforeValidator(_media("url"))] = ()


class ItemCall(_Body):
    cid: _OptionalText = None
    id: _OptionalText = None
    type: _OptionalText = None


class ItemFlag(_Body):
    type: _OptionalText = None
    user_id: _OptionalText = None
    user: EventUser | None = None
    reason: _OptionalText = None
    labels: _Labels = ()
    custom: Mapping[str, Any] = Field(default_factory=dict)


class ActionLog(_Body):
    type: _OptionalText = None
    user_id: _OptionalText = None
    reason: _OptionalText = None


class ReviewItem(_Body):
    """`ReviewQueueItemResponse`, the fields callmod shows (the rest is ignored)."""

    id: _Text
    entity_type: _Text
    entity_id: _Text
    entity_creator_id: _OptionalText = None
    entity_creator: EventUser | None = None
    status: _OptionalText = None
    recommended_action: _OptionalText = None
    reviewed_by: Annotated[_OptionalText, BeforeValidator(_user_id_of)] = None
    reviewed_at: StreamTime | None = None
    completed_at: StreamTime | None = None
    latest_moderator_action: _OptionalText = None
    severity: _Severity = None
    call: ItemCall | None = None
    moderation_payload: ModerationPayload | None = None
    flags: tuple[ItemFlag, ...] = ()
    flags_count: int | None = None
    created_at: StreamTime | None = None


class ReviewItemEvent(_Body):
    """`review_queue_item.new` / `.updated`; the item is required here (the OAS marks it
    optional, but an event without it says nothing callmod can show)."""

    type: ReviewItemEventType
    review_queue_item: ReviewItem
    flags: tuple[ItemFlag, ...] = ()
    action: ActionLog | None = None
    created_at: StreamTime


class UnknownEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: _Text
    payload: Mapping[str, Any]


# Stream events that record a moderation action, made by callmod or by someone outside Slack.
ActionEvent = CallUserEvent | CallUserMuted | CallPermissionsUpdated | CallEnded | UserStateChanged

StreamEvent = (
    PermissionRequest
    | UserBanned
    | UserUnbanned
    | CallUserEvent
    | CallUserMuted
    | CallPermissionsUpdated
    | CallEnded
    | UserStateChanged
    | CallModerationEvent
    | ModerationRuleTriggered
    | ReviewItemEvent
    | UnknownEvent
)

# Stream's moderation findings, shown as alert cards (bot/moderation/alerts).
ModerationEvent = CallModerationEvent | ModerationRuleTriggered | ReviewItemEvent


@dataclass(frozen=True)
class Delivery:
    """One accepted webhook: Stream's delivery id, its attempt number and our receive time."""

    webhook_id: str
    attempt: int
    received_at: float
    event: StreamEvent


def event_type(event: StreamEvent) -> str:
    """The Stream type string of a parsed event (for logs and metrics)."""
    return event.type


def parse_event(payload: Mapping[str, Any]) -> StreamEvent:
    """Parse a webhook body; raises EventError naming the first bad field of a known type."""
    try:
        return _EVENTS.validate_python(payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        # loc[0] is the union tag; list positions read as "permissions[0]".
        path = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"][1:]
        )
        problem = "missing" if error["type"] == "missing" else error["msg"]
        raise EventError(path.lstrip("."), problem) from None


_CALL_USER = "call user event"
_USER_STATE = "user state event"
_CALL_MODERATION = "call moderation event"
_REVIEW_ITEM = "review queue item event"
_UNKNOWN = "unknown"
_TAGS = {
    PERMISSION_REQUEST: PERMISSION_REQUEST,
    USER_BANNED: USER_BANNED,
    USER_UNBANNED: USER_UNBANNED,
    CALL_USER_MUTED: CALL_USER_MUTED,
    CALL_PERMISSIONS_UPDATED: CALL_PERMISSIONS_UPDATED,
    CALL_ENDED: CALL_ENDED,
    **dict.fromkeys(CALL_USER_EVENT_TYPES, _CALL_USER),
    **dict.fromkeys(USER_STATE_EVENT_TYPES, _USER_STATE),
    **dict.fromkeys(CALL_MODERATION_EVENT_TYPES, _CALL_MODERATION),
    MODERATION_RULE_TRIGGERED: MODERATION_RULE_TRIGGERED,
    **dict.fromkeys(REVIEW_ITEM_EVENT_TYPES, _REVIEW_ITEM),
}


def _tag(body: Any) -> str:
    kind = body.get("type")
    return _TAGS.get(kind, _UNKNOWN) if isinstance(kind, str) else _UNKNOWN


def _unknown(body: Any) -> Any:
    return {"type": body.get("type"), "payload": body}


_EVENTS: TypeAdapter[StreamEvent] = TypeAdapter(
    Annotated[
        Annotated[PermissionRequest, Tag(PERMISSION_REQUEST)]
        | Annotated[UserBanned, Tag(USER_BANNED)]
        | Annotated[UserUnbanned, Tag(USER_UNBANNED)]
        | Annotated[CallUserEvent, Tag(_CALL_USER)]
        | Annotated[CallUserMuted, Tag(CALL_USER_MUTED)]
        | Annotated[CallPermissionsUpdated, Tag(CALL_PERMISSIONS_UPDATED)]
        | Annotated[CallEnded, Tag(CALL_ENDED)]
        | Annotated[UserStateChanged, Tag(_USER_STATE)]
        | Annotated[CallModerationEvent, Tag(_CALL_MODERATION)]
        | Annotated[ModerationRuleTriggered, Tag(MODERATION_RULE_TRIGGERED)]
        | Annotated[ReviewItemEvent, Tag(_REVIEW_ITEM)]
        | Annotated[UnknownEvent, BeforeValidator(_unknown), Tag(_UNKNOWN)],
        Discriminator(_tag),
    ]
)
