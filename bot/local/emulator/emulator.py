"""`StreamEmulator`: the state, the HTTP server, fault injection and webhooks, wired together."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.local.emulator import events, lifecycle
from bot.local.emulator.auth import server_token
from bot.local.emulator.errors import Invalid
from bot.local.emulator.faults import FaultInjector
from bot.local.emulator.moderation import ModerationRoutes
from bot.local.emulator.server import RecordedRequest, StreamApi
from bot.local.emulator.state import (
    CALL_PERMISSIONS,
    Call,
    EmulatorState,
    Participant,
    PlantedBan,
    User,
)
from bot.local.emulator.views import answer_time, user_ref
from bot.local.emulator.webhooks import WebhookDelivery, WebhookSender
from bot.util.clock import Clock, SystemClock


class StreamEmulator:
    """A stateful, in-process Stream Video server for the console and the tests."""

    def __init__(
        self,
        api_key: str = "emulator-key",
        api_secret: str = "emulator-secret",
        *,
        clock: Clock | None = None,
        webhook_url: str | None = None,
        demo_data: bool = True,
        webhook_retry_delays: Sequence[float] = (1.0, 3.0, 9.0),
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.clock: Clock = clock if clock is not None else SystemClock()
        state = EmulatorState(clock=self.clock)
        if demo_data:
            state.load_demo_data()
        self.faults = FaultInjector()
        self._webhooks = WebhookSender(
            api_key=api_key,
            api_secret=api_secret,
            clock=self.clock,
            retry_delays=webhook_retry_delays,
            url=webhook_url,
        )
        self._api = StreamApi(
            state=state,
            faults=self.faults,
            webhooks=self._webhooks,
            requests=[],
            api_key=api_key,
            api_secret=api_secret,
            clock=self.clock,
        )
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def state(self) -> EmulatorState:
        return self._api.state

    @state.setter
    def state(self, state: EmulatorState) -> None:
        """Swap the whole world (e.g. a prepared `EmulatorState`); the server serves it at once."""
        self._api.state = state

    @property
    def moderation(self) -> ModerationRoutes:
        """The review queue and the moderation events (warn, blur, rule, flag)."""
        return self._api.moderation

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order, including refused ones."""
        return self._api.requests

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        runner = web.AppRunner(self._api.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._base_url = f"http://{bound_host}:{bound_port}"
        return self._base_url

    async def stop(self) -> None:
        await self._webhooks.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> StreamEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the emulator has not been started")
        return self._base_url

    def server_token(self) -> str:
        """A server-side JWT for this emulator's secret, as Stream's SDKs make it."""
        return server_token(self.api_secret)

    # --- webhooks ----------------------------------------------------------------------------

    @property
    def webhook_url(self) -> str | None:
        return self._webhooks.url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self._webhooks.url = url

    @property
    def gzip_webhooks(self) -> bool:
        return self._webhooks.gzip_bodies

    @gzip_webhooks.setter
    def gzip_webhooks(self, enabled: bool) -> None:
        self._webhooks.gzip_bodies = enabled

    @property
    def send_custom_events(self) -> bool:
        """Whether `custom` call events reach the webhook (Stream's `should_send_custom_events`
        on the event hook); off by default."""
        return self._webhooks.send_custom_events

    @send_custom_events.setter
    def send_custom_events(self, enabled: bool) -> None:
        self._webhooks.send_custom_events = enabled

    @property
    def webhooks_sent(self) -> list[WebhookDelivery]:
        return self._webhooks.deliveries

    async def send_event(self, event: dict[str, Any]) -> None:
        """Deliver a signed webhook in the background (with retries); returns once scheduled."""
        self._webhooks.send(event)

    async def wait_webhooks_idle(self) -> None:
        """Wait until every scheduled delivery has finished (delivered or given up)."""
        await self._webhooks.wait_idle()

    async def raise_permission_request(
        self, call_cid: str, user_id: str, permissions: Sequence[str]
    ) -> dict[str, Any]:
        """A participant asks for permissions: send `call.permission_request`; return it."""
        self.state.call(call_cid)
        self.state.user(user_id)
        unknown = [p for p in permissions if p not in CALL_PERMISSIONS]
        if not permissions or unknown:
            raise Invalid.field(
                "permissions", f"permissions must be some of {sorted(CALL_PERMISSIONS)}"
            )
        event = events.permission_request(self.state, call_cid, user_id, permissions)
        await self.send_event(event)
        return event

    # --- people joining and leaving (what Stream's SFU would report) --------------------------

    async def join(
        self, cid: str, user_id: str, tracks: Iterable[str] = (), role: str = "user"
    ) -> Participant:
        """A user connects to the call (see `EmulatorState.join`); sends the session webhooks."""
        with self._session_webhooks(cid):
            return self.state.join(cid, user_id, tracks, role)

    async def leave(
        self, cid: str, user_id: str, user_session_id: str | None = None
    ) -> list[Participant]:
        """A user hangs up; sends `call.session_participant_left` (and `session_ended`)."""
        with self._session_webhooks(cid):
            return self.state.leave(cid, user_id, user_session_id)

    async def end_call(self, cid: str) -> Call:
        """The call ends as `mark_ended` ends it, webhooks included."""
        call = self.state.call(cid)
        was_ended = call.ended_at is not None
        with self._session_webhooks(cid):
            self.state.end_call(cid)
            if not was_ended:
                self._webhooks.send(events.call_ended(self.state, call))
        return call

    @contextmanager
    def _session_webhooks(self, cid: str) -> Iterator[None]:
        call = self.state.call(cid)
        before = lifecycle.mark(call)
        yield
        for event in lifecycle.session_events(self.state, call, before):
            self._webhooks.send(event)

    # --- set-up helpers for tests ------------------------------------------------------------

    def add_user(self, id: str, name: str | None = None, role: str = "user") -> User:
        return self.state.add_user(id, name, role)

    def add_call(
        self,
        cid: str,
        members: Iterable[str] = (),
        participants: Iterable[str] | None = None,
        *,
        created_by: str | None = None,
    ) -> Call:
        return self.state.add_call(cid, members, participants, created_by=created_by)

    def plant_ban_entry(
        self,
        entry: Mapping[str, Any],
        *,
        created_at: float | None = None,
        expires_at: float | None = None,
    ) -> PlantedBan:
        """Make `query_banned_users` list this raw entry, verbatim, among the bans (placed by
        `created_at`, default now): for clients meeting entries they cannot read."""
        return self.state.plant_ban_entry(entry, created_at=created_at, expires_at=expires_at)

    def plant_deleted_user_ban(
        self,
        banned_by: str,
        *,
        created_at: float | None = None,
        expires_at: float | None = None,
        reason: str | None = None,
    ) -> PlantedBan:
        """The ban of a user who was hard-deleted since: Stream lists it with `"user": null`."""
        at = self.clock.time() if created_at is None else created_at
        entry: dict[str, Any] = {
            "user": None,
            "banned_by": user_ref(self.state, banned_by),
            "created_at": answer_time(at),
            "shadow": False,
        }
        if expires_at is not None:
            entry["expires"] = answer_time(expires_at)
        if reason is not None:
            entry["reason"] = reason
        return self.plant_ban_entry(entry, created_at=at, expires_at=expires_at)
