"""The values the Stream client takes and returns, and how they are read from Stream's JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, TypeVar

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
    image: str | None = None
    created_at: datetime | None = None
    banned: bool = False


class UnreadableResponse(ValueError):
    """Stream answered 2xx with JSON we cannot read."""


@dataclass(frozen=True)
class Skipped:
    """An entry of a list answer that callmod could not read and left out."""

    index: int  # its position in the answer's list
    reason: str  # which field is wrong, e.g. "bans[].user.id is missing"
    created_at: datetime | None  # its date, when that much is readable
    names: str  # what identifies it as far as readable: ids and date, never free text


class BanPage(list[Ban]):
    """One page of `query_banned_users` as read: the bans callmod could read, in Stream's order.

    `raw_count` counts every entry Stream sent, read or not. Offsets count those, so the next page
    starts at `offset + raw_count` and a page is the last when `raw_count < limit`. `skipped` are
    the entries left out; `oldest_created_at` is the date of the last entry whose date is readable
    (where a created_at cursor goes on from).
    """

    def __init__(
        self,
        bans: Iterable[Ban] = (),
        *,
        raw_count: int | None = None,
        skipped: Sequence[Skipped] = (),
        oldest_created_at: datetime | None = None,
    ) -> None:
        super().__init__(bans)
        self.raw_count = len(self) if raw_count is None else raw_count
        self.skipped = tuple(skipped)
        if oldest_created_at is None and self:
            oldest_created_at = self[-1].created_at
        self.oldest_created_at = oldest_created_at


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


def ban_from_json(item: object) -> Ban:
    return Ban(**dict(read_model(_BanAnswer, item, "bans[]")))


def user_block_from_json(item: object) -> UserBlock:
    return UserBlock(**dict(read_model(_BlockAnswer, item, "blocks[]")))


def list_field(body: object, name: str) -> list[object]:
    """`body[name]` as a list (its entries are read one by one); a missing or null list is
    empty."""
    if not isinstance(body, Mapping):
        raise UnreadableResponse("the answer is not a JSON object")
    items = body.get(name)
    if items is None:
        return []
    if not isinstance(items, list):
        raise UnreadableResponse(f"{name} is not a list")
    return items


def entry_time(item: object, name: str = "created_at") -> datetime | None:
    """An entry's date if it is there and readable, else None (never raises)."""
    if not isinstance(item, Mapping):
        return None
    value = item.get(name)
    if value is None or isinstance(value, datetime):
        return value
    try:
        return parse_stream_time(value)
    except (ValueError, OverflowError, OSError):
        return None


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


def read_model(model: type[_Answer], item: object, where: str) -> _Answer:
    if not isinstance(item, Mapping):
        raise UnreadableResponse(f"{where} is not an object")
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join([where, *map(str, error["loc"])])
        problem = "is not a timestamp" if error["type"] == "stream_time" else "is missing"
        raise UnreadableResponse(f"{field} {problem}") from None
