"""The one aiohttp server: Slack's events URL (Bolt), Stream's webhook, liveness (`/healthz`),
readiness (`/readyz`) and metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.util.inflight import InFlight

Health = Callable[[], Awaitable[dict[str, Any]]]
Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]


def slack_form_fixed(request: AsyncBoltRequest) -> AsyncBoltRequest:
    """Bolt (1.x `parse_body`) reads any form body containing the text "payload" as an
    interaction and, finding no `payload` field, routes nothing: `/kick payload` would answer
    404. A form without that field is a slash command; parse it as one."""
    if request.body or request.content_type == "application/json":
        return request
    form = dict(parse_qsl(request.raw_body, keep_blank_values=True))
    if form and "payload" not in form:
        request.body = form
        request.context = build_async_context(AsyncBoltContext({}), form)
    return request


def build_web_app(
    *,
    bolt: AsyncApp | None,
    webhook: Endpoint,
    health: Health,
    inflight: InFlight,
    metrics: Endpoint | None = None,
    ready: Health | None = None,
    moderation_webhook: Endpoint | None = None,
) -> web.Application:
    app = web.Application(client_max_size=1 << 20)

    async def slack_events(request: web.Request) -> web.StreamResponse:
        assert bolt is not None
        async with inflight.awaiting_ack():
            bolt_response = await bolt.async_dispatch(
                slack_form_fixed(await to_bolt_request(request))
            )
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        report = await health()
        return web.json_response(report, status=200 if report.get("ok") else 503)

    async def readyz(_: web.Request) -> web.Response:
        assert ready is not None
        report = await ready()
        return web.json_response(report, status=200 if report.get("ok") else 503)

    if bolt is not None:
        app.router.add_post("/slack/events", slack_events)
    app.router.add_post("/stream/webhook", webhook)
    if moderation_webhook is not None:  # Stream's separate moderation webhook URL
        app.router.add_post("/stream/moderation-webhook", moderation_webhook)
    app.router.add_get("/healthz", healthz)
    if ready is not None:
        app.router.add_get("/readyz", readyz)
    if metrics is not None:
        app.router.add_get("/metrics", metrics)
    return app
