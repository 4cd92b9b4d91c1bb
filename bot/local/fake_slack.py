"""A recording stand-in for Slack's Web API and response_url endpoints (aiohttp.web).

The bot reaches it through `SLACK_API_URL` (`api_url`) and through the `response_url`s that the
`SlackDriver` puts in signed payloads. Everything it receives is kept in order (`calls`,
`messages`, `responses`) and pushed to subscribers, which is how the console shows it as text.
It answers in Slack's documented shapes for the methods callmod uses.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import itertools
import json
import logging
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from bot.local.fake_channels import ChannelRefused, FakeChannels
from bot.util.clock import Clock, SystemClock

logger = logging.getLogger(__name__)

MAX_BLOCKS = 50
MAX_BUTTON_VALUE = 2000  # Block Kit: a button's value is at most 2,000 characters
RESPONSE_URL_USES = 5
RESPONSE_URL_METHOD = "response_url"
_FIRST_TS_MICROS = 1_800_000_000_000_100
_TS_STEP_MICROS = 100
_JSON_FIELDS = ("blocks", "attachments", "view")
# Modals (https://docs.slack.dev/reference/methods/views.open, .../surfaces/modals).
TRIGGER_SECONDS = 3.0  # a trigger_id opens a view only within 3 s of the interaction
MAX_VIEW_BLOCKS = 100
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255


@dataclass
class ApiCall:
    """One Web API request as received (the token itself is never kept)."""

    method: str
    args: dict[str, Any]
    token_ok: bool
    status: int
    error: str | None = None


@dataclass
class PostedMessage:
    """A message posted with chat.postMessage or chat.postEphemeral, in its current version."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    ephemeral_user: str | None = None
    metadata: dict[str, Any] | None = None  # Slack message metadata (see _metadata below)

    @property
    def ephemeral(self) -> bool:
        return self.ephemeral_user is not None


@dataclass
class ResponsePost:
    """One POST to a response_url; `status` is what the fake answered (200 unless refused)."""

    key: str
    text: str
    blocks: list[dict[str, Any]]
    response_type: str | None
    replace_original: bool
    delete_original: bool
    status: int = 200


@dataclass
class OpenedView:
    """A modal opened with views.open, in its current version (views.update replaces it)."""

    id: str
    user_id: str | None
    trigger_id: str
    view: dict[str, Any]
    hash: str
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def callback_id(self) -> str:
        return str(self.view.get("callback_id") or "")

    @property
    def private_metadata(self) -> str:
        return str(self.view.get("private_metadata") or "")


@dataclass
class PublishedHome:
    """A user's Home tab as views.publish last set it (issue 14)."""

    user_id: str
    id: str
    view: dict[str, Any]
    hash: str
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.view.get("blocks") or [])


SlackEvent = ApiCall | PostedMessage | ResponsePost | OpenedView | PublishedHome
CONNECTIONS_OPEN = "apps.connections.open"


class SocketModeEndpoint(Protocol):
    """Answers `apps.connections.open` (see fake_socket_mode.py): the app-level token is
    checked there, not against the bot token."""

    def connections_open(self, token: str | None) -> dict[str, Any]: ...


SlackListener = Callable[[SlackEvent], None]


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str | None
    remaining: int


