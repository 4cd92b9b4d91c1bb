"""Slack over Socket Mode (`SLACK_APP_TOKEN`): the same Bolt app, reached over a WebSocket
instead of signed HTTP requests. `serve` and the tests both connect with `open_socket_mode`.

slack_sdk's client retries a refused `apps.connections.open` forever without a word, so the
first one is made here: a token Slack refuses becomes `SocketModeRefused` (one line; `serve`
exits 2 with it), and only an accepted URL is handed to the client. Reconnections after that
(Slack asks for one every few hours) are the client's own.
"""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.util.inflight import InFlight

log = logging.getLogger("callmod.socket_mode")

_ADVICE = {
    "invalid_auth": "the token is wrong or was revoked",
    "not_authed": "no token was sent",
    "token_revoked": "the token was revoked",
    "not_allowed_token_type": "it must be an app-level token (xapp-…), not a bot or user token",
    "missing_scope": "the app-level token needs the connections:write scope",
    "account_inactive": "the app or workspace is no longer active",
}


class SocketModeRefused(Exception):
    """One line for the operator: Socket Mode cannot start with this configuration."""


class _Handler(AsyncSocketModeHandler):
    """Bolt's handler, with every envelope counted as a request awaiting its ack (as the HTTP
    route counts requests), so work after earlier acks yields to it."""

    def __init__(self, app: AsyncApp, app_token: str, inflight: InFlight) -> None:
        super().__init__(app, app_token)
        self._inflight = inflight

    async def handle(  # type: ignore[override]  # as Bolt's own handler narrows it
        self, client: SocketModeClient, req: SocketModeRequest
    ) -> None:
        async with self._inflight.awaiting_ack():
            await super().handle(client, req)


class SocketMode:
    """A Socket Mode connection serving a Bolt app; `close()` it at shutdown."""

    def __init__(self, handler: AsyncSocketModeHandler) -> None:
        self._handler = handler

    async def connected(self) -> bool:
        """Whether the WebSocket is up now (for readiness)."""
        return await self._handler.client.is_connected()

    async def close(self) -> None:
        await self._handler.close_async()  # type: ignore[no-untyped-call]


async def open_socket_mode(bolt: AsyncApp, app_token: str, *, inflight: InFlight) -> SocketMode:
    """Open a connection with the app-level token and serve `bolt` on it."""
    try:
        answer = await bolt.client.apps_connections_open(app_token=app_token)
        url = str(answer["url"])
    except SlackApiError as error:
        code = str(error.response.get("error") or f"HTTP {error.response.status_code}")
        advice = _ADVICE.get(code, "see Slack's apps.connections.open documentation")
        raise SocketModeRefused(
            f"SLACK_APP_TOKEN: Slack refused to open a Socket Mode connection ({code}): {advice}"
        ) from None
    except KeyError:
        raise SocketModeRefused(
            "SLACK_APP_TOKEN: Slack's apps.connections.open answer had no URL"
        ) from None
    except (aiohttp.ClientError, TimeoutError) as error:
        raise SocketModeRefused(
            "SLACK_API_URL: could not reach Slack to open a Socket Mode connection "
            f"({type(error).__name__})"
        ) from None
    handler = _Handler(bolt, app_token, inflight)
    handler.client.wss_uri = url
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("connected to Slack over Socket Mode")
    return SocketMode(handler)
