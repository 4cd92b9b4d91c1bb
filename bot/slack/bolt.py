"""Bolt wiring: every registry command becomes a slash-command handler; buttons go to the
dispatcher. Handlers ack at once and do the Stream work after the ack."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.core.dispatch import CANCEL_ACTION, CONFIRM_ACTION, Dispatcher
from bot.core.model import Reply
from bot.runtime.logs import new_request_id
from bot.runtime.metrics import Metrics
from bot.util.inflight import InFlight

log = logging.getLogger("callmod.app")


INTERNAL_ERROR = (
    ":x: callmod hit an internal error (ref `{ref}`) before it could act; nothing was sent to "
    "Stream. The on-call engineer can find the details in the logs under that ref."
)


def slack_client(token: str, base_url: str) -> AsyncWebClient:
    """A Web API client that retries rate limits (per Retry-After), 500/503 and dropped
    connections — slack_sdk retries nothing unless told to."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=3),
        ],
    )


class ReplySender:
    """Ephemeral replies through the command's response_url, over one shared aiohttp session.

    Bolt's `respond()` opens a new session (and connection) for every reply, and never raises
    on an HTTP error; this sends through slack_sdk's webhook client with the session callmod
    keeps for its whole life, and checks the status.
    """

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.before_send: Callable[[], Awaitable[None]] | None = None  # see bot/util/inflight.py
        self._retry_handlers: list[AsyncRetryHandler] = [
            AsyncConnectionErrorRetryHandler(max_retry_count=2)
        ]

    async def send(self, response_url: str, reply: Reply, *, replace_original: bool) -> bool:
        if not response_url:
            log.warning("no response_url to answer on")
            return False
        if self.before_send is not None:
            await self.before_send()
        client = AsyncWebhookClient(
            response_url,
            session=self.session,
            retry_handlers=self._retry_handlers,
        )
        try:
            response = await client.send(
                text=reply.text,
                blocks=reply.blocks if reply.blocks is not None else [],
                response_type="ephemeral",
                replace_original=replace_original,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("response_url failed: %s", type(exc).__name__)
            return False
        if response.status_code != 200:
            log.warning("response_url answered HTTP %s", response.status_code)
            return False
        return True


Handler = Callable[..., Awaitable[None]]


def build_bolt_app(
    *,
    client: AsyncWebClient,
    signing_secret: str,
    dispatcher: Dispatcher,
    inflight: InFlight,
    metrics: Metrics,
    replies: ReplySender,
) -> AsyncApp:
    app = AsyncApp(client=client, signing_secret=signing_secret, process_before_response=False)

    for command in dispatcher.registry:
        app.command(command.slash)(
            _slash_handler(command.name, dispatcher, inflight, metrics, replies)
        )
    app.command("/mod")(_slash_handler("mod", dispatcher, inflight, metrics, replies))

    @app.action(CONFIRM_ACTION)
    async def on_confirm(ack: Any, body: dict[str, Any]) -> None:
        async with inflight.track():
            await ack()
            async with inflight.slot():
                user, action = body.get("user") or {}, (body.get("actions") or [{}])[0]
                reply = await _safely(
                    dispatcher.confirmed(
                        str(action.get("value", "")),
                        user_id=str(user.get("id", "")),
                        user_name=_user_name(user),
                    )
                )
                await replies.send(body.get("response_url", ""), reply, replace_original=True)

    @app.action(CANCEL_ACTION)
    async def on_cancel(ack: Any, body: dict[str, Any]) -> None:
        async with inflight.track():
            await ack()
            async with inflight.slot():
                user, action = body.get("user") or {}, (body.get("actions") or [{}])[0]
                reply = await _safely(
                    dispatcher.cancelled(
                        str(action.get("value", "")),
                        user_id=str(user.get("id", "")),
                        user_name=_user_name(user),
                    )
                )
                await replies.send(body.get("response_url", ""), reply, replace_original=True)

    for action_id in dispatcher.registry.buttons:
        app.action(action_id)(_button_handler(action_id, dispatcher, inflight, metrics, replies))

    @app.error
    async def on_error(error: Exception) -> None:
        log.error("unhandled error in a Bolt listener: %s", type(error).__name__, exc_info=error)

    return app


def _slash_handler(
    name: str, dispatcher: Dispatcher, inflight: InFlight, metrics: Metrics, replies: ReplySender
) -> Handler:
    async def handle(ack: Any, command: dict[str, Any]) -> None:
        # Tracked from before the ack, so "the HTTP ack arrived" implies "the work is counted".
        async with inflight.track():
            await ack()
            async with inflight.slot():
                started = time.perf_counter()
                new_request_id()
                log.info("/%s from %s", name, command.get("user_id"))
                reply = await _safely(
                    dispatcher.run_slash(
                        name,
                        str(command.get("text") or ""),
                        user_id=str(command.get("user_id", "")),
                        user_name=str(command.get("user_name") or command.get("user_id", "")),
                    )
                )
                await replies.send(
                    str(command.get("response_url") or ""), reply, replace_original=False
                )
                metrics.commands.labels(name, reply.outcome).inc()
                metrics.command_seconds.labels(name).observe(time.perf_counter() - started)

    handle.__name__ = f"slash_{name}"
    return handle


def _button_handler(
    action_id: str,
    dispatcher: Dispatcher,
    inflight: InFlight,
    metrics: Metrics,
    replies: ReplySender,
) -> Handler:
    async def handle(ack: Any, body: dict[str, Any]) -> None:
        async with inflight.track():
            await ack()
            async with inflight.slot():
                new_request_id()
                reply, replace = await _click(action_id, body, dispatcher)
                await replies.send(
                    str(body.get("response_url") or ""), reply, replace_original=replace
                )
                metrics.commands.labels(action_id, reply.outcome).inc()

    handle.__name__ = f"button_{action_id}"
    return handle


async def _click(
    action_id: str, body: dict[str, Any], dispatcher: Dispatcher
) -> tuple[Reply, bool]:
    user, action = body.get("user") or {}, (body.get("actions") or [{}])[0]
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    try:
        return await dispatcher.click(
            action_id,
            str(action.get("value", "")),
            user_id=str(user.get("id", "")),
            user_name=_user_name(user),
            channel_id=str(channel) if channel else None,
            message_ts=container.get("message_ts"),
        )
    except Exception:
        ref = secrets.token_hex(4)
        log.exception("button listener failed (ref %s)", ref)
        return Reply(INTERNAL_ERROR.format(ref=ref), outcome="error"), False


async def _safely(work: Awaitable[Reply]) -> Reply:
    try:
        return await work
    except Exception:
        ref = secrets.token_hex(4)
        log.exception("listener failed (ref %s)", ref)
        return Reply(INTERNAL_ERROR.format(ref=ref), outcome="error")


def _user_name(user: dict[str, Any]) -> str:
    return str(user.get("username") or user.get("name") or user.get("id") or "someone")