class _MethodError(Exception):
    """A Slack method error: HTTP 200 with {"ok": false, "error": ...}."""

    def __init__(self, error: str, errors: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.errors = errors  # Slack's details, e.g. for invalid_blocks


class FakeSlack:
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake",
        bot_user_id: str = "UCALLMOD",
        team_id: str = "T0CALLMOD",
        clock: Clock | None = None,
    ) -> None:
        self._bot_token = bot_token
        self.clock: Clock = clock or SystemClock()
        self.views: list[OpenedView] = []
        self.homes: dict[str, PublishedHome] = {}  # user id -> their Home tab
        self.home_tab_enabled = True  # the manifest's app_home.home_tab_enabled
        # trigger_id -> (when it was issued on `clock`, the user who interacted)
        self._triggers: dict[str, tuple[float, str | None]] = {}
        self._view_numbers = itertools.count(1)
        # Seconds added to every trigger's age when views.open checks it: a test's way of
        # making the bot's views.open arrive late without moving anyone's clock.
        self.trigger_lag = 0.0
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.bot_id = "B0CALLMOD"
        self.calls: list[ApiCall] = []
        self.messages: list[PostedMessage] = []
        self.responses: list[ResponsePost] = []
        self.users: dict[str, str] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.channels = FakeChannels(team_id)  # #mod-log C0MODLOG, #mod-requests C0MODREQ
        self._failures: dict[str, deque[_Failure]] = {}
        self._listeners: list[SlackListener] = []
        self._changed = asyncio.Condition()
        self._ts_micros = _FIRST_TS_MICROS
        self._key_numbers = itertools.count(1)
        self._issued_keys: set[str] = set()
        self._bound_messages: dict[str, PostedMessage] = {}
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.socket_mode: SocketModeEndpoint | None = None  # set by FakeSocketMode

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{key}", self._handle_response_url)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        self._runner = runner
        self._base_url = f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeSlack is not started")
        return self._base_url

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, key: str | None = None, *, message: PostedMessage | None = None) -> str:
        """A response_url served by this fake; a new unique key when `key` is None.

        With `message`, the URL belongs to an interaction on that channel message, so a post with
        `replace_original` / `delete_original` edits or deletes it, as Slack does.
        """
        if key is None:
            key = self.new_response_key()
        self._issued_keys.add(key)
        if message is not None:
            self._bound_messages[key] = message
        return f"{self.base_url}/response/{key}"

    def new_response_key(self) -> str:
        """A response_url key not handed out before ("r1", "r2", ...)."""
        while True:
            key = f"r{next(self._key_numbers)}"
            if key not in self._issued_keys:
                self._issued_keys.add(key)
                return key

    def new_ts(self) -> str:
        """The next message timestamp, unique and increasing ("1800000000.000100", ...), and
        never behind the fake's clock: Slack's ts is the time it took the message."""
        micros = max(self._ts_micros, int(self.clock.time() * 1_000_000))
        self._ts_micros = micros + _TS_STEP_MICROS
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def register_trigger(self, trigger_id: str, user_id: str | None = None) -> None:
        """A trigger_id Slack handed out now (in a slash command or an interaction payload)."""
        self._triggers[trigger_id] = (self.clock.time(), user_id)

    def view(self, view_id: str) -> OpenedView:
        for opened in self.views:
            if opened.id == view_id:
                return opened
        raise KeyError(f"no view {view_id}")

    # ---- queries ---------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def messages_in(self, channel: str) -> list[PostedMessage]:
        return [message for message in self.messages if message.channel == channel]

    def responses_for(self, key: str) -> list[ResponsePost]:
        return [response for response in self.responses if response.key == key]

    def message(self, channel: str, ts: str) -> PostedMessage:
        for message in self.messages:
            if message.channel == channel and message.ts == ts:
                return message
        raise KeyError(f"no message {ts} in {channel}")

    # ---- fault injection, subscriptions, waiting -------------------------------------------

    def clear_failures(self) -> None:
        """Slack recovers: no injected failure is left."""
        self._failures.clear()

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: int | None = 0,
        error: str | None = None,
    ) -> None:
        """Make the next `times` requests to `method` fail.

        Web API methods: with `error`, HTTP 200 `{"ok": false, "error": error}` (a method error);
        otherwise HTTP `status` (429 carries `Retry-After` unless `retry_after` is None).
        `method="response_url"` targets response_url posts, which always fail with HTTP `status`
        and `error` (or a default) as the body's error.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        queue = self._failures.setdefault(method, deque())
        queue.append(_Failure(status=status, retry_after=retry_after, error=error, remaining=times))

    def subscribe(self, listener: SlackListener) -> Callable[[], None]:
        """Call `listener` on every record. For a message post or update the PostedMessage comes
        first, then the ApiCall; an update has a non-empty `history`, a deletion `deleted`."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # The contract names the parameter `timeout`; it only guards tests from hanging.
    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Return once `predicate()` holds, re-checking it after every record."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            raise TimeoutError(
                f"FakeSlack.wait_for({_describe(predicate)}) still false after {timeout}s; "
                f"{self._summary()}"
            ) from None

    def _summary(self) -> str:
        recent = ", ".join(f"{c.method}→{c.error or c.status}" for c in self.calls[-8:]) or "none"
        return (
            f"{len(self.calls)} API calls (last: {recent}), {len(self.messages)} messages, "
            f"{len(self.responses)} response_url posts"
        )

    async def _record(self, event: SlackEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("FakeSlack listener failed")
        async with self._changed:
            self._changed.notify_all()

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.popleft()
        return failure

    # ---- Web API ---------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        body_token = args.pop("token", None)
        token = _bearer(request.headers.get("Authorization")) or body_token
        if method == CONNECTIONS_OPEN:
            return await self._connections_open(args, token if isinstance(token, str) else None)
        if isinstance(token, str) and token.startswith("xapp-"):
            # An app-level token opens Socket Mode connections and nothing else.
            error = {"ok": False, "error": "not_allowed_token_type"}
            return await self._answer(method, args, False, error)
        token_ok = isinstance(token, str) and hmac.compare_digest(
            token.encode(), self._bot_token.encode()
        )
        if not token_ok:
            return await self._answer(method, args, False, {"ok": False, "error": "invalid_auth"})
        failure = self._take_failure(method)
        if failure is not None:
            return await self._answer_failure(method, args, failure)
        handler = self._methods().get(method)
        if handler is None:
            return await self._answer(method, args, True, {"ok": False, "error": "unknown_method"})
        try:
            payload = await handler(args)
        except _MethodError as exc:
            payload = {"ok": False, "error": exc.error}
            if exc.errors:
                payload["errors"] = exc.errors
        return await self._answer(method, args, True, payload)

    async def _connections_open(self, args: dict[str, Any], token: str | None) -> web.Response:
        failure = self._take_failure(CONNECTIONS_OPEN)
        if failure is not None:
            return await self._answer_failure(CONNECTIONS_OPEN, args, failure)
        if self.socket_mode is None:
            payload: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
        else:
            payload = self.socket_mode.connections_open(token)
        token_ok = payload.get("ok") is True
        return await self._answer(CONNECTIONS_OPEN, args, token_ok, payload)

    async def _answer(
        self, method: str, args: dict[str, Any], token_ok: bool, payload: dict[str, Any]
    ) -> web.Response:
        error = None if payload.get("ok") else str(payload.get("error"))
        await self._record_call(ApiCall(method, args, token_ok, 200, error))
        return web.json_response(payload)

    async def _answer_failure(
        self, method: str, args: dict[str, Any], failure: _Failure
    ) -> web.Response:
        if failure.error is not None:
            return await self._answer(method, args, True, {"ok": False, "error": failure.error})
        error = "ratelimited" if failure.status == 429 else "internal_error"
        headers = {}
        if failure.retry_after is not None and failure.status in (429, 503):
            headers["Retry-After"] = str(failure.retry_after)
        await self._record_call(ApiCall(method, args, True, failure.status, error))
        return web.json_response(
            {"ok": False, "error": error}, status=failure.status, headers=headers
        )

    async def _record_call(self, call: ApiCall) -> None:
        self.calls.append(call)
        await self._record(call)

    def _methods(self) -> Mapping[str, Callable[[dict[str, Any]], Any]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "users.info": self._users_info,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.info": self.channels.info,
            "conversations.list": self.channels.list,
            "conversations.history": self._history,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

    async def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger_id = _required(args, "trigger_id", "invalid_trigger_id")
        issued = self._triggers.pop(trigger_id, None)  # a trigger opens one view
        if issued is None:
            raise _MethodError("invalid_trigger_id")
        issued_at, user_id = issued
        if self.clock.time() + self.trigger_lag - issued_at > TRIGGER_SECONDS:
            raise _MethodError("expired_trigger_id")
        view = _view(args.get("view"))
        opened = OpenedView(
            f"V{next(self._view_numbers):08d}", user_id, trigger_id, view, self._new_hash()
        )
        self.views.append(opened)
        await self._record(opened)
        return {"ok": True, "view": self._view_shape(opened)}

    async def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        found = [
            v
            for v in self.views
            if (view_id and v.id == view_id)
            or (external_id and v.view.get("external_id") == external_id)
        ]
        if not found:
            raise _MethodError("not_found")
        opened = found[-1]
        wanted_hash = args.get("hash")
        if wanted_hash and wanted_hash != opened.hash:
            raise _MethodError("hash_conflict")
        view = _view(args.get("view"))
        opened.history.append(opened.view)
        opened.view = view
        opened.hash = self._new_hash()
        await self._record(opened)
        return {"ok": True, "view": self._view_shape(opened)}

    async def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.publish (https://docs.slack.dev/reference/methods/views.publish): a `home` view
        of at most 100 blocks for a user of this workspace; `not_enabled` when the app has no
        Home tab; `hash_conflict` when `hash` is not the tab's current one."""
        user_id = args.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            missing = "must provide a user_id [json-pointer:/user_id]"
            raise _MethodError("invalid_arguments", [missing])
        if user_id not in self.users:
            raise _MethodError("invalid_arguments", ["invalid user_id [json-pointer:/user_id]"])
        if not self.home_tab_enabled:
            raise _MethodError("not_enabled")
        current = self.homes.get(user_id)
        wanted_hash = args.get("hash")
        if wanted_hash and (current is None or wanted_hash != current.hash):
            raise _MethodError("hash_conflict")
        view = _view(args.get("view"), "home")
        if current is None:
            current = PublishedHome(user_id, f"V{next(self._view_numbers):08d}", view, "")
            self.homes[user_id] = current
        else:
            current.history.append(current.view)
            current.view = view
        current.hash = self._new_hash()
        await self._record(current)
        shaped = {**view, "id": current.id, "team_id": self.team_id, "state": {"values": {}}}
        shaped |= {"hash": current.hash, "app_id": "A0CALLMOD", "bot_id": self.bot_id}
        return {"ok": True, "view": shaped}

    def _new_hash(self) -> str:
        return f"{int(self.clock.time())}.{next(self._view_numbers):06d}"

    def _view_shape(self, opened: OpenedView) -> dict[str, Any]:
        return {
            **opened.view,
            "id": opened.id,
            "team_id": self.team_id,
            "state": {"values": {}},
            "hash": opened.hash,
            "root_view_id": opened.id,
            "previous_view_id": None,
            "app_id": "A0CALLMOD",
            "bot_id": self.bot_id,
        }

    async def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://callmod-test.slack.com/",
            "team": "callmod",
            "user": "callmod",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    async def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """conversations.history (https://docs.slack.dev/reference/methods/conversations.history):
        a channel's messages, newest first, without thread replies, ephemeral or deleted ones;
        `oldest` / `latest` bound them (exclusive unless `inclusive`), `limit` (default 100, at
        most 999) and `cursor` page them (`has_more`, `response_metadata.next_cursor`). Each
        message's `metadata` is included with `include_all_metadata`. A channel the fake does
        not know or the bot cannot see is `channel_not_found`; one the bot is not in,
        `not_in_channel`; a bad cursor, `invalid_cursor`."""
        channel_id = args.get("channel")
        if not isinstance(channel_id, str) or not channel_id:
            raise _MethodError("channel_not_found")
        known = self.channels.get(channel_id)
        if known is None and not channel_id.startswith("D"):
            raise _MethodError("channel_not_found")
        if known is not None:
            if known.is_private and not known.is_member:
                raise _MethodError("channel_not_found")
            if not known.is_member:
                raise _MethodError("not_in_channel")
        try:
            limit = int(str(args.get("limit") or 100))
        except ValueError:
            raise _MethodError("invalid_limit") from None
        limit = max(1, min(limit, 999))
        start = _history_offset(args.get("cursor"))
        if start is None:
            raise _MethodError("invalid_cursor")
        inclusive = str(args.get("inclusive", "")).lower() in ("1", "true")
        oldest = _ts_arg(args.get("oldest"), "invalid_ts_oldest") or 0.0
        latest = _ts_arg(args.get("latest"), "invalid_ts_latest") or None

        def within(ts: float) -> bool:
            after = ts >= oldest if inclusive else ts > oldest
            before = latest is None or (ts <= latest if inclusive else ts < latest)
            return after and before

        listed = sorted(
            (
                m
                for m in self.messages
                if m.channel == channel_id
                and not m.ephemeral
                and not m.deleted
                and (m.thread_ts is None or m.thread_ts == m.ts)
                and within(float(m.ts))
            ),
            key=lambda m: float(m.ts),
            reverse=True,
        )
        page = listed[start : start + limit]
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        shaped = []
        for message in page:
            one: dict[str, Any] = {
                "type": "message",
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "app_id": "A0CALLMOD",
                "text": message.text,
                "ts": message.ts,
                "team": self.team_id,
            }
            if message.blocks:
                one["blocks"] = message.blocks
            if with_metadata and message.metadata is not None:
                one["metadata"] = message.metadata
            shaped.append(one)
        after = start + len(page)
        more = after < len(listed)
        return {
            "ok": True,
            "messages": shaped,
            "has_more": more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": _history_cursor(after) if more else ""},
        }

    def dm_channel(self, user_id: str) -> str:
        """The id of the app's DM with `user_id` (where chat.postMessage to a user id goes)."""
        return "D" + user_id[1:]

    async def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        to = args.get("channel")
        if isinstance(to, str) and to in self.users:  # a user id: the app's DM with them
            args = {**args, "channel": self.dm_channel(to)}
        channel = _channel_arg(self.channels.post_target, args)
        text, blocks = _content(args)
        thread_ts = args.get("thread_ts") or None
        metadata, warning = _metadata(args)
        message = PostedMessage(
            channel, self.new_ts(), text, blocks, thread_ts=thread_ts, metadata=metadata
        )
        self.messages.append(message)
        await self._record(message)
        answer = {"ok": True, "channel": channel, "ts": message.ts, "message": self._shape(message)}
        return answer | ({"warning": warning} if warning else {})

    async def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _required(args, "channel", "channel_not_found")
        user = _required(args, "user", "user_not_in_channel")
        text, blocks = _content(args)
        thread_ts = args.get("thread_ts") or None
        message = PostedMessage(
            channel, self.new_ts(), text, blocks, thread_ts=thread_ts, ephemeral_user=user
        )
        self.messages.append(message)
        await self._record(message)
        return {"ok": True, "message_ts": message.ts}

    async def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._find_editable(args)
        text, blocks = _content(args)
        metadata, _ = _metadata(args)
        self._replace(message, text, blocks)
        if "metadata" in args and metadata is not None:
            message.metadata = metadata  # without metadata, chat.update keeps the message's
        await self._record(message)
        return {
            "ok": True,
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": self._shape(message),
        }

    async def _delete(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._find_editable(args)
        message.deleted = True
        await self._record(message)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _find_editable(self, args: dict[str, Any]) -> PostedMessage:
        channel = _channel_arg(self.channels.edit_target, args)
        ts = _required(args, "ts", "message_not_found")
        for message in self.messages:
            # Slack cannot edit or delete ephemeral messages through the Web API.
            if message.channel == channel and message.ts == ts and not message.ephemeral:
                if message.deleted:
                    break
                return message
        raise _MethodError("message_not_found")

    @staticmethod
    def _replace(message: PostedMessage, text: str, blocks: list[dict[str, Any]]) -> None:
        message.history.append({"text": message.text, "blocks": message.blocks})
        message.text = text
        message.blocks = blocks

    def _shape(self, message: PostedMessage) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": message.text,
            "ts": message.ts,
        }
        if message.blocks:
            shaped["blocks"] = message.blocks
        if message.thread_ts:
            shaped["thread_ts"] = message.thread_ts
        return shaped

    async def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = _required(args, "user", "user_not_found")
        name = self.users.get(user_id)
        if name is None:
            raise _MethodError("user_not_found")
        return {
            "ok": True,
            "user": {
                "id": user_id,
                "team_id": self.team_id,
                "name": name,
                "real_name": name,
                "is_bot": False,
                "profile": {"display_name": name, "real_name": name},
            },
        }

    async def _usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        include_users = _truthy(args.get("include_users"))
        groups = []
        for handle, members in self.usergroups.items():
            group: dict[str, Any] = {
                "id": usergroup_id(handle),
                "team_id": self.team_id,
                "handle": handle,
                "name": handle,
                "user_count": len(members),
            }
            if include_users:
                group["users"] = list(members)
            groups.append(group)
        return {"ok": True, "usergroups": groups}

    async def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group_id = _required(args, "usergroup", "no_such_subteam")
        for handle, members in self.usergroups.items():
            if usergroup_id(handle) == group_id:
                return {"ok": True, "users": list(members)}
        raise _MethodError("no_such_subteam")

    # ---- response_url ----------------------------------------------------------------------

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return await self._refuse_response(key, {}, 400, "invalid_payload")
        failure = self._take_failure(RESPONSE_URL_METHOD)
        if failure is not None:
            error = failure.error or ("rate_limited" if failure.status == 429 else "internal_error")
            return await self._refuse_response(key, body, failure.status, error)
        if sum(1 for r in self.responses_for(key) if r.status == 200) >= RESPONSE_URL_USES:
            return await self._refuse_response(key, body, 404, "used_url")
        try:
            post = _response_post(key, body, 200)
        except _MethodError as exc:
            return await self._refuse_response(key, body, 400, exc.error)
        self.responses.append(post)
        await self._record(post)
        await self._apply_to_bound_message(post)
        return web.Response(text="ok")

    async def _refuse_response(
        self, key: str, body: dict[str, Any], status: int, error: str
    ) -> web.Response:
        text, blocks = body.get("text"), body.get("blocks")
        response_type = body.get("response_type")
        post = ResponsePost(
            key=key,
            text=text if isinstance(text, str) else "",
            blocks=blocks if isinstance(blocks, list) else [],
            response_type=response_type if isinstance(response_type, str) else None,
            replace_original=_truthy(body.get("replace_original")),
            delete_original=_truthy(body.get("delete_original")),
            status=status,
        )
        self.responses.append(post)
        await self._record(post)
        return web.json_response({"ok": False, "error": error}, status=status)

    async def _apply_to_bound_message(self, post: ResponsePost) -> None:
        message = self._bound_messages.get(post.key)
        if message is None or message.deleted:
            return
        if post.delete_original:
            message.deleted = True
        elif post.replace_original:
            self._replace(message, post.text, post.blocks)
        else:
            return
        await self._record(message)


def usergroup_id(handle: str) -> str:
    """The fake's id for a user group: "S" + the handle in upper case."""
    return "S" + handle.lstrip("@").upper()


async def _read_args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                args.update(body)
        else:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    for name in _JSON_FIELDS:
        value = args.get(name)
        if isinstance(value, str) and value.strip():
            # Undecodable values stay strings, which _blocks() answers with invalid_blocks.
            with contextlib.suppress(ValueError):
                args[name] = json.loads(value)
    return args


def _bearer(header: str | None) -> str | None:
    if header and header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return None


def _required(args: dict[str, Any], name: str, error: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise _MethodError(error)
    return value


def _ts_arg(value: object, error: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value))
    except ValueError:
        raise _MethodError(error) from None


def _history_cursor(offset: int) -> str:
    return base64.b64encode(f"next_ts:{offset}".encode()).decode()


def _history_offset(cursor: object) -> int | None:
    if cursor is None or cursor == "":
        return 0
    try:
        decoded = base64.b64decode(str(cursor), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    number = decoded.removeprefix("next_ts:")
    if not decoded.startswith("next_ts:") or not number.isdigit():
        return None
    return int(number)


def _channel_arg(target: Callable[[str], str], args: dict[str, Any]) -> str:
    """The `channel` argument as the channel id the method acts on (see fake_channels.py)."""
    try:
        return target(_required(args, "channel", "channel_not_found"))
    except ChannelRefused as refused:
        raise _MethodError(refused.error) from None


def _content(args: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    text = args.get("text")
    text = text if isinstance(text, str) else ""
    blocks = _blocks(args.get("blocks"))
    if not text and not blocks:
        raise _MethodError("no_text")
    return text, blocks


# Message metadata (https://docs.slack.dev/messaging/message-metadata): an object with a string
# `event_type` (letters, digits, _ and -) and an object `event_payload` whose values are strings,
# numbers, booleans, or objects / lists of objects of those.
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_-]+$")


def _metadata(args: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The `metadata` argument as Slack takes it: (metadata, None), or (None, None) when there is
    none. Not an object (or JSON that does not decode to one) is `invalid_metadata_format`;
    a bad `event_type` or payload is Slack's `invalid_metadata_schema`, which Slack answers as a
    warning and drops the metadata: (None, "invalid_metadata_schema")."""
    value = args.get("metadata")
    if value is None or value == "":
        return None, None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _MethodError("invalid_metadata_format") from None
    if not isinstance(value, dict) or "event_type" not in value or "event_payload" not in value:
        raise _MethodError("invalid_metadata_format")
    event_type, payload = value["event_type"], value["event_payload"]
    if (
        not isinstance(event_type, str)
        or not _EVENT_TYPE.match(event_type)
        or not isinstance(payload, dict)
        or not all(_payload_value(v) for v in payload.values())
    ):
        return None, "invalid_metadata_schema"
    return value, None


def _payload_value(value: object, depth: int = 0) -> bool:
    if isinstance(value, str | int | float | bool):
        return True
    if depth > 0:
        return False
    if isinstance(value, dict):
        return all(_payload_value(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(
            isinstance(item, dict) and all(_payload_value(v, depth + 1) for v in item.values())
            for item in value
        )
    return False


def _blocks(value: object) -> list[dict[str, Any]]:
    if value is None or value == "":
        return []
    if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
        raise _MethodError("invalid_blocks")
    if len(value) > MAX_BLOCKS:
        raise _MethodError("invalid_blocks", [f"no more than {MAX_BLOCKS} items allowed"])
    problems = [
        problem
        for b, block in enumerate(value)
        for problem in _block_problems(block, f"/blocks/{b}")
    ]
    if problems:
        raise _MethodError("invalid_blocks", problems)
    return value


# Block Kit's limits, for what callmod posts (https://docs.slack.dev/reference/block-kit).
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_ELEMENT_TEXT = 75  # a button's or an option's text
MAX_ACTION_ID = 255
OVERFLOW_OPTIONS = (2, 5)
MAX_SELECT_OPTIONS = 100
MAX_OPTION_VALUE = 2000  # Block Kit: an option's value, like a button's, is at most 2,000


def _view(value: object, kind: str = "modal") -> dict[str, Any]:
    """A view as Slack takes it — a modal (views.open, views.update) or a Home tab
    (views.publish, `kind="home"`) — or the error Slack answers. Only a modal has a title and
    Submit/Close texts; a Home tab holds no input blocks, so checking their elements is moot."""
    if not isinstance(value, dict) or value.get("type") != kind:
        missing = f"must provide a {kind} view [json-pointer:/view]"
        raise _MethodError("invalid_arguments", [missing])
    problems = []
    if kind == "modal":
        title = value.get("title")
        if not isinstance(title, dict) or not _text_of(title):
            problems.append("must provide a title [json-pointer:/view/title]")
        elif len(_text_of(title)) > MAX_VIEW_TITLE:
            problems.append(_too_long(MAX_VIEW_TITLE, "/view/title/text"))
        for name in ("submit", "close"):
            if len(_text_of(value.get(name))) > MAX_VIEW_TITLE:
                problems.append(_too_long(MAX_VIEW_TITLE, f"/view/{name}/text"))
    if len(str(value.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
        problems.append(_too_long(MAX_PRIVATE_METADATA, "/view/private_metadata"))
    if len(str(value.get("callback_id") or "")) > MAX_CALLBACK_ID:
        problems.append(_too_long(MAX_CALLBACK_ID, "/view/callback_id"))
    if problems:
        raise _MethodError("invalid_arguments", problems)
    blocks = value.get("blocks")
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise _MethodError("invalid_blocks", ["must provide an array [json-pointer:/view/blocks]"])
    if len(blocks) > MAX_VIEW_BLOCKS:
        too_many = f"no more than {MAX_VIEW_BLOCKS} items allowed [json-pointer:/view/blocks]"
        raise _MethodError("invalid_blocks", [too_many])
    for b, block in enumerate(blocks):
        at = f"/view/blocks/{b}"
        problems += _block_problems(block, at)
        element = block.get("element")
        if block.get("type") == "input" and isinstance(element, dict):
            problems += _element_problems(element, f"{at}/element")
    if problems:
        raise _MethodError("invalid_blocks", problems)
    return value


def _too_long(limit: int, where: str) -> str:
    return f"must be less than {limit + 1} characters [json-pointer:{where}]"


def _text_of(node: object) -> str:
    text = node.get("text") if isinstance(node, dict) else None
    return text if isinstance(text, str) else ""


def _block_problems(block: dict[str, Any], at: str) -> list[str]:
    """What Slack would refuse in one block, as its `errors` entries word it."""
    problems = []
    kind = block.get("type")
    if kind == "section":
        if len(_text_of(block.get("text"))) > MAX_SECTION_TEXT:
            problems.append(_too_long(MAX_SECTION_TEXT, f"{at}/text/text"))
        fields = block.get("fields") or []
        if len(fields) > MAX_FIELDS:
            problems.append(f"no more than {MAX_FIELDS} items allowed [json-pointer:{at}/fields]")
        for f, field_ in enumerate(fields):
            if len(_text_of(field_)) > MAX_FIELD_TEXT:
                problems.append(_too_long(MAX_FIELD_TEXT, f"{at}/fields/{f}/text"))
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            problems += _element_problems(accessory, f"{at}/accessory")
    elements = block.get("elements")
    elements = elements if isinstance(elements, list) else []
    limit = {"actions": MAX_ACTIONS_ELEMENTS, "context": MAX_CONTEXT_ELEMENTS}.get(str(kind))
    if limit is not None and len(elements) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:{at}/elements]")
    seen: set[str] = set()  # Slack: an action_id must be unique within its block
    for e, element in enumerate(elements):
        if isinstance(element, dict) and kind != "context":
            problems += _element_problems(element, f"{at}/elements/{e}")
            action_id = element.get("action_id")
            if isinstance(action_id, str) and action_id in seen:
                problems.append(
                    f'`action_id` "{action_id}" already exists '
                    f"[json-pointer:{at}/elements/{e}/action_id]"
                )
            if isinstance(action_id, str):
                seen.add(action_id)
    return problems


def _element_problems(element: dict[str, Any], at: str) -> list[str]:
    problems = []
    action_id = element.get("action_id")
    if isinstance(action_id, str) and len(action_id) > MAX_ACTION_ID:
        problems.append(_too_long(MAX_ACTION_ID, f"{at}/action_id"))
    if len(_text_of(element.get("text"))) > MAX_ELEMENT_TEXT:
        problems.append(_too_long(MAX_ELEMENT_TEXT, f"{at}/text/text"))
    button_value = element.get("value")
    if isinstance(button_value, str) and len(button_value) > MAX_BUTTON_VALUE:
        problems.append(_too_long(MAX_BUTTON_VALUE, f"{at}/value"))
    options = element.get("options")
    if options is None:
        return problems
    options = options if isinstance(options, list) else []
    low, high = OVERFLOW_OPTIONS if element.get("type") == "overflow" else (1, MAX_SELECT_OPTIONS)
    if len(options) < low:
        problems.append(f"must provide at least {low} items [json-pointer:{at}/options]")
    if len(options) > high:
        problems.append(f"no more than {high} items allowed [json-pointer:{at}/options]")
    for o, option in enumerate(options):
        if len(_text_of(option.get("text") if isinstance(option, dict) else None)) > (
            MAX_ELEMENT_TEXT
        ):
            problems.append(_too_long(MAX_ELEMENT_TEXT, f"{at}/options/{o}/text/text"))
        option_value = option.get("value") if isinstance(option, dict) else None
        if isinstance(option_value, str) and len(option_value) > MAX_OPTION_VALUE:
            problems.append(_too_long(MAX_OPTION_VALUE, f"{at}/options/{o}/value"))
    return problems


def _response_post(key: str, body: dict[str, Any], status: int) -> ResponsePost:
    delete_original = _truthy(body.get("delete_original"))
    text = body.get("text")
    text = text if isinstance(text, str) else ""
    blocks = _blocks(body.get("blocks"))
    if not delete_original and not text and not blocks:
        raise _MethodError("no_text")
    response_type = body.get("response_type")
    return ResponsePost(
        key=key,
        text=text,
        blocks=blocks,
        response_type=response_type if isinstance(response_type, str) else None,
        replace_original=_truthy(body.get("replace_original")),
        delete_original=delete_original,
        status=status,
    )


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _describe(predicate: Callable[[], bool]) -> str:
    return getattr(predicate, "__qualname__", None) or repr(predicate)
