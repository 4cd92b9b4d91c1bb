"""The command grammar's pieces (`bot.core.parsing`): unit tests plus hypothesis properties checked
against independent reference rules written from DESIGN.md §3/§4."""

from __future__ import annotations

import string
from datetime import timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.core.parsing import (
    ALL_TRACKS,
    MAX_BAN,
    MIN_BAN,
    UsageError,
    expect_count,
    format_duration,
    looks_like_duration,
    parse_call,
    parse_duration,
    parse_permissions,
    parse_tracks,
    parse_user,
    parse_users,
    split_words,
)
from bot.stream import CallRef

USER_CHARS = string.ascii_letters + string.digits + "@_-"
CALL_ID_CHARS = string.ascii_letters + string.digits + "_-"
CALL_TYPE_CHARS = string.ascii_lowercase + string.digits + "_-"
# Characters near the grammar: every id character plus the ones people actually mistype.
NEAR_ID = st.sampled_from([*USER_CHARS, *":/ .,#!<>&`\n\t", "é", "١", "ß", "\u200b"])


def is_user_id(text: str) -> bool:
    return 1 <= len(text) <= 255 and all(c in USER_CHARS for c in text)


def is_call_id(text: str) -> bool:
    return 1 <= len(text) <= 64 and all(c in CALL_ID_CHARS for c in text)


def is_call_type(text: str) -> bool:
    return 1 <= len(text) <= 64 and all(c in CALL_TYPE_CHARS for c in text)


# --- users --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "user"),
    [
        ("sara", "sara"),
        ("@sara", "sara"),
        ("a_b-c@d", "a_b-c@d"),
        ("@", "@"),
        ("x" * 255, "x" * 255),
    ],
)
def test_parse_user_accepts_ids(word: str, user: str) -> None:
    assert parse_user(word) == user


@pytest.mark.parametrize(
    "word", ["", "bad/id", "sa ra", "sara\n", "sara:", "x" * 256, "séra", "<@U123>", "s`a"]
)
def test_parse_user_refuses_non_ids(word: str) -> None:
    with pytest.raises(UsageError, match="is not a Stream user id"):
        parse_user(word)


@given(st.text(NEAR_ID, max_size=300))
@example("sara\n")
@example("@" + "x" * 255)
@example("x" * 256)
def test_parse_user_accepts_exactly_the_id_grammar(word: str) -> None:
    # One leading @ is a Slack-style mention of the user and is dropped.
    expected = word[1:] if word.startswith("@") and len(word) > 1 else word
    if is_user_id(expected):
        assert parse_user(word) == expected
    else:
        with pytest.raises(UsageError):
            parse_user(word)


@given(st.text(st.sampled_from(USER_CHARS), min_size=1, max_size=255))
def test_every_valid_user_id_parses(user: str) -> None:
    assert parse_user(user) == (user[1:] if user.startswith("@") and len(user) > 1 else user)


def test_parse_users_splits_dedupes_and_keeps_order() -> None:
    assert parse_users("sara,john,@sara,,alice,") == ("sara", "john", "alice")
    with pytest.raises(UsageError, match="name at least one user"):
        parse_users(",,")
    with pytest.raises(UsageError, match="`b!d` is not a Stream user id"):
        parse_users("sara,b!d")


# --- calls --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "ref"),
    [
        ("call-123", CallRef("default", "call-123")),
        ("livestream:call-123", CallRef("livestream", "call-123")),
        ("audio_room:Room_9", CallRef("audio_room", "Room_9")),
        ("c" * 64, CallRef("default", "c" * 64)),
    ],
)
def test_parse_call_accepts_call_names(word: str, ref: CallRef) -> None:
    assert parse_call(word, "default") == ref


@pytest.mark.parametrize(
    ("word", "problem"),
    [
        ("call:with:colons", "is not a call type"),
        ("Live:call-123", "is not a call type"),
        (":call-123", "is not a call type"),
        ("default:", "is not a call id"),
        ("call.123", "is not a call id"),
        ("c" * 65, "is not a call id"),
        ("call@123", "is not a call id"),
        ("call-123\n", "is not a call id"),
        ("", "is not a call id"),
    ],
)
def test_parse_call_refuses_non_calls(word: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_call(word, "default")


@given(st.text(st.sampled_from(CALL_ID_CHARS + CALL_TYPE_CHARS + ":@. \nA"), max_size=80))
@example("default:call-123\n")
@example("a:b:c")
def test_parse_call_accepts_exactly_the_call_grammar(word: str) -> None:
    if ":" in word:
        call_type, _, call_id = word.partition(":")
        valid = ":" not in call_id and is_call_type(call_type) and is_call_id(call_id)
    else:
        call_type, call_id, valid = "default", word, is_call_id(word)
    if valid:
        ref = parse_call(word, "default")
        assert (ref.type, ref.id) == (call_type, call_id)
        assert ref.cid == f"{call_type}:{call_id}"
    else:
        with pytest.raises(UsageError):
            parse_call(word, "default")


def test_parse_call_uses_the_configured_default_type() -> None:
    assert parse_call("call-1", "livestream") == CallRef("livestream", "call-1")


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "duration"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1W2D3H4M", timedelta(weeks=1, days=2, hours=3, minutes=4)),
        ("1m", MIN_BAN),
        ("365d", MAX_BAN),
        ("52w1d", MAX_BAN),
        ("0d1m", MIN_BAN),
    ],
)
def test_parse_duration(word: str, duration: timedelta) -> None:
    assert parse_duration(word) == duration


