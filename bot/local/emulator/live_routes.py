"""Routes for seeing and ending live calls: `QueryCalls`, `GetCall`, `QueryCallParticipants`,
`QueryCallSessionParticipantStats`, `EndCall` and `SendCallEvent`
(`../shared/reference/stream-next-features.md` §1–§4a)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.local.emulator import events, lifecycle
from bot.local.emulator.bodies import (
    QueryCallParticipantsBody,
    QueryCallsBody,
    SendCallEventBody,
    parse_body,
)
from bot.local.emulator.call_queries import (
    DEFAULT_PARTICIPANTS_LIMIT,
    MAX_LIMIT,
    query_calls,
    query_participants,
)
from bot.local.emulator.errors import Invalid, NotFound
from bot.local.emulator.routing import Host, call_cid, int_param, ok
from bot.local.emulator.stats import StatsQuery, session_stats
from bot.local.emulator.views import call_json, members_json, participant_json

API = "/api/v2"
CALL = API + "/video/call/{type}/{id}"
STATS = API + "/video/call_stats/{call_type}/{call_id}/{session}/participants"
DEFAULT_MEMBERS_LIMIT = 25  # ⚠ undocumented
MAX_MEMBERS_LIMIT = 100


class LiveCallRoutes:
    def __init__(self, host: Host) -> None:
        self.host = host

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(API + "/video/calls", self.query_calls, name="QueryCalls"),
            web.get(CALL, self.get_call, name="GetCall"),
            web.post(
                CALL + "/participants",
                self.query_call_participants,
                name="QueryCallParticipants",
            ),
            web.get(STATS, self.participant_stats, name="QueryCallSessionParticipantStats"),
            web.post(CALL + "/mark_ended", self.end_call, name="EndCall"),
            web.post(CALL + "/event", self.send_call_event, name="SendCallEvent"),
        ]

    async def query_calls(self, request: web.Request) -> web.Response:
        body = parse_body(QueryCallsBody, await request.read())
        state = self.host.state
        found = query_calls(state, body)
        answer: dict[str, Any] = {
            "calls": [
                {
                    "call": call_json(state, call),
                    "members": members_json(state, call),
                    "own_capabilities": [],
                }
                for call in found.items
            ]
        }
        if found.next is not None:
            answer["next"] = found.next
        if found.prev is not None:
            answer["prev"] = found.prev
        return ok(answer)

    async def get_call(self, request: web.Request) -> web.Response:
        cid = call_cid(request)
        limit = int_param(
            request.query.get("members_limit"),
            "members_limit",
            default=DEFAULT_MEMBERS_LIMIT,
            maximum=MAX_MEMBERS_LIMIT,
        )
        state = self.host.state
        call = state.call(cid)
        return ok(
            {
                "call": call_json(state, call),
                "members": members_json(state, call, limit),
                "own_capabilities": [],
            }
        )

    async def query_call_participants(self, request: web.Request) -> web.Response:
        cid = call_cid(request)
        raw_limit = request.query.get("limit")
        limit = int_param(
            raw_limit, "limit", default=DEFAULT_PARTICIPANTS_LIMIT, maximum=MAX_LIMIT
        )
        body = parse_body(QueryCallParticipantsBody, await request.read())
        state = self.host.state
        call = state.call(cid)
        shown, total = query_participants(
            call, body.filter_conditions, limit or DEFAULT_PARTICIPANTS_LIMIT
        )
        return ok(
            {
                "participants": [participant_json(state, p) for p in shown],
                "total_participants": total,
                "call": call_json(state, call),
                "members": members_json(state, call),
                "own_capabilities": [],
            }
        )

    async def participant_stats(self, request: web.Request) -> web.Response:
        cid = call_cid(request, "call_type", "call_id")
        query = StatsQuery.from_query(request.query)
        state = self.host.state
        call = state.call(cid)
        session_id = request.match_info["session"]
        session = call.find_session(session_id)
        if session is None:
            raise NotFound(f"call session {session_id} does not exist in call {cid}")
        return ok(session_stats(state, call, session, query))

    async def end_call(self, request: web.Request) -> web.Response:
        cid = call_cid(request)
        state = self.host.state
        call = state.call(cid)
        was_ended = call.ended_at is not None
        before = lifecycle.mark(call)
        state.end_call(cid)
        if not was_ended:
            self.host.webhooks.send(events.call_ended(state, call))
        for event in lifecycle.session_events(state, call, before):
            self.host.webhooks.send(event)
        return ok({})

    async def send_call_event(self, request: web.Request) -> web.Response:
        cid = call_cid(request)
        body = parse_body(SendCallEventBody, await request.read())
        sender = body.user_id or (body.user.id if body.user is not None else None)
        if sender is None:
            # ⚠ Stream's answer to a server-side event with no sender is not documented.
            raise Invalid.field("user_id", "user_id is required for server-side requests")
        state = self.host.state
        event = state.send_event(cid, sender, body.custom)
        if self.host.webhooks.send_custom_events:
            self.host.webhooks.send(events.custom(state, state.call(cid), event))
        return ok({})

