"""Reading Stream's bans and blocks: required fields are checked, optional ones are lenient."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.stream.models import (
    Ban,
    UnreadableResponse,
    UserBlock,
    ban_from_json,
    list_field,
    user_block_from_json,
)

MOMENT = datetime(2027, 1, 15, 10, 20, 30, 123456, tzinfo=UTC)


def test_ban_reads_both_date_forms_and_nested_ids() -> None:
    item = {
        "user": {"id": "sara", "name": "Sara", "role": "user"},
        "banned_by": {"id": "john"},
        "created_at": "2027-01-15T10:20:30.123456789Z",
        "expires": 1_800_000_000 * 1_000_000_000,
        "reason": "spam",
        "channel": None,
    }
    assert ban_from_json(item) == Ban(
        "sara", "Sara", "john", MOMENT, datetime.fromtimestamp(1_800_000_000, tz=UTC), "spam"
    )


@pytest.mark.parametrize(
    "odd",
    [
        {"user": {"id": "sara", "name": 5}, "banned_by": "john", "reason": 7},
        {"user": {"id": "sara", "name": ""}, "banned_by": {"id": ""}, "reason": ""},
        {"user": {"id": "sara", "name": None}, "banned_by": None, "reason": None, "expires": None},
    ],
)
def test_odd_optional_fields_read_as_absent(odd: dict[str, Any]) -> None:
    ban = ban_from_json({"created_at": "2027-01-15T10:20:30.123456Z", **odd})
    assert ban == Ban("sara", None, None, MOMENT, None, None)
    assert ban.permanent


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"user": {}, "created_at": "yesterday"}, "bans[].user.id is missing"),
        ({"user": {"id": ""}, "created_at": 0}, "bans[].user.id is missing"),
        ({"user": "sara", "created_at": 0}, "bans[].user.id is missing"),
        ({"user": {"id": "sara"}, "created_at": None}, "bans[].created_at is not a timestamp"),
        (
            {"user": {"id": "sara"}, "created_at": 0, "expires": "x"},
            "bans[].expires is not a timestamp",
        ),
    ],
)
def test_unreadable_ban_names_the_field(item: dict[str, Any], message: str) -> None:
    with pytest.raises(UnreadableResponse, match=message.replace("[]", r"\[\]")):
        ban_from_json(item)


def test_user_block() -> None:
    block = {
        "user_id": "sara",
        "blocked_user_id": "john",
        "created_at": "2027-01-15T10:20:30.123456Z",
    }
    assert user_block_from_json(block) == UserBlock("sara", "john", MOMENT)
    del block["created_at"]
    assert user_block_from_json(block) == UserBlock("sara", "john", None)
    with pytest.raises(UnreadableResponse, match="blocked_user_id is missing"):
        user_block_from_json({"user_id": "sara"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"bans": None}, []),
        ({}, []),
        ({"bans": [{"a": 1}]}, [{"a": 1}]),
        ({"bans": [1, None]}, [1, None]),  # each entry is read (or left out) on its own
    ],
)
def test_list_field(body: object, expected: list[object]) -> None:
    assert list_field(body, "bans") == expected


@pytest.mark.parametrize("body", [[], {"bans": {}}, {"bans": "x"}])
def test_list_field_rejects_other_shapes(body: object) -> None:
    with pytest.raises(UnreadableResponse):
        list_field(body, "bans")


@pytest.mark.parametrize("item", [None, 1, "sara", []])
def test_an_entry_that_is_not_an_object_is_unreadable(item: object) -> None:
    with pytest.raises(UnreadableResponse, match=r"bans\[\] is not an object"):
        ban_from_json(item)
