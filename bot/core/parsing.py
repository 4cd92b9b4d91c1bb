"""The command grammar's pieces: users, calls, durations, track and permission words, flags.

Every failure is a `UsageError` whose message names what was wrong; the dispatcher adds the
command's usage line.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.settings import Settings
from bot.slack.blocks import code
from bot.stream import CallRef, Permission, Track

# Matched with fullmatch: `$` would also accept a trailing newline. ASCII digits only: `\d` would
# take any Unicode digit (e.g. "١h") as a number.
USER_ID = re.compile(r"[A-Za-z0-9@_-]{1,255}")
CALL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CALL_TYPE = re.compile(r"[a-z0-9_-]{1,64}")
DURATION = re.compile(r"(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?")
DURATION_LIKE = re.compile(r"[+-]?[0-9]")

MIN_BAN = timedelta(minutes=1)
MAX_BAN = timedelta(days=365)

TRACK_WORDS: dict[str, Track] = {
    "audio": "audio",
    "video": "video",
    "screenshare": "screenshare",
    "screenshare_audio": "screenshare_audio",
}
ALL_TRACKS: tuple[Track, ...] = ("audio", "video", "screenshare", "screenshare_audio")
PERMISSION_WORDS: dict[str, Permission] = {
    "audio": "send-audio",
    "video": "send-video",
    "screenshare": "screenshare",
}

# The permissions in words, as moderators read them (Stream's names are for machines).
PERMISSION_PHRASES: dict[str, str] = {
    "send-audio": "speak",
    "send-video": "share video",
    "screenshare": "share screen",
}


def describe_permissions(permissions: Sequence[str]) -> str:
    """`speak and share video`; a name Stream sent that we do not know is shown as code."""
    return " and ".join(PERMISSION_PHRASES.get(p) or code(p) for p in permissions)


class UsageError(ValueError):
    """Bad command input; the message says what was wrong, in a sentence."""


@dataclass(frozen=True)
class Words:
    """A command's text split into positional words and `--flags`."""

    positional: tuple[str, ...]
    flags: frozenset[str]

    def flag(self, name: str) -> bool:
        return name in self.flags


def split_words(text: str, allowed_flags: Collection[str] = ()) -> Words:
    positional: list[str] = []
    flags: set[str] = set()
    for word in text.split():
        if word.startswith("--"):
            if word not in allowed_flags:
                known = ", ".join(sorted(allowed_flags)) or "none"
                raise UsageError(f"unknown option `{_show(word)}` (options: {known})")
            flags.add(word)
        else:
            positional.append(word)
    return Words(tuple(positional), frozenset(flags))


def expect_count(words: Sequence[str], minimum: int, maximum: int | None = None) -> None:
    if len(words) < minimum:
        raise UsageError("some arguments are missing")
    if maximum is not None and len(words) > maximum:
        extra = " ".join(_show(w) for w in words[maximum:])
        raise UsageError(f"unexpected extra words: `{extra}`")


def parse_user(word: str) -> str:
    user = word[1:] if word.startswith("@") and len(word) > 1 else word
    if not USER_ID.fullmatch(user):
        raise UsageError(
            f"`{_show(word)}` is not a Stream user id (letters, digits, @, _ or -, at most 255)"
        )
    return user


def one_user(text: str, allowed_flags: Collection[str] = ()) -> tuple[str, Words]:
    """The `<user> [--flag]` grammar shared by several commands."""
    words = split_words(text, allowed_flags)
    expect_count(words.positional, 1, 1)
    return parse_user(words.positional[0]), words


def user_argument(text: str, settings: Settings) -> str:
    """The parser of every command whose only argument is one user (`/unban`, `/blocked`)."""
    return one_user(text)[0]


def parse_users(word: str) -> tuple[str, ...]:
    users = tuple(dict.fromkeys(parse_user(part) for part in word.split(",") if part))
    if not users:
        raise UsageError("name at least one user")
    return users


def parse_call(word: str, default_type: str) -> CallRef:
    call_type, sep, call_id = word.rpartition(":")
    if not sep:
        call_type = default_type
    if not CALL_TYPE.fullmatch(call_type):
        raise UsageError(
            f"`{_show(call_type)}` is not a call type (lower-case letters, digits, _ or -)"
        )
    if not CALL_ID.fullmatch(call_id):
        raise UsageError(
            f"`{_show(word)}` is not a call id (letters, digits, _ or -, at most 64; "
            "e.g. `call-123` or `livestream:call-123`)"
        )
    return CallRef(type=call_type, id=call_id)


def looks_like_duration(word: str) -> bool:
    return bool(DURATION_LIKE.match(word))


def parse_duration(word: str) -> timedelta:
    """`30m`, `2h`, `1d`, `1w`, `1d12h`: units in that order, each at most once."""
    match = DURATION.fullmatch(word.lower())
    if not word or not match:
        raise UsageError(
            f"`{_show(word)}` is not a duration (use e.g. `30m`, `2h`, `1d`, `1w` or `1d12h`)"
        )
    weeks, days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    if max(weeks, days, hours, minutes) > 10**6:
        raise UsageError(f"`{_show(word)}` is longer than {format_duration(MAX_BAN)}")
    duration = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    if duration < MIN_BAN:
        raise UsageError(f"`{_show(word)}` is too short: a ban lasts at least 1 minute")
    if duration > MAX_BAN:
        raise UsageError(f"`{_show(word)}` is longer than {format_duration(MAX_BAN)}")
    return duration


def format_duration(duration: timedelta) -> str:
    """Largest units first, e.g. `1d 12h`, `30m`, `1w 2d`; the inverse of `parse_duration`
    once the spaces are removed."""
    minutes = int(duration.total_seconds() // 60)
    parts = []
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0m"


def parse_tracks(words: Sequence[str], *, allow_all: bool) -> tuple[Track, ...]:
    """Track words in any order; none means audio; `all` means every track."""
    tracks: list[Track] = []
    for word in words:
        lowered = word.lower()
        if allow_all and lowered == "all":
            return ALL_TRACKS
        track = TRACK_WORDS.get(lowered)
        if track is None:
            options = ", ".join([*TRACK_WORDS, *(["all"] if allow_all else [])])
            raise UsageError(f"`{_show(word)}` is not a track (use {options})")
        if track not in tracks:
            tracks.append(track)
    return tuple(tracks) or ("audio",)


def parse_permissions(words: Sequence[str]) -> tuple[Permission, ...]:
    if not words:
        raise UsageError("name at least one permission: audio, video or screenshare")
    permissions: list[Permission] = []
    for word in words:
        permission = PERMISSION_WORDS.get(word.lower())
        if permission is None:
            raise UsageError(
                f"`{_show(word)}` is not a permission (use audio, video or screenshare)"
            )
        if permission not in permissions:
            permissions.append(permission)
    return tuple(permissions)


def _show(word: str) -> str:
    """User text quoted back inside a code span: bounded, escaped, backticks removed."""
    return code(word, limit=40)[1:-1]
