"""Reason presets (`MOD_REASON_PRESETS`) and required reasons (`MOD_REQUIRE_REASON`), issue 14.

A preset file is JSON, or YAML (`.yaml`/`.yml`): a list of presets, or `{"presets": [...]}`:

    - key: spam                 # typed as `#spam` after the user (and the call, for /kick)
      label: Spam               # what the form and `/mod help` show
      reason: Spamming the call # the reason recorded in the case, Stream and the audit line
      duration: 2h              # optional: /ban's length when none is typed
      min_role: moderator       # optional: moderator (default) or admin

The file is read and checked once, at start-up (`serve` refuses a missing or malformed one with
one line naming MOD_REASON_PRESETS, exit 2); `presets_of(settings)` returns the loaded book.

Typed use (`reason_from`): the first word of a command's reason, when it is `#key`, names a
preset; its reason becomes the reason and any words after it are appended (`#spam in chat too`
→ "Spamming the call — in chat too"). An unknown `#key` is a usage error listing the known keys.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.model import Role
from bot.core.parsing import UsageError, parse_duration
from bot.settings import ConfigError, Settings
from bot.slack.blocks import escape

VARIABLE = "MOD_REASON_PRESETS"
PRESET_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
PRESET_WORD = re.compile(r"#[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
REASON_LIMIT = 500  # for every reason: typed, preset or in a form
MAX_PRESETS = 100  # a Slack static select holds at most 100 options
ROLES = {"moderator": Role.MODERATOR, "admin": Role.ADMIN}
REQUIRED = "A reason is required (MOD_REQUIRE_REASON); add one after the user, e.g. "


class ReasonPreset(BaseModel):
    """One preset. `key` is what is typed after `#`; `duration` applies to bans only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    label: str = Field(min_length=1, max_length=75)  # a select option's text
    reason: str = Field(min_length=1, max_length=REASON_LIMIT)
    duration: timedelta | None = None
    min_role: Role = Role.MODERATOR

    @field_validator("key", mode="before")
    @classmethod
    def _key(cls, value: object) -> str:
        key = str(value).removeprefix("#") if isinstance(value, str) else value
        if not isinstance(key, str) or not PRESET_KEY.fullmatch(key):
            raise ValueError(
                f"key {value!r} must be lower-case letters, digits, _ or -, at most 40"
            )
        return key

    @field_validator("label", "reason", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: object) -> timedelta | None:
        if value is None or value == "":
            return None
        if isinstance(value, timedelta):
            return value
        if not isinstance(value, str):
            raise ValueError(f"duration {value!r} must be written like 30m, 2h, 1d or 1w")
        try:
            return parse_duration(value.strip())
        except UsageError as error:
            raise ValueError(str(error).replace("`", "")) from None

    @field_validator("min_role", mode="before")
    @classmethod
    def _role(cls, value: object) -> Role:
        if isinstance(value, Role):
            return value
        role = ROLES.get(str(value).strip().lower())
        if role is None:
            raise ValueError(f"min_role {value!r} must be moderator or admin")
        return role


@dataclass(frozen=True)
class PresetBook:
    presets: tuple[ReasonPreset, ...] = ()

    def get(self, key: str) -> ReasonPreset | None:
        return next((p for p in self.presets if p.key == key), None)

    def usable_by(self, role: Role) -> tuple[ReasonPreset, ...]:
        return tuple(p for p in self.presets if role >= p.min_role)

    @property
    def keys_text(self) -> str:
        return ", ".join(f"`#{p.key}`" for p in self.presets) or "none are configured"


@dataclass(frozen=True)
class ChosenReason:
    """The reason a command's words give: typed, from a preset, or none."""

    text: str | None
    preset: ReasonPreset | None = None

    @property
    def role(self) -> Role:
        return self.preset.min_role if self.preset else Role.MODERATOR


def load_presets(path: str | None) -> PresetBook:
    """Read and check a preset file; every problem is one `ConfigError` line naming
    MOD_REASON_PRESETS. Cached per path: the file is read once per process."""
    if not path:
        return PresetBook()
    return _load(path)


@functools.cache
def _load(path: str) -> PresetBook:
    file = Path(path)
    try:
        raw = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{VARIABLE}: cannot read {path}: {error.strerror or error}") from None
    try:
        data: Any = (
            yaml.safe_load(raw) if file.suffix.lower() in (".yaml", ".yml") else json.loads(raw)
        )
    except (ValueError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{VARIABLE}: {path} is not valid {_format(file)}: {first}") from None
    if isinstance(data, dict) and set(data) == {"presets"}:
        data = data["presets"]
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{VARIABLE}: {path} must hold a non-empty list of presets")
    if len(data) > MAX_PRESETS:
        raise ConfigError(f"{VARIABLE}: {path} holds {len(data)} presets; at most {MAX_PRESETS}")
    presets = []
    for n, item in enumerate(data, start=1):
        try:
            presets.append(ReasonPreset.model_validate(item))
        except ValidationError as error:
            detail = error.errors()[0]
            where = ".".join(str(part) for part in detail["loc"])
            message = str(detail["msg"]).removeprefix("Value error, ")
            at = f" ({where})" if where else ""
            raise ConfigError(f"{VARIABLE}: preset {n} in {path}{at}: {message}") from None
    keys = [p.key for p in presets]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ConfigError(f"{VARIABLE}: preset key #{twice[0]} is used twice in {path}")
    return PresetBook(tuple(presets))


def _format(file: Path) -> str:
    return "YAML" if file.suffix.lower() in (".yaml", ".yml") else "JSON"


def presets_of(settings: Settings) -> PresetBook:
    return load_presets(settings.mod_reason_presets)


def reason_from(
    words: list[str], settings: Settings, example: str, *, preset_allowed: bool = True
) -> ChosenReason:
    """The reason in a command's trailing words: `#key [more…]` names a preset, anything else is
    typed text. With MOD_REQUIRE_REASON, no reason is a usage error showing `example`."""
    text = " ".join(words).strip() or None
    preset = None
    if preset_allowed and words and PRESET_WORD.fullmatch(words[0]):
        book = presets_of(settings)
        preset = book.get(words[0][1:].lower())
        if preset is None:
            raise UsageError(f"`{words[0]}` is not a reason preset (known: {book.keys_text})")
        extra = " ".join(words[1:]).strip()
        text = f"{preset.reason} — {extra}" if extra else preset.reason
    if text and len(text) > REASON_LIMIT:
        raise UsageError(f"the reason is longer than {REASON_LIMIT} characters")
    if text is None and settings.mod_require_reason:
        book = presets_of(settings)
        hint = f" or `#{book.presets[0].key}`" if book.presets else ""
        raise UsageError(f"{REQUIRED}`{example}`{hint}")
    return ChosenReason(text, preset)


def presets_help(settings: Settings, role: Role) -> str | None:
    """The `/mod help` line listing the presets `role` may use, or None when there are none."""
    usable = presets_of(settings).usable_by(role)
    if not usable:
        return None
    shown = ", ".join(f"`#{p.key}` {escape(p.label)}" for p in usable)
    return f"Reason presets (type after the user, e.g. `/ban sara #{usable[0].key}`): {shown}"
