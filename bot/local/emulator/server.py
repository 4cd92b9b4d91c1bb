"""The emulator's HTTP face: Stream's routes under /api/v2, auth, faults and Stream's error shape.

Handlers stay thin: parse and validate the request, change the state, raise the webhook events,
answer JSON. Everything shared (recording, auth, faults, error bodies, timing) is in the
middleware.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.local.emulator import events, lifecycle
from bot.local.emulator.auth import authenticate
from bot.local.emulator.bodies import (
    BanBody,
    DeactivateBody,
    KickBody,
    MuteUsersBody,
    OldUnbanBody,
    QueryBannedUsersPayload,
    QueryUsersPayload,
    ReactivateBody,
    UnbanBody,
    UpdateCallBody,
    UpdateUsersPartialBody,
    UpsertUsersBody,
    UserBlockBody,
    UserOnCall,
    UserPermissionsBody,
    parse_body,
)
from bot.local.emulator.errors import (
    CODE_INPUT,
    CODE_INTERNAL,
    CODE_NOT_FOUND,
    CODE_RATE_LIMITED,
    RATE_LIMIT_INFO,
    Invalid,
    NotFound,
    StreamApiError,
    from_domain,
)
from bot.local.emulator.faults import Fault, FaultInjector
from bot.local.emulator.ids import check_user_id
from bot.local.emulator.live_routes import LiveCallRoutes
from bot.local.emulator.moderation import ModerationRoutes
from bot.local.emulator.queries import query_bans
from bot.local.emulator.routing import call_cid, duration, ok
from bot.local.emulator.routing import started as request_started
from bot.local.emulator.state import EmulatorState
from bot.local.emulator.user_queries import query_users
from bot.local.emulator.users import check_partial
from bot.local.emulator.views import (
    ban_json,
    block_json,
    call_json,
    full_user_json,
    members_json,
    user_json,
)
from bot.local.emulator.webhooks import WebhookSender
from bot.util.clock import Clock

API = "/api/v2"
CALL = API + "/video/call/{type}/{id}"

_SERVER_ERROR_TEXT = {
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable, try again later",
    504: "gateway timeout",
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class _DropConnection(Exception):
    """Close the TCP connection without answering."""


def _error_response(error: StreamApiError, started: float) -> web.Response:
    return web.json_response(
        error.body(duration(started)), status=error.status, headers=error.headers
    )


class StreamApi:
    """The aiohttp application over an `EmulatorState`."""

    def __init__(
        self,
        *,
        state: EmulatorState,
        faults: FaultInjector,
        webhooks: WebhookSender,
        requests: list[RecordedRequest],
        api_key: str,
        api_secret: str,
        clock: Clock,
    ) -> None:
        self.state = state
        self.faults = faults
        self.webhooks = webhooks
        self.requests = requests
        self.api_key = api_key
        self.api_secret = api_secret
        self.clock = clock
        self.moderation = ModerationRoutes(self)  # the review queue (issue 15)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._pipeline])
        routes = [
            web.post(CALL + "/block", self.block, name="BlockUser"),
            web.post(CALL + "/kick", self.kick, name="KickUser"),
            web.post(CALL + "/unblock", self.unblock, name="UnblockUser"),
            web.patch(CALL, self.update_call, name="UpdateCall"),
            web.post(CALL + "/mute_users", self.mute_users, name="MuteUsers"),
            web.post(
                CALL + "/user_permissions", self.user_permissions, name="UpdateUserPermissions"
            ),
            web.post(API + "/moderation/ban", self.ban, name="Ban"),
            web.delete(API + "/moderation/ban", self.unban_old, name="Unban"),
            web.post(API + "/moderation/unban", self.unban, name="UnbanUser"),
            web.get(
                API + "/chat/query_banned_users", self.query_banned_users, name="QueryBannedUsers"
            ),
            web.post(API + "/users/block", self.block_user, name="BlockUsers"),
            web.get(API + "/users/block", self.get_blocked_users, name="GetBlockedUsers"),
            web.post(API + "/users/unblock", self.unblock_user, name="UnblockUsers"),
            web.post(API + "/users/{user_id}/deactivate", self.deactivate, name="DeactivateUser"),
            web.post(API + "/users/{user_id}/reactivate", self.reactivate, name="ReactivateUser"),
            web.post(API + "/users", self.upsert_users, name="UpdateUsers"),
            web.patch(API + "/users", self.update_users_partial, name="UpdateUsersPartial"),
            web.get(API + "/users", self.query_users, name="QueryUsers"),
            *LiveCallRoutes(self).routes(),
            *self.moderation.routes(),
        ]
        app.add_routes(routes)
        return app

    # --- pipeline ----------------------------------------------------------------------------

    @web.middleware
    async def _pipeline(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_started.set(started)
        self.requests.append(_record(request, await request.read()))
        try:
            self._check_route(request)
            authenticate(
                request.query, request.headers, api_key=self.api_key, api_secret=self.api_secret
            )
            plan = self.faults.take(request.method, request.path)
            if plan.delay:
                await asyncio.sleep(plan.delay)
            fault = plan.answer
            drop_after_apply = fault is not None and fault.after_apply
            if fault is not None and not drop_after_apply:
                self._answer_fault(fault)
            try:
                response = await handler(request)
            except (NotFound, Invalid) as exc:
                response = _error_response(
                    from_domain(request.match_info.route.name or "Request", exc), started
                )
            if drop_after_apply:
                raise _DropConnection
            if plan.delay_after_apply:
                await asyncio.sleep(plan.delay_after_apply)
            return response
        except StreamApiError as exc:
            return _error_response(exc, started)
        except _DropConnection:
            # No byte of an answer leaves: the client sees the connection end mid-request.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=499)

    @staticmethod
    def _check_route(request: web.Request) -> None:
        problem = request.match_info.http_exception
        if problem is not None:
            raise StreamApiError(
                problem.status,
                CODE_NOT_FOUND if problem.status == 404 else CODE_INPUT,
                f"{request.method} {request.path} is not a Stream API endpoint",
            )

    def _answer_fault(self, fault: Fault) -> None:
        if fault.kind == "drop_connection":
            raise _DropConnection
        if fault.kind == "rate_limit":
            headers = {
                "X-RateLimit-Limit": str(fault.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(self.clock.time() + fault.reset_in)),
            }
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            raise StreamApiError(
                429,
                CODE_RATE_LIMITED,
                "Too many requests, check response headers for more information.",
                headers=headers,
                more_info=RATE_LIMIT_INFO,
            )
        raise StreamApiError(
            fault.status, CODE_INTERNAL, _SERVER_ERROR_TEXT.get(fault.status, "server error")
        )

    # --- helpers -----------------------------------------------------------------------------

    def _ok(self, request: web.Request, payload: dict[str, Any]) -> web.Response:
        return ok(payload)

    def _cid(self, request: web.Request) -> str:
        return call_cid(request)

    def _emit(self, event: dict[str, Any]) -> None:
        self.webhooks.send(event)

    def _emit_session_changes(self, cid: str, before: lifecycle.Mark) -> None:
        call = self.state.call(cid)
        for event in lifecycle.session_events(self.state, call, before):
            self.webhooks.send(event)

    # --- calls -------------------------------------------------------------------------------

    async def block(self, request: web.Request) -> web.Response:
        cid = self._cid(request)
        body = parse_body(UserOnCall, await request.read())
        before = lifecycle.mark(self.state.call(cid))
        self.state.block_on_call(cid, body.user_id)
        self._emit(events.blocked_user(self.state, cid, body.user_id, None))
        self._emit_session_changes(cid, before)
        return self._ok(request, {})

    async def kick(self, request: web.Request) -> web.Response:
        cid = self._cid(request)
        body = parse_body(KickBody, await request.read())
        before = lifecycle.mark(self.state.call(cid))
        self.state.kick(cid, body.user_id, kicked_by=body.kicked_by_id, block=body.block)
        # ⚠ Stream sends call.blocked_user *instead of* call.kicked_user for a kick with
        # block=true (GetStream/stream-video-js#2024, closed without a word on a fix).
        if body.block:
            self._emit(events.blocked_user(self.state, cid, body.user_id, body.kicked_by_id))
        else:
            self._emit(events.kicked_user(self.state, cid, body.user_id, body.kicked_by_id))
        self._emit_session_changes(cid, before)
        return self._ok(request, {})

    async def unblock(self, request: web.Request) -> web.Response:
        cid = self._cid(request)
        body = parse_body(UserOnCall, await request.read())
        self.state.unblock_on_call(cid, body.user_id)
        self._emit(events.unblocked_user(self.state, cid, body.user_id))
        return self._ok(request, {})

    async def update_call(self, request: web.Request) -> web.Response:
        cid = self._cid(request)
        body = parse_body(UpdateCallBody, await request.read())
        screensharing = body.settings_override.screensharing if body.settings_override else None
        call = self.state.update_screensharing(
            cid,
            enabled=screensharing.enabled if screensharing else None,
            access_request_enabled=screensharing.access_request_enabled if screensharing else None,
        )
        return self._ok(
            request,
            {
                "call": call_json(self.state, call),
                "members": members_json(self.state, call),
                "own_capabilities": [],
            },
        )

    async def mute_users(self, request: web.Request) -> web.Response:
        cid = self._cid(request)
        body = parse_body(MuteUsersBody, await request.read())
        muted = self.state.mute(
            cid,
            user_ids=body.user_ids,
            mute_all=body.mute_all_users,
            tracks=body.tracks,
            muted_by=body.muted_by_id,
        )
        self._emit(events.user_muted(self.state, cid, body.muted_by_id, muted))
        return self._ok(request, {})

    async def user_permissions(self, request: web.Request) -> web.Response:
        cid = self._cid(request)
        body = parse_body(UserPermissionsBody, await request.read())
        held = self.state.update_permissions(
            cid, body.user_id, grant=body.grant_permissions, revoke=body.revoke_permissions
        )
        # ⚠ own_capabilities here are the call permissions the user holds, not every
        # capability of their role.
        self._emit(events.permissions_updated(self.state, cid, body.user_id, held))
        return self._ok(request, {})

    # --- bans --------------------------------------------------------------------------------

    async def ban(self, request: web.Request) -> web.Response:
        body = parse_body(BanBody, await request.read())
        ban = self.state.ban(
            body.target_user_id,
            banned_by=body.banned_by_id,
            reason=body.reason,
            timeout_minutes=body.timeout,
            ip_ban=body.ip_ban,
        )
        self._emit(events.user_banned(self.state, ban))
        return self._ok(request, {})

    async def unban(self, request: web.Request) -> web.Response:
        body = parse_body(UnbanBody, await request.read())
        target = request.query.get("target_user_id")
        if not target:
            raise Invalid.field("target_user_id", "target_user_id is a required query parameter")
        return self._unban(request, check_user_id(target, "target_user_id"), body.unbanned_by_id)

    async def unban_old(self, request: web.Request) -> web.Response:
        raw = await request.read()
        target = request.query.get("target_user_id")
        if raw.strip():
            target = target or parse_body(OldUnbanBody, raw).target_user_id
        if not target:
            raise Invalid.field("target_user_id", "target_user_id is a required field")
        return self._unban(request, check_user_id(target, "target_user_id"), None)

    def _unban(self, request: web.Request, target: str, unbanned_by: str | None) -> web.Response:
        if self.state.unban(target, unbanned_by=unbanned_by) is not None:
            self._emit(events.user_unbanned(self.state, target, unbanned_by))
        return self._ok(request, {})

    async def query_banned_users(self, request: web.Request) -> web.Response:
        payload = request.query.get("payload")
        if payload is None:
            raise Invalid.field("payload", "payload is a required query parameter")
        query = parse_body(QueryBannedUsersPayload, payload.encode())
        bans = query_bans(self.state, query)
        return self._ok(request, {"bans": [ban_json(self.state, ban) for ban in bans]})

    # --- users -------------------------------------------------------------------------------

    async def deactivate(self, request: web.Request) -> web.Response:
        user_id = check_user_id(request.match_info["user_id"])
        body = parse_body(DeactivateBody, await request.read())
        user = self.state.deactivate(user_id, created_by=body.created_by_id)
        self._emit(events.user_deactivated(self.state, user_id, body.created_by_id))
        return self._ok(request, {"user": user_json(self.state, user)})

    async def reactivate(self, request: web.Request) -> web.Response:
        user_id = check_user_id(request.match_info["user_id"])
        body = parse_body(ReactivateBody, await request.read())
        user = self.state.reactivate(user_id, created_by=body.created_by_id)
        self._emit(events.user_reactivated(self.state, user_id, body.created_by_id))
        return self._ok(request, {"user": user_json(self.state, user)})

    async def block_user(self, request: web.Request) -> web.Response:
        body = parse_body(UserBlockBody, await request.read())
        at = self.state.block_user(body.user_id, body.blocked_user_id)
        view = block_json(self.state, body.user_id, body.blocked_user_id, at)
        return self._ok(
            request,
            {
                "blocked_by_user_id": body.user_id,
                "blocked_user_id": body.blocked_user_id,
                "created_at": view["created_at"],
            },
        )

    async def get_blocked_users(self, request: web.Request) -> web.Response:
        user_id = request.query.get("user_id")
        if not user_id:
            raise Invalid.field("user_id", "user_id is a required query parameter")
        self.state.user(check_user_id(user_id))
        blocks = sorted(self.state.blocked_by(user_id).items(), key=lambda kv: (kv[1], kv[0]))
        return self._ok(
            request,
            {"blocks": [block_json(self.state, user_id, other, at) for other, at in blocks]},
        )

    async def unblock_user(self, request: web.Request) -> web.Response:
        body = parse_body(UserBlockBody, await request.read())
        self.state.unblock_user(body.user_id, body.blocked_user_id)
        return self._ok(request, {})

    async def upsert_users(self, request: web.Request) -> web.Response:
        body = parse_body(UpsertUsersBody, await request.read())
        for key, user in body.users.items():
            if user.id is not None and user.id != key:
                raise Invalid.field(f"users.{key}.id", f"id {user.id!r} does not match key {key!r}")
            check_user_id(key, f"users.{key}.id")
        saved = {
            key: self.state.upsert_user(key, name=user.name, role=user.role)
            for key, user in body.users.items()
        }
        return self._ok(
            request,
            {
                "users": {key: full_user_json(self.state, user) for key, user in saved.items()},
                "membership_deletion_task_id": "",
            },
        )


    async def update_users_partial(self, request: web.Request) -> web.Response:
        body = parse_body(UpdateUsersPartialBody, await request.read())
        updates = [
            check_partial(index, item.id, item.set, item.unset)
            for index, item in enumerate(body.users)
        ]
        saved = self.state.update_users_partial(updates)
        for user in saved:
            self._emit(events.user_updated(self.state, user.id))
        return self._ok(
            request,
            {
                "users": {user.id: full_user_json(self.state, user) for user in saved},
                "membership_deletion_task_id": "",
            },
        )

    async def query_users(self, request: web.Request) -> web.Response:
        payload = request.query.get("payload")
        if payload is None:
            raise Invalid.field("payload", "payload is a required query parameter")
        query = parse_body(QueryUsersPayload, payload.encode())
        users = query_users(self.state, query)
        return self._ok(
            request, {"users": [full_user_json(self.state, user) for user in users]}
        )

def _record(request: web.Request, raw: bytes) -> RecordedRequest:
    body: Any = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    return RecordedRequest(
        method=request.method,
        path=request.path,
        query=dict(request.query),
        headers=dict(request.headers),
        body=body,
    )
