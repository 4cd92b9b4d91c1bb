"""A local stand-in for Slack's Socket Mode: `apps.connections.open` and the WebSocket.

Socket Mode as Slack runs it (docs.slack.dev/apis/events-api/using-socket-mode; the shapes as
slack_sdk's own client and its tests in tests/slack_sdk/socket_mode expect them):

- the app calls `apps.connections.open` with its app-level token (`xapp-…`, not the bot token)
  and gets `{"ok": true, "url": "wss://…/link/?ticket=…&app_id=…"}`, a one-use URL; a wrong
  token answers `invalid_auth`, a bot token `not_allowed_token_type`, none `not_authed`;
- on the WebSocket Slack first sends `{"type": "hello", …}`, then one envelope per request:
  `{"envelope_id", "type": "slash_commands" | "interactive", "payload": {…},
  "accepts_response_payload": bool}` — the payload being what Slack would have POSTed over
  HTTP (a slash command's form fields; a block_actions payload);
- the app acks each envelope on the same socket with `{"envelope_id": …}` (plus `"payload"`
  only where `accepts_response_payload` is true), within 3 seconds, or the user sees an error.

`FakeSlack` answers `apps.connections.open` through this object; the socket is served here, on
127.0.0.1. Everything received is checked: acks for envelopes never sent, acked twice, with
unknown keys, with a payload where none is accepted, or later than 3 s are listed in
`problems`, which tests expect to stay empty.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from bot.local.fake_slack import FakeSlack

APP_TOKEN = "xapp-1-A0CALLMOD-1-local"
APP_ID = "A0CALLMOD"
ACK_DEADLINE = 3.0  # seconds Slack waits for an envelope's ack


@dataclass
class Envelope:
    """One envelope sent to the app, and the ack it got."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    sent_at: float  # time.monotonic()
    ack: dict[str, Any] | None = None
    ack_seconds: float | None = None

    @property
    def acked(self) -> bool:
        return self.ack is not None

    def to_json(self) -> str:
        return json.dumps(
            {
                "envelope_id": self.envelope_id,
                "payload": self.payload,
                "type": self.type,
                "accepts_response_payload": self.accepts_response_payload,
            }
        )


class FakeSocketMode:
    def __init__(self, slack: FakeSlack, *, app_token: str = APP_TOKEN, app_id: str = APP_ID):
        self.slack = slack
        self.app_token = app_token
        self.app_id = app_id
        self.envelopes: dict[str, Envelope] = {}
        self.problems: list[str] = []  # what a real Slack would have refused or timed out
        self.connections_opened = 0
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._base: str | None = None
        slack.socket_mode = self

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        self._runner = runner
        self._base = f"ws://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.slack.socket_mode is self:
            self.slack.socket_mode = None

    # ---- apps.connections.open (called by FakeSlack) ---------------------------------------

    def connections_open(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token.startswith(("xoxb-", "xoxp-")):
            return {"ok": False, "error": "not_allowed_token_type"}
        if not hmac.compare_digest(token.encode(), self.app_token.encode()):
            return {"ok": False, "error": "invalid_auth"}
        if self._base is None:
            return {"ok": False, "error": "internal_error"}
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return {"ok": True, "url": f"{self._base}/link/?ticket={ticket}&app_id={self.app_id}"}

    # ---- the socket ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return any(not socket.closed for socket in self._sockets)

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:  # one use each, as Slack's
            self.problems.append("a WebSocket connection with an unknown or used ticket")
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.connections_opened += 1
        await socket.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets) + 1,
                    "debug_info": {"host": "applink-local", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        self._sockets.append(socket)
        await self._notify()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._receive(str(message.data))
                    await self._notify()
        finally:
            self._sockets.remove(socket)
            await self._notify()
        return socket

    def _receive(self, data: str) -> None:
        try:
            ack = json.loads(data)
        except ValueError:
            self.problems.append(f"a message that is not JSON: {data[:80]!r}")
            return
        if not isinstance(ack, dict):
            self.problems.append(f"a message that is not an object: {data[:80]!r}")
            return
        envelope = self.envelopes.get(str(ack.get("envelope_id")))
        if envelope is None:
            self.problems.append(f"an ack for no envelope sent: {data[:80]!r}")
        elif envelope.ack is not None:
            self.problems.append(f"envelope {envelope.envelope_id} acked twice")
        elif set(ack) - {"envelope_id", "payload"}:
            self.problems.append(f"an ack with unknown keys: {sorted(ack)}")
        elif "payload" in ack and not envelope.accepts_response_payload:
            self.problems.append(f"a response payload for {envelope.type}, which takes none")
        else:
            envelope.ack = ack
            envelope.ack_seconds = time.monotonic() - envelope.sent_at
            if envelope.ack_seconds > ACK_DEADLINE:
                self.problems.append(
                    f"envelope {envelope.envelope_id} acked after {envelope.ack_seconds:.1f}s"
                )

    # ---- sending ---------------------------------------------------------------------------

    async def send(
        self, type: str, payload: dict[str, Any], *, accepts_response_payload: bool
    ) -> Envelope:
        """Send one envelope on the newest open connection."""
        sockets = [socket for socket in self._sockets if not socket.closed]
        if not sockets:
            raise RuntimeError("no Socket Mode connection is open")
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=type,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
            sent_at=time.monotonic(),
        )
        self.envelopes[envelope.envelope_id] = envelope
        await sockets[-1].send_str(envelope.to_json())
        return envelope

    async def slash_command(self, fields: dict[str, str]) -> Envelope:
        """A slash command (its form fields, as SlackDriver.slash_payload makes them)."""
        return await self.send("slash_commands", fields, accepts_response_payload=True)

    async def interactive(self, payload: dict[str, Any]) -> Envelope:
        """A block_actions payload (as SlackDriver.click_payload makes it)."""
        return await self.send("interactive", payload, accepts_response_payload=False)

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does every few hours."""
        for socket in [socket for socket in self._sockets if not socket.closed]:
            await socket.send_str(
                json.dumps(
                    {
                        "type": "disconnect",
                        "reason": reason,
                        "debug_info": {"host": "applink-local"},
                    }
                )
            )

    # ---- waiting ---------------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # The parameter only guards tests from hanging.
    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            raise TimeoutError(
                f"FakeSocketMode: still waiting after {timeout}s; "
                f"{len(self._sockets)} sockets, {len(self.envelopes)} envelopes, "
                f"problems: {self.problems}"
            ) from None

    async def acked(self, envelope: Envelope) -> dict[str, Any]:
        """The envelope's ack, once it arrives."""
        await self.wait_for(lambda: envelope.acked)
        assert envelope.ack is not None
        return envelope.ack