@pytest.mark.parametrize(
    ("word", "problem"),
    [
        ("0m", "too short"),
        ("0w0d0h0m", "too short"),
        ("-1h", "is not a duration"),
        ("+1h", "is not a duration"),
        ("1x", "is not a duration"),
        ("30s", "is not a duration"),
        ("1h1d", "is not a duration"),
        ("1d1d", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("", "is not a duration"),
        ("h", "is not a duration"),
        ("1h\n", "is not a duration"),
        ("١h", "is not a duration"),
        ("366d", "is longer than"),
        ("365d1m", "is longer than"),
        ("99999d", "is longer than"),
        ("9" * 40 + "m", "is longer than"),
    ],
)
def test_parse_duration_refuses(word: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_duration(word)


@given(st.integers(min_value=1, max_value=365 * 24 * 60))
def test_format_then_parse_round_trips(minutes: int) -> None:
    duration = timedelta(minutes=minutes)
    shown = format_duration(duration)
    assert parse_duration(shown.replace(" ", "")) == duration
    # largest units first, each at most once, no zero parts
    units = [part[-1] for part in shown.split()]
    assert units == sorted(units, key="wdhm".index) and len(set(units)) == len(units)
    assert all(int(part[:-1]) > 0 for part in shown.split())


@given(
    st.tuples(*(st.none() | st.integers(min_value=0, max_value=600) for _ in range(4))).filter(
        lambda parts: any(p is not None for p in parts)
    )
)
def test_parse_duration_bounds(parts: tuple[int | None, ...]) -> None:
    word = "".join(f"{n}{unit}" for n, unit in zip(parts, "wdhm", strict=True) if n is not None)
    weeks, days, hours, minutes = (n or 0 for n in parts)
    expected = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    if MIN_BAN <= expected <= MAX_BAN:
        assert parse_duration(word) == expected
    else:
        with pytest.raises(UsageError):
            parse_duration(word)


@given(st.text(max_size=60))
def test_parse_duration_never_fails_otherwise(word: str) -> None:
    try:
        duration = parse_duration(word)
    except UsageError as error:
        assert "\n" not in str(error) and len(str(error)) < 200
    else:
        assert MIN_BAN <= duration <= MAX_BAN
        assert word.isascii()


def test_looks_like_duration() -> None:
    assert looks_like_duration("2h") and looks_like_duration("-1h") and looks_like_duration("1x")
    assert not looks_like_duration("spam") and not looks_like_duration("h2")
    assert not looks_like_duration("١h")


# --- tracks, permissions, words -----------------------------------------------------------


def test_parse_tracks() -> None:
    assert parse_tracks([], allow_all=True) == ("audio",)
    assert parse_tracks(["VIDEO", "audio", "video"], allow_all=True) == ("video", "audio")
    assert parse_tracks(["video", "all"], allow_all=True) == ALL_TRACKS
    assert parse_tracks(["screenshare_audio"], allow_all=False) == ("screenshare_audio",)
    with pytest.raises(UsageError, match="`all` is not a track"):
        parse_tracks(["all"], allow_all=False)
    with pytest.raises(UsageError, match="`loud` is not a track"):
        parse_tracks(["loud"], allow_all=True)


def test_parse_permissions() -> None:
    assert parse_permissions(["audio", "Video", "screenshare", "audio"]) == (
        "send-audio",
        "send-video",
        "screenshare",
    )
    with pytest.raises(UsageError, match="name at least one permission"):
        parse_permissions([])
    with pytest.raises(UsageError, match="`send-audio` is not a permission"):
        parse_permissions(["send-audio"])


def test_split_words_and_flags() -> None:
    words = split_words("  sara\tcall-123  --block ", ("--block",))
    assert words.positional == ("sara", "call-123")
    assert words.flag("--block") and not words.flag("--ip")
    with pytest.raises(UsageError, match=r"unknown option `--frob` \(options: --block\)"):
        split_words("sara --frob", ("--block",))
    with pytest.raises(UsageError, match=r"\(options: none\)"):
        split_words("sara --block")


def test_expect_count() -> None:
    expect_count(("a", "b"), 1, 2)
    with pytest.raises(UsageError, match="some arguments are missing"):
        expect_count(("a",), 2)
    with pytest.raises(UsageError, match="unexpected extra words: `c d`"):
        expect_count(("a", "b", "c", "d"), 1, 2)


@given(st.text(min_size=1, max_size=400))
def test_error_messages_quote_input_safely(word: str) -> None:
    """Whatever the input, the sentence is one bounded line whose quoted part cannot break out
    of its code span or ping anyone."""
    for parse in (parse_user, lambda w: parse_call(w, "default"), parse_duration):
        try:
            parse(word)
        except UsageError as error:
            message = str(error)
            assert "\n" not in message
            assert len(message) < 250
            assert "<" not in message and ">" not in message
            assert message.count("`") % 2 == 0
