"""Configuration from the environment and `.env` (DESIGN.md §2).

`load_settings()` turns any missing or malformed value into one `ConfigError` line naming the
variable and what it must look like; `python -m bot` prints it and exits with status 2.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
USERGROUP_HANDLE = re.compile(r"^@[a-z0-9][a-z0-9._-]{0,79}$")
CALL_TYPE = re.compile(r"^[a-z0-9_-]{1,64}$")
STREAM_USER_ID = re.compile(r"^[A-Za-z0-9@_-]{1,255}$")
# Acked commands doing Stream/Slack work at once; measured in benchmarks/README.md.
POST_ACK_LIMIT = 4
CHANNEL = re.compile(r"^([CGD][A-Z0-9]{2,}|#?[a-z0-9][a-z0-9._-]{0,79})$")
# Slash-command name prefix (`cm-` → /cm-kick): Slack's command-name characters; 20 characters
# leave room for the longest command name within Slack's 32 (checked in bot/core/names.py).
COMMAND_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_-]{0,19}$")
# A host name (RFC 1123 labels); one whose last label is all digits is a mistyped IP address.
HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_MEMBER_LIST = "a comma list of Slack user ids (U0123ABCD) or user-group handles (@oncall-mods)"
_HINTS: dict[str, str] = {
    "slack_bot_token": "a Slack bot token starting with xoxb-",
    "slack_signing_secret": "the Signing Secret from the Slack app's Basic Information page",
    "slack_app_token": "an app-level token starting with xapp-",
    "stream_api_key": "the Stream project's API key",
    "stream_api_secret": "the Stream project's API secret",
    "mod_default_call_type": "a Stream call type: lower-case letters, digits, _ or -",
    "mod_command_prefix": "lower-case letters, digits, _ or -, at most 20, e.g. cm- (or empty)",
    "mod_stream_user_id": "a Stream user id: letters, digits, @, _ or -",
    "mod_admins": _MEMBER_LIST,
    "mod_moderators": _MEMBER_LIST,
    "mod_log_channel": "a Slack channel id like C0123ABCD or a name like #mod-log",
    "mod_requests_channel": "a Slack channel id like C0123ABCD or a name like #mod-requests",
    "mod_alerts_channel": "a Slack channel id like C0123ABCD or a name like #mod-alerts",
    "mod_alert_escalate_after": "a number of seconds greater than 0",
    "port": "a TCP port number from 1 to 65535",
    "database_url": "an SQLAlchemy async URL: sqlite+aiosqlite:///callmod.db or "
    "postgresql+asyncpg://user:password@host/db",
    "mod_case_retention_days": "a whole number of days (unset keeps cases forever)",
    "mod_reconcile_seconds": "a number of seconds greater than 0",
    "redis_url": "a Redis URL: redis://host:6379/0 or rediss://user:password@host:6380/0",
    "mod_lease_seconds": "a number of seconds greater than 0",
    "host": "an IP address (0.0.0.0, 127.0.0.1, ::) or a host name of this machine",
    "log_level": "one of " + ", ".join(LOG_LEVELS),
    "log_format": "text or json",
    "slack_api_url": "an http(s) URL such as https://slack.com/api/",
    "stream_base_url": "an http(s) URL such as https://video.stream-io-api.com",
    "stream_connect_timeout": "a number of seconds greater than 0",
    "stream_read_timeout": "a number of seconds greater than 0",
    "stream_deadline": "a number of seconds greater than 0",
    "mod_usergroup_cache_seconds": "a number of seconds, 0 or more",
    "mod_request_max_age_seconds": "a number of seconds greater than 0",
    "mod_undo_seconds": "a number of seconds greater than 0",
    "mod_max_concurrent_actions": "a whole number from 1 to 256",
    "mod_reason_presets": "the path of a JSON or YAML file of reason presets",
    "mod_require_reason": "true or false",
}


class ConfigError(Exception):
    """One line for the operator: which variable, what it must look like."""


def _split_members(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        items = [str(v).strip() for v in value]
    else:
        items = [part.strip() for part in str(value).split(",")]
    members = [item for item in items if item]
    for member in members:
        if not (SLACK_USER_ID.match(member) or USERGROUP_HANDLE.match(member)):
            raise ValueError(
                f"{member!r} is neither a Slack user id (U0123ABCD) "
                "nor a user-group handle (@oncall-mods)"
            )
    return members


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    stream_api_key: str | None = None
    stream_api_secret: SecretStr | None = None
    stream_base_url: str = "https://video.stream-io-api.com"
    stream_connect_timeout: float = Field(default=5.0, gt=0)
    stream_read_timeout: float = Field(default=10.0, gt=0)
    stream_deadline: float = Field(default=8.0, gt=0)

    mod_default_call_type: str = "default"
    mod_command_prefix: str = ""  # slash commands also answer as /<prefix><name>
    mod_stream_user_id: str = "callmod-bot"
    mod_admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mod_moderators: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mod_log_channel: str | None = None
    mod_requests_channel: str | None = None
    # Stream's moderation alerts (bot/moderation/alerts): their channel (default: the requests
    # channel) and how long an undecided one waits before the moderators are pinged.
    mod_alerts_channel: str | None = None
    mod_alert_escalate_after: float = Field(default=600.0, gt=0)
    mod_usergroup_cache_seconds: float = Field(default=60.0, ge=0)
    mod_request_max_age_seconds: float = Field(default=900.0, gt=0)
    mod_undo_seconds: float = Field(default=1800.0, gt=0)  # how long an Undo button works
    # Acked commands doing their Stream and Slack work at once; the rest wait their turn.
    mod_max_concurrent_actions: int = Field(default=POST_ACK_LIMIT, ge=1, le=256)

    database_url: SecretStr = SecretStr("sqlite+aiosqlite:///callmod.db")  # may hold a password
    mod_case_retention_days: int | None = Field(default=None, ge=1)
    # How often callmod's view of bans is brought into line with Stream's.
    mod_reconcile_seconds: float = Field(default=300.0, gt=0)
    # Shared state for running several replicas (bot/shared): unset keeps it in this process.
    redis_url: SecretStr | None = None  # may hold a password
    # How long a replica holds a claimed timer before another one may take it over.
    mod_lease_seconds: float = Field(default=30.0, gt=0)
    # Also tell each call what a moderator did (a `callmod.notice` custom event); off by default
    # because only a call app built to render those events shows anything.
    mod_notify_calls: bool = False
    # Reason presets (a JSON or YAML file, checked at start-up by bot/core/presets.py) and
    # whether bans, kicks and blocks need a reason.
    mod_reason_presets: str | None = None
    mod_require_reason: bool = False

    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=1, le=65535)
    # Bind with SO_REUSEPORT, so several processes on one host accept on the same PORT and the
    # kernel spreads new connections among them (REUSE_PORT=true; Linux, off by default).
    reuse_port: bool = False
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    @field_validator("mod_admins", "mod_moderators", mode="before")
    @classmethod
    def _members(cls, value: object) -> list[str]:
        return _split_members(value)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must start with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must start with xapp-")
        return value

    @field_validator("mod_command_prefix")
    @classmethod
    def _command_prefix(cls, value: str) -> str:
        if value and not COMMAND_PREFIX.match(value):
            raise ValueError(f"{value!r} cannot start a slash-command name")
        return value

    @field_validator("mod_default_call_type")
    @classmethod
    def _call_type(cls, value: str) -> str:
        if not CALL_TYPE.match(value):
            raise ValueError(f"{value!r} has characters a call type cannot have")
        return value

    @field_validator("mod_stream_user_id")
    @classmethod
    def _stream_user(cls, value: str) -> str:
        if not STREAM_USER_ID.match(value):
            raise ValueError(f"{value!r} is not a valid Stream user id")
        return value

    @field_validator("mod_log_channel", "mod_requests_channel", "mod_alerts_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not CHANNEL.match(value):
            raise ValueError(f"{value!r} is not a channel id or name")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        if value == "" or value is None:
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if not text.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("mod_case_retention_days", mode="before")
    @classmethod
    def _retention(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        _check_http_url(value)
        return value if value.endswith("/") else value + "/"

    @field_validator("stream_base_url")
    @classmethod
    def _stream_url(cls, value: str) -> str:
        _check_http_url(value)
        return value

    @field_validator("slack_signing_secret", "stream_api_secret", "stream_api_key")
    @classmethod
    def _not_blank(cls, value: SecretStr | str | None) -> SecretStr | str | None:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is not None and not text.strip():
            raise ValueError("is blank")
        if text is not None and text != text.strip():
            raise ValueError("starts or ends with spaces or a line break")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _is_host(value):
            raise ValueError(f"{value!r} is neither an IP address nor a host name")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level")
        return level

    @model_validator(mode="after")
    def _modes(self) -> Settings:
        if self.slack_bot_token is not None:
            if self.slack_signing_secret is None:
                raise ConfigError(
                    "SLACK_SIGNING_SECRET is required when SLACK_BOT_TOKEN is set: "
                    + _HINTS["slack_signing_secret"]
                )
            if self.mod_log_channel is None:
                raise ConfigError(
                    "MOD_LOG_CHANNEL is required when SLACK_BOT_TOKEN is set: "
                    + _HINTS["mod_log_channel"]
                )
        if (self.stream_api_key is None) != (self.stream_api_secret is None):
            missing = "STREAM_API_SECRET" if self.stream_api_secret is None else "STREAM_API_KEY"
            raise ConfigError(
                f"{missing} is required when the other Stream credential is set: "
                + _HINTS[missing.lower()]
            )
        return self

    def with_values(self, **changes: object) -> Settings:
        """A copy with `changes` applied and validated again (secrets stay `SecretStr`);
        `model_copy(update=...)` would store the raw values unchecked."""
        return type(self).model_validate({**self.model_dump(), **changes})

    @property
    def slack_mode(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def stream_emulated(self) -> bool:
        return self.stream_api_key is None

    @property
    def requests_channel(self) -> str | None:
        return self.mod_requests_channel or self.mod_log_channel

    @property
    def alerts_channel(self) -> str | None:
        return self.mod_alerts_channel or self.requests_channel


def load_settings(**overrides: object) -> Settings:
    """Read settings; every problem becomes a single-line `ConfigError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except ConfigError:
        raise
    except ValueError as exc:  # pydantic wraps most, but a settings source can raise directly
        raise ConfigError(str(exc).splitlines()[0]) from None


def _check_http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")


def _is_host(value: str) -> bool:
    """An IP address, or a syntactically valid host name (whether it resolves is found out when
    the server binds: see bot/runtime/listen.py)."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    labels = value.removesuffix(".").split(".")
    if len(value) > 253 or not all(HOST_LABEL.match(label) for label in labels):
        return False
    return not labels[-1].isdigit()


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, ConfigError):
        return str(inner)
    message = str(inner) if inner is not None else str(error["msg"])
    hint = _HINTS.get(field)
    name = field.upper() or "configuration"
    return f"{name}: {message}" + (f" (expected {hint})" if hint else "")
