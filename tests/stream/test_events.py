"""Parsing Stream webhook bodies into typed events, and Stream's two date forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bot.stream.events import (
    CallUserEvent,
    CallUserEventType,
    EventError,
    EventUser,
    PermissionRequest,
    UnknownEvent,
    UserBanned,
    UserUnbanned,
    event_type,
    parse_event,
)
from bot.util.timefmt import parse_stream_time

MOMENT = datetime(2027, 1, 15, 10, 20, 30, 123456, tzinfo=UTC)
NANOS = int(MOMENT.timestamp()) * 1_000_000_000 + 123_456_000  # exact as a float of seconds


def banned(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "user.banned",
        "user": {"id": "john"},
        "created_at": "2027-01-15T10:20:30.123456789Z",
        **overrides,
    }


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2027-01-15T10:20:30.123456789Z",  # Stream's nanoseconds, past fromisoformat's 6 digits
        "2027-01-15t10:20:30.123456z",  # RFC 3339 allows lowercase
        "2027-01-15T12:20:30.1234567+02:00",
        "2027-01-15T10:20:30.123456",  # no offset: UTC
        NANOS,
        str(NANOS),
    ],
)
def test_both_date_forms_parse(value: object) -> None:
    assert parse_stream_time(value) == MOMENT


def test_rfc3339_offset_is_kept() -> None:
    parsed = parse_stream_time("2027-01-15T12:20:30+02:00")
    assert parsed.utcoffset() == timedelta(hours=2)
    assert parsed == MOMENT.replace(microsecond=0)
    assert parsed.tzinfo == timezone(timedelta(hours=2))


@pytest.mark.parametrize("value", ["yesterday", "", True, None, [], "2027-01-15T10:20:30.12x"])
def test_other_dates_are_rejected(value: object) -> None:
    with pytest.raises(ValueError):
        parse_stream_time(value)


@pytest.mark.parametrize("created_at", ["2027-01-15T10:20:30.123456789Z", NANOS, str(NANOS)])
def test_event_dates_in_either_form(created_at: object) -> None:
    event = parse_event(banned(created_at=created_at, expiration=NANOS + 3600 * 10**9))
    assert isinstance(event, UserBanned)
    assert event.created_at == MOMENT
    assert event.expires_at == MOMENT + timedelta(hours=1)


# --- known types -------------------------------------------------------------------------------


def test_user_banned_reads_streams_field_names() -> None:
    event = parse_event(
        banned(
            user={"id": "john", "name": "", "role": "user"},
            created_by={"id": "callmod-bot", "name": "callmod"},
            reason="",
            cid="messaging:general",
            ip_ban=True,
            total_bans=3,
        )
    )
    assert event == UserBanned(
        user=EventUser(id="john", name=None),
        banned_by=EventUser(id="callmod-bot", name="callmod"),
        reason=None,
        expires_at=None,
        created_at=MOMENT,
        ip_ban=True,
        shadow=False,
        channel_cid="messaging:general",
    )
    assert event_type(event) == "user.banned"


def test_nulls_read_as_absent() -> None:
    event = parse_event(
        banned(created_by=None, expiration=None, reason=None, shadow=None, cid=None)
    )
    assert isinstance(event, UserBanned)
    assert (event.banned_by, event.expires_at, event.reason, event.shadow) == (
        None,
        None,
        None,
        False,
    )
    assert event.channel_cid is None


def test_channel_cid_is_the_fallback_for_cid() -> None:
    event = parse_event(banned(channel_cid="messaging:general"))
    assert isinstance(event, UserBanned)
    assert event.channel_cid == "messaging:general"


def test_user_unbanned() -> None:
    event = parse_event(
        {
            "type": "user.unbanned",
            "user": {"id": "john"},
            "created_by": {"id": "a"},
            "created_at": 0,
        }
    )
    assert event == UserUnbanned(
        user=EventUser(id="john", name=None),
        unbanned_by=EventUser(id="a", name=None),
        created_at=datetime(1970, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize("kind", ["call.kicked_user", "call.blocked_user", "call.unblocked_user"])
def test_call_user_events(kind: CallUserEventType) -> None:
    body = {"type": kind, "call_cid": "default:c1", "user": {"id": "bob"}, "created_at": NANOS}
    event = parse_event(body)
    assert event == CallUserEvent(
        type=kind,
        call_cid="default:c1",
        user=EventUser(id="bob", name=None),
        created_at=MOMENT,
    )
    assert event_type(event) == kind


def test_permission_request() -> None:
    event = parse_event(
        {
            "type": "call.permission_request",
            "call_cid": "default:c1",
            "user": {"id": "sara"},
            "permissions": ["send-audio"],
            "created_at": NANOS,
        }
    )
    assert isinstance(event, PermissionRequest)
    assert event.permissions == ("send-audio",)
    assert event_type(event) == "call.permission_request"


# --- unknown types -----------------------------------------------------------------------------


def test_unknown_type_keeps_the_whole_body() -> None:
    body = {"type": "call.session_started", "call_cid": 7, "created_at": "not checked"}
    event = parse_event(body)
    assert event == UnknownEvent(type="call.session_started", payload=body)
    assert event_type(event) == "call.session_started"


@pytest.mark.parametrize("body", [{}, {"type": ""}, {"type": 7}, {"type": None}])
def test_missing_type_is_an_event_error(body: dict[str, Any]) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(body)
    assert caught.value.field == "type"


# --- malformed known types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (banned(created_at=None), "created_at", "missing"),
        ({"type": "user.banned", "created_at": 0}, "user", "missing"),
        (banned(user={"name": "no id"}), "user.id", "missing"),
        (banned(user={"id": ""}), "user.id", "at least 1 character"),
        (banned(user="john"), "user", "valid dictionary"),
        (banned(created_at="yesterday"), "created_at", "RFC 3339 time or integer nanoseconds"),
        (banned(created_at=10**40), "created_at", "RFC 3339 time or integer nanoseconds"),
        (banned(expiration=True), "expiration", "RFC 3339 time or integer nanoseconds"),
        (banned(created_by={"id": 3}), "created_by.id", "valid string"),
        (banned(shadow="yes"), "shadow", "valid boolean"),
        (banned(ip_ban=1), "ip_ban", "valid boolean"),
        (banned(reason=5), "reason", "valid string"),
        (banned(cid=["x"]), "cid", "valid string"),
        (
            {"type": "call.kicked_user", "call_cid": "c1", "user": {"id": "b"}, "created_at": 0},
            "call_cid",
            "must look like <type>:<id>",
        ),
        (
            {
                "type": "call.permission_request",
                "call_cid": "a:b",
                "user": {"id": "s"},
                "created_at": 0,
                "permissions": ["send-audio", ""],
            },
            "permissions[1]",
            "at least 1 character",
        ),
        (
            {
                "type": "call.permission_request",
                "call_cid": "a:b",
                "user": {"id": "s"},
                "created_at": 0,
                "permissions": [],
            },
            "permissions",
            "at least 1 item",
        ),
    ],
)
def test_bad_field_is_an_event_error_naming_it(
    body: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(body)
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value) == f"{field}: {caught.value.problem}"
