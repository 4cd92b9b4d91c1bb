"""Stream's id rules: user ids, call ids and types, and call cids (`type:id`)."""

from __future__ import annotations

import re

from bot.local.emulator.errors import Invalid

USER_ID = re.compile(r"^[A-Za-z0-9@_-]{1,255}$")
CALL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CALL_TYPE = re.compile(r"^[a-z0-9_-]{1,64}$")


def split_cid(cid: str) -> tuple[str, str]:
    """`default:call-123` -> ("default", "call-123"); checks both parts like Stream does."""
    call_type, sep, call_id = cid.partition(":")
    if not sep:
        raise Invalid.field("call_cid", f"{cid!r} is not a call cid (type:id)")
    check_call_type(call_type)
    check_call_id(call_id)
    return call_type, call_id


def check_user_id(value: str, field_name: str = "user_id") -> str:
    if not USER_ID.fullmatch(value):
        raise Invalid.field(
            field_name,
            f"{field_name} {value!r} is not a valid user id "
            "(letters, digits, @, _ or -, at most 255)",
        )
    return value


def check_call_id(value: str) -> str:
    if not CALL_ID.fullmatch(value):
        raise Invalid.field(
            "call_id", f"call id {value!r} is not valid (letters, digits, _ or -, at most 64)"
        )
    return value


def check_call_type(value: str) -> str:
    if not CALL_TYPE.fullmatch(value):
        raise Invalid.field(
            "call_type",
            f"call type {value!r} is not valid (lower-case letters, digits, _ or -, at most 64)",
        )
    return value
