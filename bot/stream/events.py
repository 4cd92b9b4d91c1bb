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
    created_at: StreamTime


class UnknownEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: _Text
    payload: Mapping[str, Any]


StreamEvent = PermissionRequest | UserBanned | UserUnbanned | CallUserEvent | UnknownEvent


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
_UNKNOWN = "unknown"
_TAGS = {
    PERMISSION_REQUEST: PERMISSION_REQUEST,
    USER_BANNED: USER_BANNED,
    USER_UNBANNED: USER_UNBANNED,
    **dict.fromkeys(CALL_USER_EVENT_TYPES, _CALL_USER),
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
        | Annotated[UnknownEvent, BeforeValidator(_unknown), Tag(_UNKNOWN)],
        Discriminator(_tag),
    ]
)
