"""UpdateUsersPartial (`PATCH /users`) and QueryUsers (`GET /users?payload=`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.local.emulator import StreamEmulator
from bot.util.clock import ManualClock

from .helpers import API_KEY, Api, assert_stream_error, auth_headers, event_types

USERS = "/api/v2/users"


async def query(api: Api, **payload: Any) -> list[str]:
    response = await query_raw(api, **payload)
    assert response.status_code == 200, response.text
    return [user["id"] for user in response.json()["users"]]


async def query_raw(api: Api, **payload: Any) -> Any:
    payload.setdefault("filter_conditions", {})
    return await api.http.get(
        USERS, params={"api_key": API_KEY, "payload": json.dumps(payload)}, headers=auth_headers()
    )


# -- UpdateUsersPartial ---------------------------------------------------------------------------


async def test_rename_and_clear_the_avatar(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.state.users["sara"].image = "https://img/sara.png"
    await clock.advance(60)

    response = await api.patch(
        USERS, {"users": [{"id": "sara", "set": {"name": "user-1234"}, "unset": ["image"]}]}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"users", "membership_deletion_task_id", "duration"}
    sara = body["users"]["sara"]
    assert sara["name"] == "user-1234" and "image" not in sara
    assert sara["updated_at"] == round(clock.time()) * 10**9
    assert {"channel_mutes", "devices", "mutes", "unread_count"} <= sara.keys()
    user = emulator.state.users["sara"]
    assert (user.name, user.image) == ("user-1234", None)
    assert event_types(emulator) == ["user.updated"]
    updated = emulator.webhooks_sent[0].event
    assert updated["user"]["name"] == "user-1234" and updated["custom"] == {}


async def test_several_users_and_custom_fields(api: Api, emulator: StreamEmulator) -> None:
    response = await api.patch(
        USERS,
        {
            "users": [
                {"id": "john", "set": {"role": "admin", "teams": ["red"], "mood": "calm"}},
                {"id": "bob", "set": {"image": "https://img/bob.png", "language": "fr"}},
            ]
        },
    )

    assert response.status_code == 200, response.text
    users = response.json()["users"]
    assert (users["john"]["role"], users["john"]["teams"]) == ("admin", ["red"])
    assert users["john"]["custom"] == {"mood": "calm"}
    assert (users["bob"]["image"], users["bob"]["language"]) == ("https://img/bob.png", "fr")
    assert event_types(emulator) == ["user.updated", "user.updated"]


async def test_an_unknown_user_changes_nobody(api: Api, emulator: StreamEmulator) -> None:
    response = await api.patch(
        USERS,
        {"users": [{"id": "sara", "set": {"name": "x"}}, {"id": "ghost", "set": {"name": "y"}}]},
    )

    body = assert_stream_error(response, 404, 16)
    assert body["message"] == 'UpdateUsersPartial failed with error: "user "ghost" does not exist"'
    assert emulator.state.users["sara"].name == "Sara"
    assert emulator.webhooks_sent == []


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"users": []}, "users", "at least 1"),
        ({"users": [{"id": f"u{n}", "set": {"name": "x"}} for n in range(101)]}, "users", "101"),
        ({"users": [{"id": "sara"}]}, "users.0", "set or unset at least one field"),
        ({"users": [{"id": "sara", "set": {"banned": True}}]}, "users.0.set.banned", "cannot"),
        ({"users": [{"id": "sara", "set": {"name": 7}}]}, "users.0.set.name", "string"),
        ({"users": [{"id": "sara", "set": {"role": "Boss!"}}]}, "users.0.set.role", "role"),
        ({"users": [{"id": "sara", "unset": ["role"]}]}, "users.0.unset", "cannot be unset"),
        (
            {"users": [{"id": "sara", "set": {"name": "a"}, "unset": ["name"]}]},
            "users.0.unset",
            "both set and unset",
        ),
        ({"users": [{"id": "sa ra", "set": {"name": "a"}}]}, "users.0.id", "not a valid user"),
    ],
)
async def test_partial_update_refusals(
    api: Api, emulator: StreamEmulator, body: dict[str, object], field: str, words: str
) -> None:
    response = await api.patch(USERS, body)

    assert_stream_error(response, 400, 4, contains=words, field=field)
    assert emulator.state.users["sara"].name == "Sara"


# -- QueryUsers -----------------------------------------------------------------------------------


async def test_query_users_by_id(api: Api, emulator: StreamEmulator) -> None:
    response = await query_raw(api, filter_conditions={"id": {"$eq": "sara"}})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"users", "duration"}
    (sara,) = body["users"]
    assert (sara["id"], sara["name"], sara["role"]) == ("sara", "Sara", "user")
    assert sara["banned"] is False
    assert isinstance(sara["created_at"], int) and isinstance(sara["updated_at"], int)
    assert await query(api, filter_conditions={"id": {"$in": ["john", "bob", "zed"]}}) == [
        "bob",
        "john",
    ]  # by creation, the default order (then by id)


async def test_query_users_by_name_role_and_ban(api: Api, emulator: StreamEmulator) -> None:
    emulator.add_user("ross", "Bob Ross", role="admin")
    emulator.state.ban("john", banned_by="sara", reason=None, timeout_minutes=None, ip_ban=False)

    assert await query(api, filter_conditions={"name": {"$autocomplete": "bo"}}) == [
        "bob",
        "ross",
    ]
    assert await query(api, filter_conditions={"name": {"$autocomplete": "ROS"}}) == ["ross"]
    assert await query(api, filter_conditions={"role": "admin"}) == ["ross"]
    assert await query(api, filter_conditions={"banned": True}) == ["john"]
    assert await query(
        api, filter_conditions={"banned": {"$ne": True}, "role": {"$in": ["user"]}}
    ) == ["alice", "bob", "sara"]


async def test_deactivated_users_only_when_asked(api: Api, emulator: StreamEmulator) -> None:
    emulator.state.deactivate("bob", created_by=None)

    assert "bob" not in await query(api)
    assert "bob" in await query(api, include_deactivated_users=True)
    found = await query_raw(api, filter_conditions={"id": "bob"}, include_deactivated_users=True)
    (bob,) = found.json()["users"]
    assert isinstance(bob["deactivated_at"], int)


async def test_query_users_sort_limit_offset(api: Api) -> None:
    by_id = [{"field": "id", "direction": 1}]

    assert await query(api, sort=by_id) == ["alice", "bob", "john", "sara"]
    assert await query(api, sort=by_id, limit=2, offset=1) == ["bob", "john"]
    assert await query(api, sort=[{"field": "name", "direction": -1}]) == [
        "sara", "john", "bob", "alice",
    ]
    assert await query(api, id_gt="bob", sort=by_id) == ["john", "sara"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"offset": 1001}, "offset"),
        ({"sort": [{"field": "id"}] * 6}, "sort"),
        ({"sort": [{"field": "shoe_size"}]}, "sort"),
        ({"filter_conditions": {"email": "a@b"}}, "filter_conditions"),
        ({"filter_conditions": {"name": {"$autocomplete": ""}}}, "filter_conditions"),
        ({"filter_conditions": {"banned": "yes"}}, "filter_conditions"),
    ],
)
async def test_query_users_refusals(api: Api, payload: dict[str, object], field: str) -> None:
    response = await query_raw(api, **payload)

    assert_stream_error(response, 400, 4, field=field)


async def test_query_users_needs_a_payload_with_filter_conditions(api: Api) -> None:
    missing = await api.get(USERS)
    no_filter = await api.get(USERS, payload=json.dumps({"limit": 1}))

    assert_stream_error(missing, 400, 4, field="payload")
    assert_stream_error(no_filter, 400, 4, field="filter_conditions")
