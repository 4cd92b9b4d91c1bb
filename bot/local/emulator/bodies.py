"""Request bodies as Stream accepts them, and their failures as `Invalid` per field.

Strict types: Stream's Go server rejects `"true"` for a bool and `"30"` for an int, and so do we.
An explicit `null` is the field left out, as for Stream's Go server: Stream's own SDKs send
`null` for every unset field of a query `payload` (and older ones in bodies too). A required
field sent as `null` is therefore "required", not "wrong type".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from bot.local.emulator.errors import Invalid
from bot.local.emulator.ids import USER_ID


def _user_id(value: str) -> str:
    if not USER_ID.fullmatch(value):
        raise PydanticCustomError(
            "user_id", "{value!r} is not a valid user id (letters, digits, @, _ or -, at most 255)",
            {"value": value},
        )
    return value


UserId = Annotated[str, AfterValidator(_user_id)]


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class UserOnCall(Body):
    user_id: UserId


class KickBody(Body):
    user_id: UserId
    block: bool = False
    kicked_by_id: UserId | None = None


class ScreensharingOverride(Body):
    enabled: bool | None = None
    access_request_enabled: bool | None = None


class SettingsOverride(Body):
    screensharing: ScreensharingOverride | None = None


class UpdateCallBody(Body):
    settings_override: SettingsOverride | None = None


class MuteUsersBody(Body):
    mute_all_users: bool = False
    user_ids: list[UserId] | None = None
    audio: bool = False
    video: bool = False
    screenshare: bool = False
    screenshare_audio: bool = False
    muted_by_id: UserId | None = None

    @property
    def tracks(self) -> list[str]:
        flags = {
            "audio": self.audio,
            "video": self.video,
            "screenshare": self.screenshare,
            "screenshare_audio": self.screenshare_audio,
        }
        return [track for track, on in flags.items() if on]


class UserPermissionsBody(Body):
    user_id: UserId
    grant_permissions: list[str] = Field(default_factory=list)
    revoke_permissions: list[str] = Field(default_factory=list)


class BanBody(Body):
    target_user_id: UserId
    banned_by_id: UserId
    reason: str | None = None
    timeout: Annotated[int, Field(ge=1)] | None = None
    ip_ban: bool = False


class UnbanBody(Body):
    unbanned_by_id: UserId | None = None


class OldUnbanBody(Body):
    target_user_id: UserId | None = None


class SortParam(Body):
    field: Literal["created_at"]
    direction: Literal[1, -1] = 1


class QueryBannedUsersPayload(Body):
    filter_conditions: dict[str, Any]
    exclude_expired_bans: bool = False
    limit: Annotated[int, Field(ge=0, le=300)] | None = None
    offset: Annotated[int, Field(ge=0, le=10_000)] = 0
    sort: list[SortParam] = Field(default_factory=list)
    # Bounds on created_at beside filter_conditions (RFC 3339), as Stream's payload has them.
    created_at_after: str | None = None
    created_at_after_or_equal: str | None = None
    created_at_before: str | None = None
    created_at_before_or_equal: str | None = None


class DeactivateBody(Body):
    created_by_id: UserId | None = None
    mark_messages_deleted: bool = False


class ReactivateBody(Body):
    created_by_id: UserId | None = None
    restore_messages: bool = False


class UserBlockBody(Body):
    user_id: UserId
    blocked_user_id: UserId


class UserUpsert(Body):
    id: UserId | None = None
    name: str | None = None
    role: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")] = "user"


class UpsertUsersBody(Body):
    users: Annotated[dict[str, UserUpsert], Field(min_length=1, max_length=100)]


class SortItem(Body):
    """A sort item of the video and user queries; which fields are allowed is per query."""

    field: Annotated[str, Field(min_length=1)]
    direction: Literal[1, -1] = 1
    type: str | None = None


class QueryCallsBody(Body):
    filter_conditions: dict[str, Any] = Field(default_factory=dict)
    limit: Annotated[int, Field(ge=0, le=100)] | None = None
    next: str | None = None
    prev: str | None = None
    sort: Annotated[list[SortItem], Field(max_length=2)] = Field(default_factory=list)


class QueryCallParticipantsBody(Body):
    filter_conditions: dict[str, Any] = Field(default_factory=dict)


class SenderRef(Body):
    id: UserId


class SendCallEventBody(Body):
    user_id: UserId | None = None
    user: SenderRef | None = None  # a server-side sender given as a user object
    custom: dict[str, Any] = Field(default_factory=dict)


class PartialUserUpdate(Body):
    id: UserId
    set: dict[str, Any] = Field(default_factory=dict)
    unset: list[str] = Field(default_factory=list)


class UpdateUsersPartialBody(Body):
    users: Annotated[list[PartialUserUpdate], Field(min_length=1, max_length=100)]


class QueryUsersPayload(Body):
    filter_conditions: dict[str, Any]
    include_deactivated_users: bool = False
    limit: Annotated[int, Field(ge=0, le=100)] | None = None
    offset: Annotated[int, Field(ge=0, le=1000)] = 0
    sort: Annotated[list[SortItem], Field(max_length=5)] = Field(default_factory=list)
    presence: bool = False
    # Bounds on the id beside filter_conditions, as Stream's payload has them.
    id_gt: str | None = None
    id_gte: str | None = None
    id_lt: str | None = None
    id_lte: str | None = None


BodyT = TypeVar("BodyT", bound=Body)


def parse_body(model: type[BodyT], raw: bytes) -> BodyT:
    """Validate a JSON body; every problem becomes an `Invalid` entry named by its field."""
    try:
        return model.model_validate_json(raw or b"")
    except ValidationError as exc:
        raise Invalid(describe(exc)) from None


def describe(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "body"
        kind = error["type"]
        if kind == "json_invalid":
            problem = "the request body is not valid JSON"
        elif kind == "missing":
            problem = f"{name} is a required field"
        elif kind in {"model_type", "model_attributes_type"} and name == "body":
            problem = "the request body must be a JSON object"
        else:
            problem = f"{name}: {error['msg']}"
        fields.setdefault(name, problem)
    return fields
