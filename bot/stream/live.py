"""What Stream says about live calls, the people in them and user profiles, as callmod reads it.

Stream's answers are large (`CallResponse` has dozens of fields); these models keep the few a
moderator is shown and read them leniently: unknown fields are ignored, an optional text that is
not a non-empty string reads as absent, and a date may be RFC 3339 text or integer nanoseconds.
Only an entry's ids are required: a call without a `cid`, or a participant without a user id,
cannot be acted on and is left out of its list (see `entries.read_entries`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasPath, BaseModel, BeforeValidator, Field, StrictStr

from bot.stream.models import (
    CallRef,
    StreamTime,
    StreamUser,
    Track,
    UnreadableResponse,
    read_model,
)

MAX_PARTICIPANTS = 100  # Stream's cap on one participants query; it has no cursor
MAX_CALLS_PAGE = 100

CALL_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (("call", ("call", "id")),)
PARTICIPANT_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (("user", ("user", "id")),)
USER_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (("user", ("id",)),)


@dataclass(frozen=True)
class LiveCall:
    """A call as `/calls` and the roster header show it."""

    ref: CallRef
    created_at: datetime | None
    created_by_id: str | None
    session_id: str | None
    started_at: datetime | None
    ended_at: datetime | None
    participant_count: int
    blocked_user_ids: tuple[str, ...]
    # The call's screen-sharing setting: "on", "off", "request", or None when Stream left it out.
    screenshare_mode: str | None = None

    @property
    def cid(self) -> str:
        return self.ref.cid


@dataclass(frozen=True)
class CallPage:
    calls: tuple[LiveCall, ...]
    next: str | None
    skipped: int = 0


@dataclass(frozen=True)
class Participant:
    """One connection to a call: a user on two devices is two participants."""

    user_id: str
    name: str | None
    user_session_id: str | None
    role: str | None
    joined_at: datetime | None


@dataclass(frozen=True)
class Roster:
    """Who is in a call, as one participants query answered: at most 100 of `total`."""

    call: LiveCall
    participants: tuple[Participant, ...]
    total: int
    tracks: Mapping[str, frozenset[Track]]  # user id → tracks Stream says they publish

    @property
    def partial(self) -> bool:
        return self.total > len(self.participants)


_OptionalText = Annotated[
    str | None, BeforeValidator(lambda value: value if isinstance(value, str) and value else None)
]
_Id = Annotated[StrictStr, Field(min_length=1)]


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _ids(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str) and item)


# A flag Stream may leave out or send as something else: unknown rather than unreadable.
_OptionalFlag = Annotated[
    bool | None, BeforeValidator(lambda v: v if isinstance(v, bool) else None)
]


class _Session(BaseModel):
    id: _OptionalText = None
    started_at: StreamTime | None = None
    ended_at: StreamTime | None = None
    participants: list[Any] = Field(default_factory=list)
    participants_count_by_role: Annotated[
        dict[str, Any], BeforeValidator(lambda v: v if isinstance(v, dict) else {})
    ] = Field(default_factory=dict)
    anonymous_participant_count: Annotated[int, BeforeValidator(_count)] = 0

    @property
    def count(self) -> int:
        by_role = sum(_count(value) for value in self.participants_count_by_role.values())
        counted = by_role + self.anonymous_participant_count
        return counted or len(self.participants)


class _CallAnswer(BaseModel):
    type: _Id
    id: _Id
    created_at: StreamTime | None = None
    created_by_id: _OptionalText = Field(None, validation_alias=AliasPath("created_by", "id"))
    current_session_id: _OptionalText = None
    ended_at: StreamTime | None = None
    blocked_user_ids: Annotated[tuple[str, ...], BeforeValidator(_ids)] = ()
    session: _Session | None = None
    screenshare_enabled: _OptionalFlag = Field(
        None, validation_alias=AliasPath("settings", "screensharing", "enabled")
    )
    screenshare_by_request: _OptionalFlag = Field(
        None, validation_alias=AliasPath("settings", "screensharing", "access_request_enabled")
    )

    @property
    def screenshare_mode(self) -> str | None:
        if self.screenshare_enabled is None:
            return None
        if not self.screenshare_enabled:
            return "off"
        return "request" if self.screenshare_by_request else "on"

    def live_call(self) -> LiveCall:
        session = self.session
        return LiveCall(
            ref=CallRef(self.type, self.id),
            created_at=self.created_at,
            created_by_id=self.created_by_id,
            session_id=self.current_session_id or (session.id if session else None),
            started_at=session.started_at if session else None,
            ended_at=self.ended_at,
            participant_count=session.count if session and session.ended_at is None else 0,
            blocked_user_ids=self.blocked_user_ids,
            screenshare_mode=self.screenshare_mode,
        )


class _ParticipantAnswer(BaseModel):
    user_id: _Id = Field(validation_alias=AliasPath("user", "id"))
    name: _OptionalText = Field(None, validation_alias=AliasPath("user", "name"))
    user_session_id: _OptionalText = None
    role: _OptionalText = None
    joined_at: StreamTime | None = None


class _UserAnswer(BaseModel):
    id: _Id
    name: _OptionalText = None
    role: _OptionalText = None
    image: _OptionalText = None
    created_at: StreamTime | None = None
    deactivated_at: StreamTime | None = None
    banned: bool = False


def call_from_json(item: object, where: str = "call") -> LiveCall:
    return read_model(_CallAnswer, item, where).live_call()


def call_state_from_json(item: object) -> LiveCall:
    """An entry of `query_calls`: `{call: CallResponse, members, own_capabilities}`."""
    if not isinstance(item, Mapping):
        raise UnreadableResponse("calls[] is not an object")
    return call_from_json(item.get("call"), "calls[].call")


def participant_from_json(item: object) -> Participant:
    answer = read_model(_ParticipantAnswer, item, "participants[]")
    return Participant(
        user_id=answer.user_id,
        name=answer.name,
        user_session_id=answer.user_session_id,
        role=answer.role,
        joined_at=answer.joined_at,
    )


def user_from_json(item: object) -> StreamUser:
    answer = read_model(_UserAnswer, item, "users[]")
    return StreamUser(
        id=answer.id,
        name=answer.name,
        role=answer.role,
        deactivated=answer.deactivated_at is not None,
        image=answer.image,
        created_at=answer.created_at,
        banned=answer.banned,
    )


def field_of(body: object, name: str) -> object:
    if not isinstance(body, Mapping):
        raise UnreadableResponse("the answer is not a JSON object")
    return body.get(name)
