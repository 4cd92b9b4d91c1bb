"""The async Stream moderation client (DESIGN.md §3): one pooled httpx client, retries by tenacity.

Every public method is one Stream operation. Each builds a `_Request` naming what it is about, and
`_send` runs it under one deadline: attempts are retried (see `retry.py`) and failures become a
`StreamAPIError` whose sentence goes to the moderator as is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import quote

import httpx
import jwt
from jwt.warnings import InsecureKeyLengthWarning
from pydantic import TypeAdapter, ValidationError

import bot
from bot.settings import Settings
from bot.stream.entries import BAN_NAMES, BLOCK_NAMES, oldest_time, read_entries
from bot.stream.errors import (
    RequestContext,
    StreamAPIError,
    connect_failed,
    connection_dropped,
    error_from_response,
    no_answer,
    unreadable_answer,
)
from bot.stream.events import ReviewItem
from bot.stream.live import (
    CALL_NAMES,
    MAX_CALLS_PAGE,
    MAX_PARTICIPANTS,
    PARTICIPANT_NAMES,
    USER_NAMES,
    CallPage,
    LiveCall,
    Participant,
    Roster,
    call_from_json,
    call_state_from_json,
    field_of,
    participant_from_json,
    user_from_json,
)
from bot.stream.models import (
    Ban,
    BanPage,
    CallRef,
    Permission,
    Skipped,
    StreamUser,
    Track,
    UnreadableResponse,
    UserBlock,
    ban_from_json,
    list_field,
    user_block_from_json,
)
from bot.stream.paging import BanCursor
from bot.stream.retry import Deadline, stream_retrying
from bot.util.clock import Clock, SystemClock
from bot.util.timefmt import format_stream_time

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://video.stream-io-api.com"
MAX_BANS_PAGE = 300
MAX_BANS_OFFSET = 10_000
MAX_REVIEW_PAGE = 100  # query_review_queue's limit
MAX_FLAG_REASON = 255  # flag's reason
_REVIEW_ITEM: TypeAdapter[ReviewItem] = TypeAdapter(ReviewItem)


@dataclass(frozen=True)
class ReviewPage:
    items: tuple[ReviewItem, ...]
    next: str | None

# The tracks a roster shows (screen-share audio goes with the screen share).
ROSTER_TRACKS: tuple[Track, ...] = ("audio", "video", "screenshare")
_T = TypeVar("_T")

WriteOutcome = Literal["done", "failed", "maybe_applied"]


class WriteObserver(Protocol):
    """Told of every write before it is sent and of how it ended, so the webhook Stream sends
    about it (the echo) can be told apart from the same action taken outside callmod."""

    def started(self, ctx: RequestContext) -> object: ...

    def finished(self, token: object, outcome: WriteOutcome) -> None: ...


ResponseHook = Callable[[str, int | None, float], None]
# Told of every entry of a list answer that was left out because it cannot be read:
# (operation, what is wrong with it).
UnreadableHook = Callable[[str, str], None]


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    ctx: RequestContext
    params: Mapping[str, str] | None = None
    body: Mapping[str, Any] | None = None


class _SendTracker:
    """Learns from httpx's trace hook whether any byte of the request went out."""

    def __init__(self, trace_supported: bool) -> None:
        self._trace_supported = trace_supported
        self._sent = False

    async def trace(self, event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            self._sent = True

    @property
    def maybe_sent(self) -> bool:
        # A custom transport may never call the hook; then assume the worst.
        return self._sent or not self._trace_supported


class StreamClient:
    # Stream refuses offsets past this; `iter_bans` switches to a created_at cursor there.
    max_bans_offset: int = MAX_BANS_OFFSET

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        clock: Clock | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        deadline: float = 8.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_response: ResponseHook | None = None,
        on_unreadable: UnreadableHook | None = None,
    ) -> None:
        self._base_url = base_url
        self._clock: Clock = clock or SystemClock()
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._on_response = on_response
        self._on_unreadable = on_unreadable
        self.before_send: Callable[[], Awaitable[None]] | None = None
        self.write_observer: WriteObserver | None = None
        self._trace_supported = transport is None
        server_token = _server_token(api_secret)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            params={"api_key": api_key},
            headers={
                "Authorization": server_token,
                "stream-auth-type": "jwt",
                "Content-Type": "application/json",
                "X-Stream-Client": f"callmod-{bot.__version__}",
            },
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
            ),
            # Keep every pooled connection alive: httpx's default keeps 20 of 100, so bursts of
            # moderation calls kept reconnecting.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
            transport=transport,
            event_hooks={"request": [self._before_send]},
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        base_url: str | None = None,
        clock: Clock | None = None,
        on_response: ResponseHook | None = None,
        on_unreadable: UnreadableHook | None = None,
    ) -> StreamClient:
        if settings.stream_api_key is None or settings.stream_api_secret is None:
            raise ValueError("STREAM_API_KEY and STREAM_API_SECRET are needed for a Stream client")
        return cls(
            settings.stream_api_key,
            settings.stream_api_secret.get_secret_value(),
            base_url or settings.stream_base_url,
            clock=clock,
            connect_timeout=settings.stream_connect_timeout,
            read_timeout=settings.stream_read_timeout,
            deadline=settings.stream_deadline,
            on_response=on_response,
            on_unreadable=on_unreadable,
        )

    async def _before_send(self, _: httpx.Request) -> None:
        if self.before_send is not None:
            await self.before_send()

    def __repr__(self) -> str:
        return f"StreamClient(base_url={self._base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> StreamClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- calls -----------------------------------------------------------------------------

    async def block_user(self, call: CallRef, user_id: str) -> None:
        await self._write(
            "POST",
            _call_path(call, "block"),
            _call_ctx("block", call, user_id),
            {"user_id": user_id},
        )

    async def kick_user(
        self,
        call: CallRef,
        user_id: str,
        *,
        block: bool = False,
        kicked_by_id: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"user_id": user_id}
        if block:
            body["block"] = True
        if kicked_by_id is not None:
            body["kicked_by_id"] = kicked_by_id
        ctx = _call_ctx("kick", call, user_id, kicked_by_id)
        await self._write("POST", _call_path(call, "kick"), ctx, body)

    async def unblock_user(self, call: CallRef, user_id: str) -> None:
        await self._write(
            "POST",
            _call_path(call, "unblock"),
            _call_ctx("unblock", call, user_id),
            {"user_id": user_id},
        )

    async def update_screensharing(
        self, call: CallRef, *, enabled: bool, access_request_enabled: bool
    ) -> None:
        screensharing = {"enabled": enabled, "access_request_enabled": access_request_enabled}
        await self._write(
            "PATCH",
            _call_path(call),
            _call_ctx("screenshare", call),
            {"settings_override": {"screensharing": screensharing}},
        )

    async def mute_all(self, call: CallRef, tracks: Collection[Track], *, muted_by_id: str) -> None:
        body = {"mute_all_users": True, **_track_flags(tracks), "muted_by_id": muted_by_id}
        await self._write(
            "POST", _call_path(call, "mute_users"), _call_ctx("mute_all", call, muted_by_id), body
        )

    async def mute_users(
        self,
        call: CallRef,
        user_ids: Sequence[str],
        tracks: Collection[Track],
        *,
        muted_by_id: str,
    ) -> None:
        if not user_ids:
            raise ValueError("mute_users needs at least one user id")
        body = {"user_ids": list(user_ids), **_track_flags(tracks), "muted_by_id": muted_by_id}
        await self._write(
            "POST", _call_path(call, "mute_users"), _call_ctx("mute", call, *user_ids), body
        )

    async def update_user_permissions(
        self,
        call: CallRef,
        user_id: str,
        *,
        grant: Collection[Permission] = (),
        revoke: Collection[Permission] = (),
    ) -> None:
        if not grant and not revoke:
            raise ValueError("update_user_permissions needs something to grant or revoke")
        body: dict[str, Any] = {"user_id": user_id}
        if grant:
            body["grant_permissions"] = list(dict.fromkeys(grant))
        if revoke:
            body["revoke_permissions"] = list(dict.fromkeys(revoke))
        await self._write(
            "POST",
            _call_path(call, "user_permissions"),
            _call_ctx("permissions", call, user_id),
            body,
        )

    # --- bans ------------------------------------------------------------------------------

    async def ban(
        self,
        target_user_id: str,
        *,
        banned_by_id: str,
        reason: str | None = None,
        timeout_minutes: int | None = None,
        ip_ban: bool = False,
    ) -> None:
        if timeout_minutes is not None and timeout_minutes < 1:
            raise ValueError("a ban timeout is at least one minute")
        body: dict[str, Any] = {"target_user_id": target_user_id, "banned_by_id": banned_by_id}
        if reason is not None:
            body["reason"] = reason
        if timeout_minutes is not None:
            body["timeout"] = timeout_minutes
        if ip_ban:
            body["ip_ban"] = True
        ctx = RequestContext("ban", writes=True, user_ids=(target_user_id, banned_by_id))
        await self._write("POST", "/api/v2/moderation/ban", ctx, body)

    async def unban(self, target_user_id: str, *, unbanned_by_id: str | None = None) -> None:
        body: dict[str, Any] = {}
        if unbanned_by_id is not None:
            body["unbanned_by_id"] = unbanned_by_id
        await self._send(
            _Request(
                "POST",
                "/api/v2/moderation/unban",
                RequestContext(
                    "unban", writes=True, user_ids=_present((target_user_id, unbanned_by_id))
                ),
                params={"target_user_id": target_user_id},
                body=body,
            )
        )

    async def query_bans(
        self,
        *,
        user_id: str | None = None,
        limit: int = MAX_BANS_PAGE,
        offset: int = 0,
        created_before: datetime | None = None,
        include_expired: bool = False,
    ) -> BanPage:
        """One page of bans, newest first; only those in force unless `include_expired`.

        Entries that cannot be read (a hard-deleted user's ban has `"user": null`) are left out,
        logged and reported to `on_unreadable`; `raw_count` on the page still counts them, so the
        next page is at `offset + page.raw_count`."""
        created_at = None if created_before is None else {"$lt": format_stream_time(created_before)}
        return await self._bans_page(user_id, limit, offset, created_at, include_expired)

    async def iter_bans(
        self,
        *,
        user_id: str | None = None,
        page_size: int = MAX_BANS_PAGE,
        include_expired: bool = False,
    ) -> AsyncIterator[Ban]:
        """Every ban in force (or every ban, `include_expired`), newest first: offset pages, then
        a created_at cursor past Stream's offset cap."""
        cursor = BanCursor(page_size=page_size, max_offset=self.max_bans_offset)
        reported: set[tuple[str, str]] = set()  # a cursor may meet a left-out entry twice
        while (page_request := cursor.next_page()) is not None:
            up_to = page_request.up_to
            created_at = None if up_to is None else {"$lte": format_stream_time(up_to)}
            page = await self._bans_page(
                user_id, page_size, page_request.offset, created_at, include_expired, reported
            )
            fresh = cursor.take(page, raw_count=page.raw_count, oldest=page.oldest_created_at)
            for ban in fresh:
                yield ban

    async def _bans_page(
        self,
        user_id: str | None,
        limit: int,
        offset: int,
        created_at: Mapping[str, str] | None,
        include_expired: bool,
        reported: set[tuple[str, str]] | None = None,
    ) -> BanPage:
        if not 1 <= limit <= MAX_BANS_PAGE:
            raise ValueError(f"limit must be from 1 to {MAX_BANS_PAGE}")
        if not 0 <= offset <= MAX_BANS_OFFSET:
            raise ValueError(f"offset must be from 0 to {MAX_BANS_OFFSET}")
        conditions: dict[str, Any] = {}
        if user_id is not None:
            conditions["user_id"] = user_id
        if created_at is not None:
            conditions["created_at"] = dict(created_at)
        payload = {
            "filter_conditions": conditions,
            "exclude_expired_bans": not include_expired,
            "limit": limit,
            "offset": offset,
            "sort": [{"field": "created_at", "direction": -1}],
        }
        ctx = RequestContext(
            "query_bans", writes=False, user_ids=() if user_id is None else (user_id,)
        )
        answer = await self._send(
            _Request(
                "GET",
                "/api/v2/chat/query_banned_users",
                ctx,
                params={"payload": json.dumps(payload, separators=(",", ":"))},
            )
        )
        try:
            items = list_field(answer, "bans")
        except UnreadableResponse as exc:
            raise unreadable_answer(ctx, str(exc)) from None
        bans, skipped = read_entries(items, ban_from_json, BAN_NAMES)
        for entry in skipped:
            if reported is None or (key := (entry.names, entry.reason)) not in reported:
                self._skipped(ctx.operation, offset, entry)
                if reported is not None:
                    reported.add(key)
        return BanPage(
            bans, raw_count=len(items), skipped=skipped, oldest_created_at=oldest_time(items)
        )

    # --- seeing calls ----------------------------------------------------------------------

    async def query_calls(
        self, *, ongoing: bool = True, limit: int = 25, next_page: str | None = None
    ) -> CallPage:
        """One page of calls, newest first; `ongoing` keeps those with people in them."""
        if not 1 <= limit <= MAX_CALLS_PAGE:
            raise ValueError(f"limit must be from 1 to {MAX_CALLS_PAGE}")
        body: dict[str, Any] = {
            "filter_conditions": {"ongoing": ongoing},  # repeated on every page, as Stream asks
            "limit": limit,
            "sort": [{"field": "created_at", "direction": -1}],
        }
        if next_page is not None:
            body["next"] = next_page
        ctx = RequestContext("query_calls", writes=False)
        answer = await self._send(_Request("POST", "/api/v2/video/calls", ctx, body=body))
        items = self._list(ctx, answer, "calls")
        calls, skipped = read_entries(items, call_state_from_json, CALL_NAMES)
        for entry in skipped:
            self._skipped(ctx.operation, 0, entry)
        cursor = _text_field(answer, "next")
        return CallPage(tuple(calls), cursor, len(skipped))

    async def get_call(self, call: CallRef) -> LiveCall:
        ctx = RequestContext("get_call", writes=False, call=call)
        answer = await self._send(
            _Request("GET", _call_path(call), ctx, params={"members_limit": "0"})
        )
        return self._one(ctx, answer, "call", call_from_json)

    async def query_call_participants(
        self,
        call: CallRef,
        *,
        limit: int = MAX_PARTICIPANTS,
        user_ids: Sequence[str] | None = None,
        published_track: Track | None = None,
    ) -> tuple[LiveCall, list[Participant], int]:
        """Up to `limit` (≤ 100, Stream has no cursor) of the people connected to the call, the
        call itself and how many are connected in all."""
        if not 1 <= limit <= MAX_PARTICIPANTS:
            raise ValueError(f"limit must be from 1 to {MAX_PARTICIPANTS}")
        conditions: dict[str, Any] = {}
        if user_ids is not None:
            conditions["user_id"] = {"$in": list(user_ids)}
        if published_track is not None:
            conditions["published_tracks"] = {"$eq": published_track}
        ctx = RequestContext("query_call_participants", writes=False, call=call)
        answer = await self._send(
            _Request(
                "POST",
                _call_path(call, "participants"),
                ctx,
                params={"limit": str(limit)},
                body={"filter_conditions": conditions} if conditions else {},
            )
        )
        live_call = self._one(ctx, answer, "call", call_from_json)
        items = self._list(ctx, answer, "participants")
        participants, skipped = read_entries(items, participant_from_json, PARTICIPANT_NAMES)
        for entry in skipped:
            self._skipped(ctx.operation, 0, entry)
        total = _count_field(answer, "total_participants")
        return live_call, participants, max(total, len(items))

    async def roster(self, call: CallRef, *, user_ids: Sequence[str] | None = None) -> Roster:
        """Who is in the call and which tracks each publishes.

        Tracks come from the participants query filtered by `published_tracks`, which Stream
        answers from the live session (its call-stats endpoint can lag). The three track queries
        are narrowed to the people shown, so each stays under Stream's 100 no matter the call's
        size."""
        live_call, participants, total = await self.query_call_participants(call, user_ids=user_ids)
        shown = list(dict.fromkeys(person.user_id for person in participants))
        tracks: dict[str, set[Track]] = {}
        if shown:
            answers = await asyncio.gather(
                *(
                    self.query_call_participants(call, user_ids=shown, published_track=track)
                    for track in ROSTER_TRACKS
                )
            )
            for track, (_, publishing, _) in zip(ROSTER_TRACKS, answers, strict=True):
                for person in publishing:
                    tracks.setdefault(person.user_id, set()).add(track)
        return Roster(
            live_call,
            tuple(participants),
            total,
            {user: frozenset(found) for user, found in tracks.items()},
        )

    # --- acting on a whole call --------------------------------------------------------------

    async def end_call(self, call: CallRef) -> None:
        """End the call for everyone (`mark_ended`; no body)."""
        ctx = _call_ctx("end_call", call)
        await self._send(_Request("POST", _call_path(call, "mark_ended"), ctx))

    async def send_call_event(
        self, call: CallRef, custom: Mapping[str, Any], *, user_id: str
    ) -> None:
        """A custom event to everyone watching the call; `user_id` is the sender (a bot user:
        server-side calls have no user in the token)."""
        ctx = _call_ctx("send_call_event", call, user_id)
        await self._write(
            "POST", _call_path(call, "event"), ctx, {"user_id": user_id, "custom": dict(custom)}
        )

    # --- the moderation review queue (stream-next-features.md §6b–§6d) ----------------------

    async def query_review_queue(
        self,
        *,
        filter: Mapping[str, Any] | None = None,
        limit: int = 25,
        next_page: str | None = None,
    ) -> ReviewPage:
        """One page of review queue items, newest first (`filter`, not `filter_conditions`)."""
        if not 1 <= limit <= MAX_REVIEW_PAGE:
            raise ValueError(f"limit must be from 1 to {MAX_REVIEW_PAGE}")
        body: dict[str, Any] = {
            "limit": limit,
            "sort": [{"field": "created_at", "direction": -1}],
            "filter": dict(filter or {}),
        }
        if next_page is not None:
            body["next"] = next_page
        ctx = RequestContext("query_review_queue", writes=False)
        answer = await self._send(
            _Request("POST", "/api/v2/moderation/review_queue", ctx, body=body)
        )
        items: list[ReviewItem] = []
        for index, raw in enumerate(self._list(ctx, answer, "items")):
            try:
                items.append(_REVIEW_ITEM.validate_python(raw))
            except ValidationError as error:
                where = ".".join(str(part) for part in error.errors()[0]["loc"]) or "item"
                reason = f"items[].{where}: {error.errors()[0]['msg']}"
                self._skipped(ctx.operation, 0, Skipped(index, reason, None, f"items[{index}]"))
        return ReviewPage(tuple(items), _text_field(answer, "next"))

    async def submit_action(
        self,
        item_id: str,
        action_type: str,
        *,
        user_id: str,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        """A moderator's decision on a review queue item: `mark_reviewed`, `kick_user`,
        `end_call`, `ban`…; the action's options go under its own name (`{"ban": {...}}`)."""
        body: dict[str, Any] = {"action_type": action_type, "item_id": item_id, "user_id": user_id}
        if payload is not None or action_type == "mark_reviewed":
            body[action_type] = dict(payload or {})
        ctx = RequestContext("submit_action", writes=True)
        await self._write("POST", "/api/v2/moderation/submit_action", ctx, body)

    async def flag(
        self,
        entity_type: str,
        entity_id: str,
        *,
        user_id: str,
        entity_creator_id: str | None = None,
        reason: str | None = None,
        custom: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Flag something for review; returns the review queue item's id when Stream says."""
        body: dict[str, Any] = {
            "entity_type": entity_type,
            "entity_id": entity_id,
            "user_id": user_id,
        }
        if entity_creator_id is not None:
            body["entity_creator_id"] = entity_creator_id
        if reason is not None:
            body["reason"] = reason[:MAX_FLAG_REASON]
        if custom:
            body["custom"] = dict(custom)
        # Read like a query: the answer names the item; a repeated flag only adds to the item.
        ctx = RequestContext("flag", writes=False, user_ids=(entity_id,))
        answer = await self._send(_Request("POST", "/api/v2/moderation/flag", ctx, body=body))
        return _text_field(answer, "item_id")

    # --- users -----------------------------------------------------------------------------

    async def get_user(self, user_id: str) -> StreamUser | None:
        """The user's profile, or None when Stream has no such user."""
        # Stream leaves deactivated users out of queries unless asked for them.
        payload = {
            "filter_conditions": {"id": {"$eq": user_id}},
            "include_deactivated_users": True,
            "limit": 1,
        }
        ctx = RequestContext("query_users", writes=False, user_ids=(user_id,))
        answer = await self._send(
            _Request(
                "GET",
                "/api/v2/users",
                ctx,
                params={"payload": json.dumps(payload, separators=(",", ":"))},
            )
        )
        users, skipped = read_entries(self._list(ctx, answer, "users"), user_from_json, USER_NAMES)
        for entry in skipped:
            self._skipped(ctx.operation, 0, entry)
        return next((user for user in users if user.id == user_id), None)

    async def query_users(self, prefix: str, *, limit: int = 100) -> list[StreamUser]:
        """Users whose id or name starts with `prefix` (Stream's `$autocomplete`), ids first,
        at most `limit`: for the user pickers of callmod's forms."""
        prefix = prefix.strip()
        if not prefix:
            return []
        found: dict[str, StreamUser] = {}
        for field in ("id", "name"):
            payload = {
                "filter_conditions": {field: {"$autocomplete": prefix}},
                "limit": limit,
            }
            ctx = RequestContext("query_users", writes=False)
            answer = await self._send(
                _Request(
                    "GET",
                    "/api/v2/users",
                    ctx,
                    params={"payload": json.dumps(payload, separators=(",", ":"))},
                )
            )
            users, skipped = read_entries(
                self._list(ctx, answer, "users"), user_from_json, USER_NAMES
            )
            for entry in skipped:
                self._skipped(ctx.operation, 0, entry)
            for user in users:
                found.setdefault(user.id, user)
        return list(found.values())[:limit]

    async def update_user(
        self,
        user_id: str,
        *,
        set_fields: Mapping[str, Any] | None = None,
        unset: Sequence[str] = (),
    ) -> None:
        """A partial update of one user (`PATCH /users`): set some fields, remove others."""
        item: dict[str, Any] = {"id": user_id}
        if set_fields:
            item["set"] = dict(set_fields)
        if unset:
            item["unset"] = list(unset)
        ctx = RequestContext("update_user", writes=True, user_ids=(user_id,))
        await self._write("PATCH", "/api/v2/users", ctx, {"users": [item]})

    # --- user state -----------------------------------------------------------------------------

    async def deactivate_user(
        self,
        user_id: str,
        *,
        created_by_id: str | None = None,
        mark_messages_deleted: bool = False,
    ) -> None:
        body: dict[str, Any] = {}
        if created_by_id is not None:
            body["created_by_id"] = created_by_id
        if mark_messages_deleted:
            body["mark_messages_deleted"] = True
        ctx = RequestContext(
            "deactivate",
            writes=True,
            user_ids=_present((user_id, created_by_id)),
            done_marker="already deactivated",
            done_sentence=f"{user_id} is already deactivated",
        )
        await self._write("POST", f"/api/v2/users/{_segment(user_id)}/deactivate", ctx, body)

    async def reactivate_user(
        self,
        user_id: str,
        *,
        created_by_id: str | None = None,
        restore_messages: bool = False,
    ) -> None:
        body: dict[str, Any] = {}
        if created_by_id is not None:
            body["created_by_id"] = created_by_id
        if restore_messages:
            body["restore_messages"] = True
        ctx = RequestContext(
            "reactivate",
            writes=True,
            user_ids=_present((user_id, created_by_id)),
            done_marker="is not deactivated",
            done_sentence=f"{user_id} is not deactivated",
        )
        await self._write("POST", f"/api/v2/users/{_segment(user_id)}/reactivate", ctx, body)

    async def block_users(self, user_id: str, blocked_user_id: str) -> None:
        ctx = RequestContext("user_block", writes=True, user_ids=(user_id, blocked_user_id))
        body = {"blocked_user_id": blocked_user_id, "user_id": user_id}
        await self._write("POST", "/api/v2/users/block", ctx, body)

    async def unblock_users(self, user_id: str, blocked_user_id: str) -> None:
        ctx = RequestContext("user_unblock", writes=True, user_ids=(user_id, blocked_user_id))
        body = {"blocked_user_id": blocked_user_id, "user_id": user_id}
        await self._write("POST", "/api/v2/users/unblock", ctx, body)

    async def get_blocked_users(self, user_id: str) -> list[UserBlock]:
        ctx = RequestContext("blocked_users", writes=False, user_ids=(user_id,))
        answer = await self._send(
            _Request("GET", "/api/v2/users/block", ctx, params={"user_id": user_id})
        )
        try:
            items = list_field(answer, "blocks")
        except UnreadableResponse as exc:
            raise unreadable_answer(ctx, str(exc)) from None
        blocks, skipped = read_entries(items, user_block_from_json, BLOCK_NAMES)
        for entry in skipped:
            self._skipped(ctx.operation, 0, entry)
        return blocks

    async def upsert_user(
        self, user_id: str, *, name: str | None = None, role: str = "admin"
    ) -> None:
        user: dict[str, Any] = {"id": user_id, "role": role}
        if name is not None:
            user["name"] = name
        ctx = RequestContext("upsert_user", writes=True, user_ids=(user_id,))
        await self._write("POST", "/api/v2/users", ctx, {"users": {user_id: user}})

    # --- transport -------------------------------------------------------------------------

    async def _write(
        self, method: str, path: str, ctx: RequestContext, body: Mapping[str, Any]
    ) -> None:
        await self._send(_Request(method, path, ctx, body=body))

    async def _send(self, request: _Request) -> object:
        """Run one operation with retries under its deadline; return the decoded JSON answer."""
        observer = self.write_observer
        if observer is None or not request.ctx.writes:
            return await self._send_retrying(request)
        token = observer.started(request.ctx)
        outcome: WriteOutcome = "maybe_applied"
        try:
            answer = await self._send_retrying(request)
            outcome = "done"
            return answer
        except StreamAPIError as error:
            outcome = "maybe_applied" if error.maybe_applied else "failed"
            raise
        finally:
            observer.finished(token, outcome)

    async def _send_retrying(self, request: _Request) -> object:
        deadline = Deadline(self._clock, self._deadline)
        earlier_unknown = False
        async for attempt in stream_retrying(self._clock, deadline):
            with attempt:
                try:
                    return await self._attempt(request, deadline, earlier_unknown=earlier_unknown)
                except StreamAPIError as error:
                    # An earlier attempt probably did it and only its answer was lost.
                    if earlier_unknown and request.ctx.already_done(error):
                        log.info("stream %s: already done by an earlier attempt", error.operation)
                        return None
                    earlier_unknown = earlier_unknown or error.maybe_applied
                    raise
        raise AssertionError("tenacity ended without a result or an error")

    async def _attempt(
        self, request: _Request, deadline: Deadline, *, earlier_unknown: bool
    ) -> object:
        ctx = request.ctx
        remaining = deadline.remaining()
        if remaining <= 0:
            raise no_answer(ctx, deadline.seconds, sent=False, earlier_unknown=earlier_unknown)
        tracker = _SendTracker(self._trace_supported)
        status: int | None = None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(remaining):
                response = await self._http.request(
                    request.method,
                    request.path,
                    params=request.params,
                    json=request.body,
                    extensions={"trace": tracker.trace},
                )
            status = response.status_code
        except TimeoutError:
            raise no_answer(
                ctx, deadline.seconds, sent=tracker.maybe_sent, earlier_unknown=earlier_unknown
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise connect_failed(ctx, _describe(exc), earlier_unknown=earlier_unknown) from None
        except httpx.TimeoutException:
            raise no_answer(
                ctx, self._read_timeout, sent=tracker.maybe_sent, earlier_unknown=earlier_unknown
            ) from None
        except httpx.TransportError as exc:
            raise connection_dropped(
                ctx, _describe(exc), sent=tracker.maybe_sent, earlier_unknown=earlier_unknown
            ) from None
        finally:
            self._report(ctx.operation, status, time.perf_counter() - started)

        if not response.is_success:
            raise error_from_response(
                ctx,
                response.status_code,
                response.headers,
                response.content,
                now=self._clock.time(),
                earlier_unknown=earlier_unknown,
            )
        if ctx.writes:
            return None
        try:
            answer: object = response.json()
        except ValueError:
            raise unreadable_answer(ctx, "the answer is not JSON") from None
        return answer

    def _list(self, ctx: RequestContext, answer: object, name: str) -> list[object]:
        try:
            return list_field(answer, name)
        except UnreadableResponse as exc:
            raise unreadable_answer(ctx, str(exc)) from None

    def _one(
        self,
        ctx: RequestContext,
        answer: object,
        name: str,
        reader: Callable[[object], _T],
    ) -> _T:
        try:
            return reader(field_of(answer, name))
        except UnreadableResponse as exc:
            raise unreadable_answer(ctx, str(exc)) from None

    def _skipped(self, operation: str, offset: int, entry: Skipped) -> None:
        log.warning(
            "stream %s: left out entry %d of the answer (%s), which cannot be read: %s",
            operation,
            offset + entry.index,
            entry.names,
            entry.reason,
        )
        if self._on_unreadable is None:
            return
        try:
            self._on_unreadable(operation, entry.reason)
        except Exception:
            log.exception("on_unreadable hook failed for %s", operation)

    def _report(self, operation: str, status: int | None, seconds: float) -> None:
        if self._on_response is None:
            return
        try:
            self._on_response(operation, status, seconds)
        except Exception:
            log.exception("on_response hook failed for %s", operation)


def _server_token(api_secret: str) -> str:
    """Stream's server-side token: no user, no expiry, HS256 with the API secret."""
    with warnings.catch_warnings():
        # Stream issues the secret; its length is not ours to choose.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode({"server": True}, api_secret, algorithm="HS256")


def _call_path(call: CallRef, action: str | None = None) -> str:
    path = f"/api/v2/video/call/{_segment(call.type)}/{_segment(call.id)}"
    return path if action is None else f"{path}/{action}"


def _call_ctx(operation: str, call: CallRef, *user_ids: str | None) -> RequestContext:
    return RequestContext(operation, writes=True, call=call, user_ids=_present(user_ids))


def _present(user_ids: Sequence[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(user_id for user_id in user_ids if user_id is not None))


def _segment(value: str) -> str:
    return quote(value, safe="")


def _track_flags(tracks: Collection[Track]) -> dict[str, bool]:
    if not tracks:
        raise ValueError("muting needs at least one track")
    return {track: True for track in tracks}


def _text_field(body: object, name: str) -> str | None:
    value = body.get(name) if isinstance(body, Mapping) else None
    return value if isinstance(value, str) and value else None


def _count_field(body: object, name: str) -> int:
    value = body.get(name) if isinstance(body, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _describe(exc: httpx.HTTPError) -> str:
    return str(exc) or type(exc).__name__
