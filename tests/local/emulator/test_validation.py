"""Bad bodies of every kind answer 400, code 4, naming the field, and change nothing."""

from __future__ import annotations

import pytest

from bot.local.emulator import StreamEmulator

from .helpers import CALL_PATH, DEMO_CID, Api, assert_stream_error


async def test_invalid_json(api: Api, emulator: StreamEmulator) -> None:
    response = await api.post_raw(CALL_PATH + "/block", b'{"user_id": ')

    body = assert_stream_error(response, 400, 4, contains="not valid JSON")
    assert body["unrecoverable"] is True
    assert emulator.state.calls[DEMO_CID].blocked == set()


async def test_body_must_be_an_object(api: Api) -> None:
    response = await api.post_raw(CALL_PATH + "/block", b'["sara"]')

    assert_stream_error(response, 400, 4, contains="JSON object")


async def test_missing_required_field(api: Api) -> None:
    response = await api.post(CALL_PATH + "/kick", {"block": True})

    body = assert_stream_error(response, 400, 4)
    assert body["exception_fields"] == {"user_id": "user_id is a required field"}
    assert body["message"] == 'KickUser failed with error: "user_id is a required field"'


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (CALL_PATH + "/kick", {"user_id": "sara", "block": "true"}, "block"),
        (CALL_PATH + "/kick", {"user_id": 7}, "user_id"),
        (CALL_PATH + "/mute_users", {"user_ids": "sara", "audio": True}, "user_ids"),
        (CALL_PATH + "/user_permissions", {"user_id": "sara", "grant_permissions": "x"},
         "grant_permissions"),
        ("/api/v2/moderation/ban", {"target_user_id": "sara", "banned_by_id": "john",
                                    "ip_ban": 1}, "ip_ban"),
    ],
)
async def test_wrong_types(api: Api, path: str, body: dict[str, object], field: str) -> None:
    response = await api.post(path, body)

    assert_stream_error(response, 400, 4, field=field)


@pytest.mark.parametrize(
    "user_id", ["", "sara smith", "sara!", "s" * 256, "sära", "sara\n"]
)
async def test_malformed_user_ids(api: Api, user_id: str) -> None:
    response = await api.post(CALL_PATH + "/block", {"user_id": user_id})

    assert_stream_error(response, 400, 4, field="user_id")


async def test_longest_user_id_is_accepted(api: Api, emulator: StreamEmulator) -> None:
    longest = "@_-" + "a" * 252
    emulator.add_user(longest)

    response = await api.post(CALL_PATH + "/block", {"user_id": longest})

    assert response.status_code == 200, response.text


async def test_patch_settings_with_wrong_shape(api: Api) -> None:
    response = await api.patch(CALL_PATH, {"settings_override": {"screensharing": {"enabled": 1}}})

    assert_stream_error(response, 400, 4, field="settings_override.screensharing.enabled")


# -- explicit null is the field left out (Stream's SDKs send null for every unset field) -----------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (CALL_PATH + "/kick", {"user_id": "sara", "block": None, "kicked_by_id": None}),
        (CALL_PATH + "/mute_users", {"user_ids": ["sara"], "audio": True, "video": None,
                                     "mute_all_users": None, "muted_by_id": None}),
        (CALL_PATH + "/user_permissions", {"user_id": "sara", "grant_permissions": ["screenshare"],
                                           "revoke_permissions": None}),
        ("/api/v2/moderation/ban", {"target_user_id": "sara", "banned_by_id": "john",
                                    "reason": None, "timeout": None, "ip_ban": None,
                                    "channel_cid": None, "shadow": None}),
        ("/api/v2/users/sara/deactivate", {"created_by_id": None, "mark_messages_deleted": None}),
        ("/api/v2/users", {"users": {"sara": {"id": "sara", "name": None, "role": None}}}),
    ],
)
async def test_explicit_null_reads_as_absent(
    api: Api, path: str, body: dict[str, object]
) -> None:
    response = await api.post(path, body)

    assert response.status_code == 200, response.text


async def test_null_screensharing_settings_change_nothing(
    api: Api, emulator: StreamEmulator
) -> None:
    body = {"settings_override": {"screensharing": {"enabled": False,
                                                     "access_request_enabled": None}}}
    response = await api.patch(CALL_PATH, body)

    assert response.status_code == 200, response.text
    settings = emulator.state.calls[DEMO_CID].screensharing
    assert (settings.enabled, settings.access_request_enabled) == (False, False)


async def test_a_required_field_sent_as_null_is_missing(api: Api) -> None:
    response = await api.post(CALL_PATH + "/kick", {"user_id": None})

    body = assert_stream_error(response, 400, 4)
    assert body["exception_fields"] == {"user_id": "user_id is a required field"}


async def test_query_payload_with_every_unset_field_null(api: Api) -> None:
    await api.post("/api/v2/moderation/ban", {"target_user_id": "sara", "banned_by_id": "john"})
    payload = {
        "filter_conditions": {},
        "created_at_after": None,
        "created_at_after_or_equal": None,
        "created_at_before": None,
        "created_at_before_or_equal": None,
        "exclude_expired_bans": None,
        "limit": None,
        "offset": None,
        "user_id": None,
        "sort": [{"direction": -1, "field": "created_at", "type": None}],
        "user": None,
    }

    assert await api.query_ban_users(**payload) == ["sara"]
