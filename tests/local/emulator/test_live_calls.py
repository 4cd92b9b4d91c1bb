"""Seeing and ending live calls over HTTP: QueryCalls, GetCall, QueryCallParticipants, the
call-stats participants, EndCall and SendCallEvent — answers, limits, refusals, webhooks."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.local.emulator import Invalid, StreamEmulator
from bot.local.emulator.views import answer_time
from bot.util.clock import ManualClock
from bot.util.timefmt import format_stream_time

from .helpers import (
    API_KEY,
    CALL_PATH,
    DEMO_CID,
    Api,
    assert_stream_error,
    auth_headers,
    event_types,
)

CALLS = "/api/v2/video/calls"


def stats_path(session: str, cid: str = DEMO_CID) -> str:
    call_type, call_id = cid.split(":")
    return f"/api/v2/video/call_stats/{call_type}/{call_id}/{session}/participants"


async def query_calls(api: Api, **body: Any) -> list[str]:
    response = await api.post(CALLS, body)
    assert response.status_code == 200, response.text
    return [entry["call"]["cid"] for entry in response.json()["calls"]]


# -- QueryCalls ---------------------------------------------------------------------------------


async def test_query_calls_answers_call_state_entries(api: Api, emulator: StreamEmulator) -> None:
    response = await api.post(CALLS, {"filter_conditions": {"ongoing": True}})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"calls", "duration"}  # one page: no cursors
    (entry,) = body["calls"]
    assert set(entry) == {"call", "members", "own_capabilities"}
    call = entry["call"]
    assert call["cid"] == DEMO_CID
    assert call["created_by"]["id"] == "sara"
    session = call["session"]
    assert session["id"] == call["current_session_id"]
    assert session["participants_count_by_role"] == {"user": 4}
    assert [p["user"]["id"] for p in session["participants"]] == ["sara", "john", "alice", "bob"]
    assert isinstance(session["started_at"], int)
    assert [m["user_id"] for m in entry["members"]] == ["alice", "bob", "john", "sara"]


async def test_ongoing_means_people_are_in_it(api: Api, emulator: StreamEmulator) -> None:
    emulator.add_call("default:empty", members=["sara"], participants=[])
    emulator.add_call("livestream:show", members=["john"])
    emulator.state.end_call("livestream:show")

    assert await query_calls(api, filter_conditions={"ongoing": True}) == [DEMO_CID]
    assert await query_calls(api, filter_conditions={"ongoing": {"$eq": False}}) == [
        "default:empty",
        "livestream:show",
    ]  # newest first by default; created at the same instant, these two keep cid order


async def test_query_calls_filters_by_id_cid_type_and_date(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    start = clock.time()
    await clock.advance(60)
    emulator.add_call("livestream:show", members=["john"])
    emulator.add_call("default:other", members=["bob"])

    assert await query_calls(api, filter_conditions={"id": "show"}) == ["livestream:show"]
    assert await query_calls(
        api, filter_conditions={"cid": {"$in": [DEMO_CID, "livestream:show"]}}
    ) == ["livestream:show", DEMO_CID]
    assert await query_calls(api, filter_conditions={"type": {"$eq": "default"}}) == [
        "default:other",
        DEMO_CID,
    ]
    later = format_stream_time(start + 1)
    assert await query_calls(
        api, filter_conditions={"created_at": {"$gt": later}}, sort=[{"field": "cid"}]
    ) == ["default:other", "livestream:show"]


async def test_query_calls_sorts_only_by_allowed_combinations(
    api: Api, emulator: StreamEmulator
) -> None:
    emulator.add_call("default:a", members=["sara"])
    emulator.add_call("default:b", members=["sara"])

    assert await query_calls(api, sort=[{"field": "id", "direction": 1}]) == [
        "default:a",
        "default:b",
        DEMO_CID,
    ]
    pair = [{"field": "starts_at", "direction": 1}, {"field": "created_at", "direction": -1}]
    assert len(await query_calls(api, sort=pair)) == 3
    refused = await api.post(CALLS, {"sort": [{"field": "participant_count"}]})
    assert_stream_error(refused, 400, 4, contains="not allowed", field="sort")
    too_many = await api.post(CALLS, {"sort": [{"field": "id"}] * 3})
    assert_stream_error(too_many, 400, 4, field="sort")


@pytest.mark.parametrize(
    ("conditions", "words"),
    [
        ({"ongoing": {"$in": [True]}}, "operator '$in' is not allowed"),
        ({"ongoing": "yes"}, "takes true or false"),
        ({"colour": "red"}, "filter field 'colour' is not allowed"),
        ({"members": {"$in": ["sara"]}}, "not supported by the emulator"),
        ({"$or": [{"ongoing": True}]}, "not supported by the emulator"),
        ({"created_at": {"$gt": "yesterday"}}, "not an RFC 3339 time"),
        ({"cid": {"$in": []}}, "non-empty list"),
    ],
)
async def test_query_calls_refuses_bad_filters(
    api: Api, conditions: dict[str, object], words: str
) -> None:
    response = await api.post(CALLS, {"filter_conditions": conditions})

    assert_stream_error(response, 400, 4, contains=words, field="filter_conditions")


@pytest.mark.parametrize("limit", [-1, 101, "10"])
async def test_query_calls_limit_is_0_to_100(api: Api, limit: object) -> None:
    response = await api.post(CALLS, {"limit": limit})

    assert_stream_error(response, 400, 4, field="limit")


async def test_query_calls_pages_with_opaque_cursors(api: Api, emulator: StreamEmulator) -> None:
    for n in range(5):
        emulator.add_call(f"default:c{n}", members=["sara"])
    query = {"filter_conditions": {"ongoing": True}, "sort": [{"field": "id"}], "limit": 2}

    first = (await api.post(CALLS, query)).json()
    second = (await api.post(CALLS, {**query, "next": first["next"]})).json()
    third = (await api.post(CALLS, {**query, "next": second["next"]})).json()
    back = (await api.post(CALLS, {**query, "prev": third["prev"]})).json()

    ids = [[e["call"]["id"] for e in page["calls"]] for page in (first, second, third, back)]
    assert ids == [["c0", "c1"], ["c2", "c3"], ["c4", "call-123"], ["c2", "c3"]]
    assert "prev" not in first and "next" not in third


async def test_a_cursor_needs_the_same_filter_repeated(api: Api, emulator: StreamEmulator) -> None:
    for n in range(3):
        emulator.add_call(f"default:c{n}", members=["sara"])
    query = {"filter_conditions": {"ongoing": True}, "limit": 2}
    cursor = (await api.post(CALLS, query)).json()["next"]

    forgot = await api.post(CALLS, {"limit": 2, "next": cursor})
    garbage = await api.post(CALLS, {**query, "next": "not-a-cursor"})

    assert_stream_error(forgot, 400, 4, contains="repeat the same filter", field="next")
    assert_stream_error(garbage, 400, 4, field="next")


# -- GetCall ------------------------------------------------------------------------------------


async def test_get_call(api: Api, emulator: StreamEmulator, clock: ManualClock) -> None:
    response = await api.get(CALL_PATH, members_limit="2")

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"call", "members", "own_capabilities", "duration"}
    assert len(body["members"]) == 2
    call = body["call"]
    assert call["blocked_user_ids"] == []
    assert call["settings"]["screensharing"] == {"enabled": True, "access_request_enabled": False}
    assert "ended_at" not in call and "ended_at" not in call["session"]
    for key in ("accepted_by", "rejected_by", "missed_by"):
        assert call["session"][key] == {}
    assert call["session"]["anonymous_participant_count"] == 0
    participant = call["session"]["participants"][0]
    assert set(participant) == {"user", "user_session_id", "role", "joined_at"}
    assert participant["joined_at"] == answer_time(clock.time())


async def test_get_call_members_limit_bounds(api: Api) -> None:
    none = await api.get(CALL_PATH, members_limit="0")
    assert none.json()["members"] == []
    for bad in ("101", "-1", "many"):
        refused = await api.get(CALL_PATH, members_limit=bad)
        assert_stream_error(refused, 400, 4, field="members_limit")


async def test_get_call_before_anyone_joined_has_no_session(
    api: Api, emulator: StreamEmulator
) -> None:
    emulator.add_call("default:fresh", members=["sara"], participants=[])

    call = (await api.get("/api/v2/video/call/default/fresh")).json()["call"]

    assert "session" not in call and call["current_session_id"] == ""


async def test_get_unknown_call(api: Api) -> None:
    response = await api.get("/api/v2/video/call/default/call-999")

    body = assert_stream_error(response, 404, 16)
    assert body["message"] == 'GetCall failed with error: "call default:call-999 does not exist"'


# -- QueryCallParticipants ----------------------------------------------------------------------


async def participants(
    api: Api, conditions: dict[str, object] | None = None, **query: str
) -> dict[str, Any]:
    body = {} if conditions is None else {"filter_conditions": conditions}
    response = await api.post(CALL_PATH + "/participants", body, **query)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def ids(answer: dict[str, Any]) -> list[str]:
    return [p["user"]["id"] for p in answer["participants"]]


async def test_participants_answer(api: Api, emulator: StreamEmulator) -> None:
    answer = await participants(api, limit="50")

    assert set(answer) == {
        "participants", "total_participants", "call", "members", "own_capabilities", "duration",
    }
    assert ids(answer) == ["sara", "john", "alice", "bob"]
    assert answer["total_participants"] == 4
    first = answer["participants"][0]
    assert set(first) == {"user", "user_session_id", "role", "joined_at"}
    assert first["user"]["name"] == "Sara" and first["role"] == "user"
    assert answer["call"]["cid"] == DEMO_CID


async def test_participants_filtered_by_track_and_user(
    api: Api, emulator: StreamEmulator
) -> None:
    assert ids(await participants(api, {"published_tracks": {"$eq": "video"}})) == ["sara"]
    assert ids(await participants(api, {"published_tracks": {"$in": ["audio", "video"]}})) == [
        "sara",
        "john",
    ]
    assert ids(await participants(api, {"published_tracks": "screenshare"})) == []
    by_user = await participants(api, {"user_id": {"$in": ["bob", "alice", "zed"]}})
    assert ids(by_user) == ["alice", "bob"]
    assert by_user["total_participants"] == 2
    assert ids(await participants(api, {"user_id": {"$eq": "john"}})) == ["john"]


async def test_participants_limit_is_in_the_query_string(
    api: Api, emulator: StreamEmulator
) -> None:
    for n in range(110):
        emulator.add_user(f"u{n:03}")
        emulator.state.join(DEMO_CID, f"u{n:03}")

    capped = await participants(api, limit="100")
    two = await participants(api, limit="2")
    default = await participants(api)
    in_body = await api.post(CALL_PATH + "/participants", {"limit": 3})

    assert (len(capped["participants"]), capped["total_participants"]) == (100, 114)
    assert "next" not in capped  # Stream gives no cursor here
    assert ids(two) == ["sara", "john"]
    assert len(default["participants"]) == 25
    assert len(in_body.json()["participants"]) == 25  # a body limit is not Stream's parameter
    refused = await api.post(CALL_PATH + "/participants", {}, limit="101")
    assert_stream_error(refused, 400, 4, field="limit")


@pytest.mark.parametrize(
    ("conditions", "words"),
    [
        ({"role": "user"}, "filter field 'role' is not allowed here"),
        ({"name": {"$eq": "Sara"}}, "filter field 'name' is not allowed here"),
        ({"user_id": {"$autocomplete": "sa"}}, "operator '$autocomplete' is not allowed"),
        ({"published_tracks": {"$eq": "smell"}}, "'smell' is not one of"),
    ],
)
async def test_participants_refuse_other_filters(
    api: Api, conditions: dict[str, object], words: str
) -> None:
    response = await api.post(CALL_PATH + "/participants", {"filter_conditions": conditions})

    assert_stream_error(response, 400, 4, contains=words, field="filter_conditions")


async def test_participants_of_an_ended_or_unknown_call(
    api: Api, emulator: StreamEmulator
) -> None:
    emulator.state.end_call(DEMO_CID)

    ended = await participants(api)
    unknown = await api.post("/api/v2/video/call/default/call-999/participants", {})

    assert (ended["participants"], ended["total_participants"]) == ([], 0)
    assert_stream_error(unknown, 404, 16, contains="QueryCallParticipants failed")


# -- call stats -----------------------------------------------------------------------------------


async def stats(
    api: Api, emulator: StreamEmulator, **query: str
) -> dict[str, Any]:
    session = emulator.state.calls[DEMO_CID].current_session_id
    response = await api.get(stats_path(session), **query)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_stats_per_user_with_sessions_and_tracks(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    await clock.advance(10)
    phone = emulator.state.join(DEMO_CID, "alice", ["audio"])
    await clock.advance(10)
    emulator.state.leave(DEMO_CID, "bob")

    answer = await stats(api, emulator)

    call = emulator.state.calls[DEMO_CID]
    assert (answer["call_type"], answer["call_id"]) == ("default", "call-123")
    assert answer["call_session_id"] == call.current_session_id
    assert answer["call_started_at"] == answer_time(clock.time() - 20)
    assert "call_ended_at" not in answer
    rows = {row["user_id"]: row for row in answer["participants"]}
    assert list(rows) == ["sara", "john", "alice", "bob"]
    sara = rows["sara"]["sessions"][0]
    assert sara["published_tracks"] == {
        "audio": True, "video": True, "screenshare": False, "screenshare_audio": False,
    }
    assert sara["is_live"] is True and "ended_at" not in sara
    assert [s["user_session_id"] for s in rows["alice"]["sessions"]][1] == phone.user_session_id
    bob = rows["bob"]["sessions"][0]
    assert (bob["is_live"], bob["ended_at"]) == (False, answer_time(clock.time()))
    assert (rows["bob"]["name"], rows["bob"]["roles"]) == ("Bob", ["user"])
    assert rows["bob"]["latest_activity_at"] == answer_time(clock.time())
    assert answer["counts"] == {
        "live_sessions": 4,
        "participants": 4,
        "publishers": 3,
        "sessions": 5,
        "peak_concurrent_sessions": 5,
        "peak_concurrent_users": 4,
        "sfus_used": 1,
    }


async def test_stats_filters_in_json(api: Api, emulator: StreamEmulator) -> None:
    emulator.state.leave(DEMO_CID, "bob")

    live = await stats(api, emulator, filter_conditions=json.dumps({"is_live": {"$eq": True}}))
    video = await stats(
        api, emulator, filter_conditions=json.dumps({"published_tracks": {"$eq": "video"}})
    )
    some = await stats(
        api, emulator, filter_conditions=json.dumps({"user_id": {"$in": ["bob", "john"]}})
    )

    assert [r["user_id"] for r in live["participants"]] == ["sara", "john", "alice"]
    assert [r["user_id"] for r in video["participants"]] == ["sara"]
    assert [r["user_id"] for r in some["participants"]] == ["john", "bob"]


async def test_stats_pages_and_sorts(api: Api, emulator: StreamEmulator) -> None:
    sort = json.dumps([{"field": "user_id", "direction": -1}])
    first = await stats(api, emulator, limit="3", sort=sort)
    second = await stats(api, emulator, limit="3", sort=sort, next=first["next"])

    assert [r["user_id"] for r in first["participants"]] == ["sara", "john", "bob"]
    assert [r["user_id"] for r in second["participants"]] == ["alice"]
    assert "next" not in second and "prev" in second


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "101"}, "limit"),
        ({"filter_conditions": "{not json"}, "filter_conditions"),
        ({"filter_conditions": json.dumps({"role": "user"})}, "filter_conditions"),
        ({"filter_conditions": json.dumps({"publisher_type": "x"})}, "filter_conditions"),
        ({"sort": json.dumps([{"field": "user_id"}, {"field": "name"}])}, "sort"),
        ({"sort": json.dumps([{"field": "os"}])}, "sort"),
    ],
)
async def test_stats_refusals(
    api: Api, emulator: StreamEmulator, query: dict[str, str], field: str
) -> None:
    session = emulator.state.calls[DEMO_CID].current_session_id

    response = await api.get(stats_path(session), **query)

    assert_stream_error(response, 400, 4, field=field)


async def test_stats_of_an_unknown_session_or_call(api: Api) -> None:
    no_session = await api.get(stats_path("no-such-session"))
    no_call = await api.get(stats_path("s", "default:call-999"))

    assert_stream_error(no_session, 404, 16, contains="call session no-such-session")
    assert_stream_error(no_call, 404, 16, contains="call default:call-999 does not exist")


async def test_stats_of_an_ended_session(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    session = emulator.state.calls[DEMO_CID].current_session_id
    await clock.advance(120)
    emulator.state.end_call(DEMO_CID)

    answer = (await api.get(stats_path(session))).json()

    assert answer["call_ended_at"] == answer_time(clock.time())
    assert answer["counts"]["live_sessions"] == 0
    assert all(not s["is_live"] for row in answer["participants"] for s in row["sessions"])


# -- EndCall ------------------------------------------------------------------------------------


async def test_end_call_takes_no_body(
    http: httpx.AsyncClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    response = await http.post(
        CALL_PATH + "/mark_ended", params={"api_key": API_KEY}, headers=auth_headers()
    )

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"duration"}
    call = emulator.state.calls[DEMO_CID]
    assert call.ended_at == clock.time() and list(call.participants) == []
    kinds = event_types(emulator)
    assert kinds == ["call.ended"] + ["call.session_participant_left"] * 4 + ["call.session_ended"]
    ended = emulator.webhooks_sent[0].event
    assert ended["call_cid"] == DEMO_CID and "user" not in ended  # server-side: no user
    assert ended["call"]["ended_at"] == format_stream_time(clock.time())


async def test_end_call_twice_and_unknown(api: Api, emulator: StreamEmulator) -> None:
    await api.post(CALL_PATH + "/mark_ended")
    sent = len(emulator.webhooks_sent)

    again = await api.post(CALL_PATH + "/mark_ended")
    unknown = await api.post("/api/v2/video/call/default/call-999/mark_ended")

    assert again.status_code == 200
    assert len(emulator.webhooks_sent) == sent  # nothing more happened
    body = assert_stream_error(unknown, 404, 16)
    assert body["message"] == 'EndCall failed with error: "call default:call-999 does not exist"'


async def test_an_ended_call_is_not_ongoing_and_refuses_joins(
    api: Api, emulator: StreamEmulator
) -> None:
    await api.post(CALL_PATH + "/mark_ended")

    assert await query_calls(api, filter_conditions={"ongoing": True}) == []
    with pytest.raises(Invalid, match="has ended"):
        emulator.state.join(DEMO_CID, "sara")


# -- SendCallEvent --------------------------------------------------------------------------------


async def test_send_call_event(api: Api, emulator: StreamEmulator, clock: ManualClock) -> None:
    custom = {"type": "callmod.notice", "action": "mute", "target_user_id": "sara", "text": "hi"}

    response = await api.post(CALL_PATH + "/event", {"user_id": "john", "custom": custom})

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"duration"}
    (event,) = emulator.state.calls[DEMO_CID].events
    assert (event.user_id, event.custom, event.created_at) == ("john", custom, clock.time())
    assert emulator.webhooks_sent == []  # the hook does not ask for custom events


async def test_custom_events_reach_a_hook_that_asks(api: Api, emulator: StreamEmulator) -> None:
    emulator.send_custom_events = True

    await api.post(CALL_PATH + "/event", {"user": {"id": "john"}, "custom": {"k": 1}})

    (delivery,) = emulator.webhooks_sent
    assert delivery.event["type"] == "custom"
    assert (delivery.event["custom"], delivery.event["user"]["id"]) == ({"k": 1}, "john")
    assert delivery.event["call_cid"] == DEMO_CID


async def test_send_call_event_refusals(api: Api, emulator: StreamEmulator) -> None:
    big = {"text": "x" * 5200}
    too_big = await api.post(CALL_PATH + "/event", {"user_id": "john", "custom": big})
    nobody = await api.post(CALL_PATH + "/event", {"custom": {"a": 1}})
    ghost = await api.post(CALL_PATH + "/event", {"user_id": "ghost", "custom": {}})
    no_call = await api.post(
        "/api/v2/video/call/default/call-999/event", {"user_id": "john", "custom": {}}
    )

    assert_stream_error(too_big, 400, 4, contains="the limit is 5KB", field="custom")
    assert_stream_error(nobody, 400, 4, field="user_id")
    assert_stream_error(ghost, 404, 16, contains='user "ghost" does not exist')
    assert_stream_error(no_call, 404, 16, contains="SendCallEvent failed")
    assert emulator.state.calls[DEMO_CID].events == []
