"""Wires one callmod process together: Stream client, Slack client, registry, dispatcher, Bolt,
webhooks, ban timers and the HTTP server. `serve`, the console and the tests all build this."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from bot.cases import CaseStore, CaseStoreError
from bot.core import names
from bot.core.dispatch import Dispatcher, Services
from bot.core.model import MessageRef
from bot.core.presets import presets_of
from bot.core.roles import RoleResolver
from bot.moderation.alerts.decisions import AlertButtons
from bot.moderation.alerts.desk import AlertDesk
from bot.moderation.alerts.home import OpenAlertsSection
from bot.moderation.bans.book import BanBook
from bot.moderation.bans.shared_expiry import SharedExpiries
from bot.moderation.echoes import EchoBook
from bot.moderation.history.book import CaseBook
from bot.moderation.notices import CallNotices
from bot.moderation.outside import OutsideDesk
from bot.moderation.permission_requests import PermissionDesk
from bot.moderation.shared_requests import RequestShare
from bot.runtime.bot_user import BotUser
from bot.runtime.listen import listen
from bot.runtime.metrics import Metrics
from bot.runtime.readiness import (
    PROBE_DEADLINE,
    Cached,
    Readiness,
    flag,
    shared_reachable,
    store_writable,
    stream_probe,
)
from bot.runtime.server import build_web_app
from bot.settings import ConfigError, Settings
from bot.shared import SharedState, open_shared_state, replica_name
from bot.slack.bolt import Listeners, build_bolt_app
from bot.slack.channels import is_channel_id
from bot.slack.home import AppHome
from bot.slack.poster import Metadata, SlackPoster, SlackPostError, slack_client
from bot.slack.replies import ReplySender
from bot.stream import StreamAPIError, StreamClient
from bot.stream.events import (
    POLICY_VIOLATION,
    ActionEvent,
    CallEnded,
    Delivery,
    ModerationEvent,
    PermissionRequest,
    UserBanned,
    UserUnbanned,
    event_type,
)
from bot.stream.webhooks import WebhookReceiver
from bot.util.clock import Clock
from bot.util.inflight import InFlight
from bot.util.request_ids import new_request_id
from commands import build_registry

log = logging.getLogger("callmod")

PRUNE_INTERVAL = 86_400.0  # MOD_CASE_RETENTION_DAYS is applied at start-up and daily

WEBHOOK_RETRY_SECONDS = (
    3600.0  # keep retrying Slack/Stream for an hour before giving up on an event
)


class Callmod:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        store: CaseStore,
        stream_clock: Clock | None = None,
        shared: SharedState | None = None,
        replica: str | None = None,
    ) -> None:
        """`store` is the open case store (`open_store`); `stream_clock` paces the Stream
        client's retries (defaults to `clock`); `shared` is the state replicas share (by
        default opened from REDIS_URL, or kept in this process) and `replica` this process's
        name as an owner of leases in it."""
        if settings.slack_bot_token is None or settings.slack_signing_secret is None:
            raise ValueError("callmod needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
        if settings.stream_api_key is None or settings.stream_api_secret is None:
            raise ValueError("callmod needs STREAM_API_KEY and STREAM_API_SECRET")
        channels = (settings.mod_log_channel, settings.requests_channel, settings.alerts_channel)
        for channel in channels:
            if channel is not None and not is_channel_id(channel):
                raise ValueError(f"{channel!r} is a channel name: resolve_channels() it first")
        presets_of(settings)  # a bad MOD_REASON_PRESETS file is a ConfigError before anything
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self._owns_shared = shared is None
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        self.shared = shared or open_shared_state(redis_url, clock)
        # Several replicas share state (a shared state given, or Redis): expiries are taken
        # from the shared schedule. One process alone keeps today's in-memory timers only.
        self.replicated = shared is not None or redis_url is not None
        self.replica = replica or replica_name()
        self.metrics.watch_shared(self.shared.stats)
        self.stream = stream = StreamClient.from_settings(
            settings,
            clock=stream_clock or clock,
            on_response=self.metrics.stream_response,
            on_unreadable=self.metrics.stream_unreadable_entry,
        )
        self.slack = slack_client(
            settings.slack_bot_token.get_secret_value(), settings.slack_api_url
        )
        self.poster = SlackPoster(self.slack)
        self.replies = ReplySender()
        self.registry = build_registry()
        self.inflight = InFlight(settings.mod_max_concurrent_actions)
        # Work after an ack lets pending acks go first before each call it makes.
        stream.before_send = self.poster.before_send = self.inflight.yield_to_acks
        self.replies.before_send = self.inflight.yield_to_acks
        self.roles = RoleResolver(
            admins=settings.mod_admins,
            moderators=settings.mod_moderators,
            client=self.slack,
            clock=clock,
            ttl=settings.mod_usergroup_cache_seconds,
        )
        self.store = store
        self.cases = CaseBook(store, clock, self.poster)
        self.bans = BanBook(
            cases=self.cases,
            reconcile_every=settings.mod_reconcile_seconds,
            stream=stream,
            poster=self.poster,
            channel=settings.mod_log_channel,
            clock=clock,
            bot_stream_user_id=settings.mod_stream_user_id,
            expiries=self._shared_expiries(),
        )
        self.echoes = EchoBook(clock, settings.mod_stream_user_id)
        stream.write_observer = self.echoes
        self.outside = OutsideDesk(
            cases=self.cases,
            echoes=self.echoes,
            poster=self.poster,
            channel=settings.mod_log_channel,
            clock=clock,
        )
        self.notices = (
            CallNotices(
                stream,
                sender_id=settings.mod_stream_user_id,
                default_call_type=settings.mod_default_call_type,
                on_failure=lambda action: self.metrics.call_notices_failed.labels(action).inc(),
            )
            if settings.mod_notify_calls
            else None
        )
        self.permission_requests = PermissionDesk(
            poster=self.poster,
            channel=settings.requests_channel,
            clock=clock,
            max_age=settings.mod_request_max_age_seconds,
            default_call_type=settings.mod_default_call_type,
            shared=(
                RequestShare(
                    self.shared,
                    keep_for=2 * settings.mod_request_max_age_seconds,
                    claim_lease=settings.mod_lease_seconds,
                )
                if self.replicated
                else None
            ),
        )
        for button in self.permission_requests.buttons():
            self.registry.add_button(button)  # before build_bolt_app, which registers them
        self.alerts = AlertDesk(
            poster=self.poster,
            channel=settings.alerts_channel,
            clock=clock,
            cases=self.cases,
            stream=stream,
            bot_user_id=settings.mod_stream_user_id,
            moderators=settings.mod_moderators,
            escalate_after=settings.mod_alert_escalate_after,
            default_call_type=settings.mod_default_call_type,
            slash_queue=names.slash("queue", settings.mod_command_prefix),
            shared=self.shared if self.replicated else None,
            replica=self.replica,
            lease=settings.mod_lease_seconds,
        )
        for button in AlertButtons(self.alerts).buttons():
            self.registry.add_button(button)
        self.dispatcher = Dispatcher(
            Services(
                stream=stream,
                settings=settings,
                clock=clock,
                registry=self.registry,
                roles=self.roles,
                bans=self.bans,
                cases=self.cases,
                audit=self._audit,
                notices=self.notices,
                alerts=self.alerts,
                shared=self.shared if self.replicated else None,
            )
        )
        self.alerts.run_line = self.dispatcher.run_line_recorded
        self.alerts.before_work = self.inflight.yield_to_acks
        self.dispatcher.after_done.append(self.alerts.after_action)
        # The App Home tab (issue 14); other features add sections with home.add_section.
        self.home = AppHome(
            self.dispatcher,
            self.slack,
            requests=self.permission_requests,
            team_url=lambda: self.bans.team_url,
            shared=self.shared if self.replicated else None,
        )
        self.home.add_section(OpenAlertsSection(self.alerts, self.alerts.slash_queue))
        self.bolt = build_bolt_app(
            client=self.slack,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            dispatcher=self.dispatcher,
            listeners=Listeners(inflight=self.inflight, metrics=self.metrics, replies=self.replies),
            home=self.home,
        )
        self.webhooks = WebhookReceiver(
            api_key=settings.stream_api_key,
            api_secret=settings.stream_api_secret.get_secret_value(),
            dispatch=self.on_webhook,
            clock=clock,
            shared=self.shared,
        )
        self.metrics.watch_pending_timers(lambda: len(self.bans.timers))
        self.bot_user = BotUser(stream, settings.mod_stream_user_id, clock=clock)
        # Readiness probes Stream with a client of its own: a short deadline, no metrics.
        self._probe_stream = StreamClient.from_settings(
            settings.with_values(stream_deadline=PROBE_DEADLINE), clock=stream_clock or clock
        )
        self.readiness = self._readiness()
        self.web_app = build_web_app(
            bolt=self.bolt,
            webhook=self.webhooks.handle,
            moderation_webhook=self.webhooks.handle,
            health=self.health,
            ready=self.readiness.report,
            inflight=self.inflight,
            metrics=self.metrics.endpoint,
        )
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pruner: asyncio.Task[None] | None = None
        self.pruned = asyncio.Event()
        self.base_url = ""

    async def start(
        self,
        host: str,
        port: int,
        *,
        rehydrate: bool = True,
        sock: socket.socket | None = None,
    ) -> str:
        """Serve HTTP and start the background work; returns the base URL.

        The bot's own Stream user is created first (Stream refuses bans and mutes by an unknown
        user), bounded by the Stream deadline; the ban rebuild runs in the background, so Slack
        is answered before it finishes. When Stream does not take the user, it is retried in the
        background (`BotUser`) and `/readyz` says so. A HOST or PORT that cannot be bound raises
        `ConfigError` with nothing left running. `sock`: serve this listening socket instead of
        binding host:port (`bot.runtime.listen.inherited_socket`)."""
        await self.bot_user.start()
        # One HTTP session for every Slack call and reply, instead of one per call.
        self._session = aiohttp.ClientSession()
        self.slack.session = self.replies.session = self._session
        await self._learn_team_url()
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        try:
            await listen(
                self._runner,
                host,
                port,
                reuse_port=self.settings.reuse_port,
                on_connection=self.inflight.connection_opened,
                sock=sock,
            )
        except ConfigError:  # leave nothing running; `stop()` may still be called
            await self.bot_user.stop()
            await self._runner.cleanup()
            await self._session.close()
            self._runner = self._session = None
            raise
        # Nothing awaits from here on, so no request is handled before the timers are started.
        self.bans.start(rehydrate=rehydrate)
        self.alerts.start()
        if self.settings.mod_case_retention_days is not None:
            self._pruner = asyncio.create_task(self._prune_daily())
        address = self._runner.addresses[0] if self._runner.addresses else (host, port)
        where = str(address[0]) if sock is not None else host  # an inherited socket's own
        self.base_url = f"http://{'127.0.0.1' if where in ('0.0.0.0', '') else where}:{address[1]}"
        return self.base_url

    async def stop(self) -> None:
        await self.idle()
        if self._pruner is not None:
            self._pruner.cancel()
            await asyncio.gather(self._pruner, return_exceptions=True)
        await self.bot_user.stop()
        await self.bans.stop()
        await self.alerts.stop()
        await self.cases.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
        await self.stream.aclose()
        await self._probe_stream.aclose()
        if self._owns_shared:
            await self.shared.close()

    def halt(self) -> None:
        """Stop working at once, as `kill -9` would (the replica tests and `make ha-demo`):
        webhooks, timers and sweeps are cancelled mid-way and no claim or lease is given back.
        The HTTP server stays bound until `stop()`; whoever routes to it stops doing so."""
        self.webhooks.halt()
        self.bans.halt()

    async def idle(self) -> None:
        """Wait until every acked command, webhook and due timer has finished its work."""
        for _ in range(3):  # work can start more work (a webhook → a timer); settle a few rounds
            await self.inflight.wait_idle()
            await self.webhooks.drain()
            await self.bans.idle()
            await self.permission_requests.idle()
            await self.alerts.idle()
            await self.home.idle()
            if self.notices is not None:
                await self.notices.idle()

    def _shared_expiries(self) -> SharedExpiries | None:
        if not self.replicated:
            return None
        return SharedExpiries(
            self.shared,
            replica=self.replica,
            lease=self.settings.mod_lease_seconds,
            clock=self.clock,
        )

    async def _learn_team_url(self) -> None:
        """The workspace URL (auth.test), so `/bans` can link each ban's notification."""
        try:
            answer = await self.slack.auth_test()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            log.warning("auth.test failed; /bans will not link notifications: %s", error)
            return
        url = answer.get("url")
        self.bans.team_url = str(url) if url else None

    async def prune_cases(self) -> int:
        """Delete cases older than MOD_CASE_RETENTION_DAYS; returns how many went."""
        days = self.settings.mod_case_retention_days
        if days is None:
            return 0
        cutoff = datetime.fromtimestamp(self.clock.time(), tz=UTC) - timedelta(days=days)
        pruned = await self.store.prune(cutoff)
        log.info("pruned %d cases older than %d days", pruned, days)
        return pruned

    async def _prune_daily(self) -> None:
        """At start-up, then once a day; a failure is logged and tried again the next day."""
        while True:
            try:
                await self.prune_cases()
            except CaseStoreError as error:
                log.warning("could not prune old cases: %s", error)
            self.pruned.set()  # for whoever waits for a round (tests on a manual clock)
            await self.clock.sleep(PRUNE_INTERVAL)

    async def health(self) -> dict[str, Any]:
        """Liveness (`/healthz`): the process answers. Asks nothing of Stream, Slack or the
        database; what callmod depends on is readiness (`/readyz`, `self.readiness`)."""
        return {"ok": True}

    def _readiness(self) -> Readiness:
        readiness = Readiness()
        probe = stream_probe(self._probe_stream, self.settings.mod_stream_user_id)
        readiness.add("stream", Cached(probe, clock=self.clock))
        readiness.add("stream_user", flag(self.bot_user.ready.is_set, self.bot_user.status))
        readiness.add("case_store", Cached(store_writable(self.store), clock=self.clock))
        if self.replicated:
            readiness.add("shared_state", shared_reachable(self.shared))
        rebuilt = self.bans.rehydrated.is_set
        readiness.add(
            "ban_timers",
            flag(rebuilt, lambda: "rebuilt from Stream" if rebuilt() else "being rebuilt"),
        )
        return readiness

    async def _audit(
        self, text: str, blocks: list[dict[str, Any]], *, metadata: Metadata | None = None
    ) -> MessageRef | None:
        channel = self.settings.mod_log_channel
        if channel is None:
            return None
        ts = await self.poster.try_post(channel, text, blocks, metadata=metadata)
        return MessageRef(channel, ts) if ts is not None else None

    async def on_webhook(self, delivery: Delivery) -> None:
        """Act on a verified Stream event; Slack or Stream failures are retried for an hour
        (Stream got its 200 already and will not resend)."""
        self.metrics.webhooks.labels(event_type(delivery.event)).inc()
        new_request_id()
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((SlackPostError, StreamAPIError)),
            wait=wait_random_exponential(multiplier=1, max=60),
            stop=stop_after_delay(WEBHOOK_RETRY_SECONDS),
            sleep=self.clock.sleep,
            reraise=True,
        ):
            with attempt:
                await self._handle_event(delivery)

    async def _handle_event(self, delivery: Delivery) -> None:
        event = delivery.event
        if isinstance(event, UserBanned):
            await self.bans.on_banned(event)
        elif isinstance(event, UserUnbanned):
            await self.bans.on_unbanned(event)
        elif isinstance(event, PermissionRequest):
            await self.permission_requests.on_request(event, delivery.webhook_id)
        elif isinstance(event, ModerationEvent):
            await self.alerts.on_event(event, delivery.webhook_id, delivery.received_at)
        elif isinstance(event, ActionEvent):
            await self.outside.on_event(event, delivery.webhook_id)
            if isinstance(event, CallEnded) and event.reason == POLICY_VIOLATION:
                await self.alerts.on_event(event, delivery.webhook_id, delivery.received_at)
