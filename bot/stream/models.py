"""The values the Stream client takes and returns, and how they are read from Stream's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AliasPath,
    BaseModel,
    BeforeValidator,
    Field,
    PlainValidator,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from bot.util.timefmt import parse_stream_time

Track = Literal["audio", "video", "screenshare", "screenshare_audio"]
Permission = Literal["send-audio", "send-video", "screenshare"]


@dataclass(frozen=True)
class CallRef:
    type: str
    id: str

    @property
    def cid(self) -> str:
        return f"{self.type}:{self.id}"

    def __str__(self) -> str:
        return self.cid


@dataclass(frozen=True)
class Ban:
    user_id: str
    user_name: str | None
    banned_by_id: str | None
    created_at: datetime
    expires_at: datetime | None
    reason: str | None

    @property
    def permanent(self) -> bool:
        return self.expires_at is None


@dataclass(frozen=True)
class UserBlock:
    user_id: str
    blocked_user_id: str
    created_at: datetime | None


@dataclass(frozen=True)
class StreamUser:
    id: str
    name: str | None
    role: str | None
    deactivated: bool


class UnreadableResponse(ValueError):
    """Stream answered 2xx with JSON we cannot read."""


def _stream_time(value: object) -> datetime:
    if isinstance(value, datetime):  # a model built in code rather than read from JSON
        return value
    try:
        return parse_stream_time(value)
    # Out-of-range nanoseconds surface as OverflowError or OSError from datetime.
    except (ValueError, OverflowError, OSError):
        raise PydanticCustomError(
            "stream_time", "must be an RFC 3339 time or integer nanoseconds"
        ) from None


StreamTime = Annotated[datetime, PlainValidator(_stream_time)]
"""A pydantic field for a Stream date: RFC 3339 text or integer nanoseconds."""


def ban_from_json(item: Mapping[str, Any]) -> Ban:
    return Ban(**dict(_read(_BanAnswer, item, "bans[]")))


def user_block_from_json(item: Mapping[str, Any]) -> UserBlock:
    return UserBlock(**dict(_read(_BlockAnswer, item, "blocks[]")))


def list_field(body: object, name: str) -> list[Mapping[str, Any]]:
    """`body[name]` as a list of objects; a missing or null list is empty."""
    if not isinstance(body, Mapping):
        raise UnreadableResponse("the answer is not a JSON object")
    items = body.get(name)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise UnreadableResponse(f"{name} is not a list of objects")
    return items


# Ban and UserBlock as Stream sends them, under the same field names. Unknown fields are ignored;
# an optional text that is not a non-empty string reads as absent rather than failing the answer.
_Id = Annotated[StrictStr, Field(min_length=1)]
_OptionalText = Annotated[
    str | None, BeforeValidator(lambda value: value if isinstance(value, str) and value else None)
]


class _BanAnswer(BaseModel):
    user_id: _Id = Field(validation_alias=AliasPath("user", "id"))
    user_name: _OptionalText = Field(None, validation_alias=AliasPath("user", "name"))
    banned_by_id: _OptionalText = Field(None, validation_alias=AliasPath("banned_by", "id"))
    created_at: StreamTime
    expires_at: StreamTime | None = Field(None, validation_alias="expires")
    reason: _OptionalText = None


class _BlockAnswer(BaseModel):
    user_id: _Id
    blocked_user_id: _Id
    created_at: StreamTime | None = None


_Answer = TypeVar("_Answer", bound=BaseModel)


def _read(model: type[_Answer], item: Mapping[str, Any], where: str) -> _Answer:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join([where, *map(str, error["loc"])])
        problem = "is not a timestamp" if error["type"] == "stream_time" else "is missing"
        raise UnreadableResponse(f"{field} {problem}") from None
