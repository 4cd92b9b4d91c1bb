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
    | UnknownEvent
)


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
        | Annotated[UnknownEvent, BeforeValidator(_unknown), Tag(_UNKNOWN)],
        Discriminator(_tag),
    ]
)
