"""Wires one callmod process together: Stream client, Slack client, registry, dispatcher, Bolt,
webhooks, ban timers and the HTTP server. `serve`, the console and the tests all build this."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from bot.cases import CaseStore, CaseStoreError
from bot.core.dispatch import Dispatcher, Services
from bot.core.model import MessageRef
from bot.core.roles import RoleResolver
from bot.moderation.bans.book import BanBook
from bot.moderation.history.book import CaseBook
from bot.moderation.permission_requests import PermissionDesk
from bot.runtime.metrics import Metrics
from bot.runtime.server import build_web_app
from bot.settings import Settings
from bot.slack.bolt import Listeners, build_bolt_app
from bot.slack.poster import SlackPoster, SlackPostError, slack_client
from bot.slack.replies import ReplySender
from bot.stream import StreamAPIError, StreamClient
from bot.stream.events import (
    CallUserEvent,
    Delivery,
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
    ) -> None:
        """`store` is the open case store (`open_store`); `stream_clock` paces the Stream
        client's retries (defaults to `clock`)."""
        if settings.slack_bot_token is None or settings.slack_signing_secret is None:
            raise ValueError("callmod needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
        if settings.stream_api_key is None or settings.stream_api_secret is None:
            raise ValueError("callmod needs STREAM_API_KEY and STREAM_API_SECRET")
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self.stream = stream = StreamClient.from_settings(
            settings, clock=stream_clock or clock, on_response=self.metrics.stream_response
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
            stream=stream,
            poster=self.poster,
            channel=settings.mod_log_channel,
            clock=clock,
            bot_stream_user_id=settings.mod_stream_user_id,
        )
        self.permission_requests = PermissionDesk(
            poster=self.poster,
            channel=settings.requests_channel,
            clock=clock,
            max_age=settings.mod_request_max_age_seconds,
            default_call_type=settings.mod_default_call_type,
        )
        for button in self.permission_requests.buttons():
            self.registry.add_button(button)  # before build_bolt_app, which registers them
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
            )
        )
        self.bolt = build_bolt_app(
            client=self.slack,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            dispatcher=self.dispatcher,
            listeners=Listeners(inflight=self.inflight, metrics=self.metrics, replies=self.replies),
        )
        self.webhooks = WebhookReceiver(
            api_key=settings.stream_api_key,
            api_secret=settings.stream_api_secret.get_secret_value(),
            dispatch=self.on_webhook,
            clock=clock,
        )
        self.metrics.watch_pending_timers(lambda: len(self.bans.timers))
        self.web_app = build_web_app(
            bolt=self.bolt,
            webhook=self.webhooks.handle,
            health=self.health,
            inflight=self.inflight,
            metrics=self.metrics.endpoint,
        )
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pruner: asyncio.Task[None] | None = None
        self.pruned = asyncio.Event()
        self.base_url = ""

    async def start(self, host: str, port: int, *, rehydrate: bool = True) -> str:
        """Serve HTTP and start the background work; returns the base URL.

        The bot's own Stream user is created first (Stream refuses bans and mutes by an unknown
        user), bounded by the Stream deadline; the ban rebuild runs in the background, so Slack
        is answered before it finishes."""
        try:
            await self.stream.upsert_user(
                self.settings.mod_stream_user_id, name="callmod", role="admin"
            )
        except StreamAPIError as error:
            log.error("could not create the bot's Stream user: %s", error.sentence)
        # One HTTP session for every Slack call and reply, instead of one per call.
        self._session = aiohttp.ClientSession()
        self.slack.session = self.replies.session = self._session
        self.bans.start(rehydrate=rehydrate)
        if self.settings.mod_case_retention_days is not None:
            self._pruner = asyncio.create_task(self._prune_daily())
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024)
        await site.start()
        bound = self._runner.addresses[0][1] if self._runner.addresses else port
        self.base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        await self.idle()
        if self._pruner is not None:
            self._pruner.cancel()
            await asyncio.gather(self._pruner, return_exceptions=True)
        await self.bans.stop()
        await self.cases.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
        await self.stream.aclose()

    async def idle(self) -> None:
        """Wait until every acked command, webhook and due timer has finished its work."""
        for _ in range(3):  # work can start more work (a webhook → a timer); settle a few rounds
            await self.inflight.wait_idle()
            await self.webhooks.drain()
            await self.bans.idle()
            await self.permission_requests.idle()

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
        try:
            await self.stream.query_bans(limit=1)
            stream = "reachable"
            ok = True
        except StreamAPIError as error:
            stream, ok = f"unreachable: {error.sentence}", False
        return {
            "ok": ok,
            "stream": stream,
            "pending_ban_timers": len(self.bans.timers),
            "bans_rebuilt": self.bans.rehydrated.is_set(),
        }

    async def _audit(self, text: str, blocks: list[dict[str, Any]]) -> MessageRef | None:
        channel = self.settings.mod_log_channel
        if channel is None:
            return None
        ts = await self.poster.try_post(channel, text, blocks)
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
        elif isinstance(event, CallUserEvent):
            log.info("%s: %s in %s", event.type, event.user.id, event.call_cid)
