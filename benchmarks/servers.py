"""The two Slack-facing servers a benchmark compares, each meant to run in its own process.

- `CallmodServer`: the full `bot.runtime.callmod.Callmod` (Bolt, registry, dispatcher, Stream
  client, ban book, case store), wired to the backends exactly as `bot.local.stack.LocalStack`
  wires it; the case store is SQLite on a file the backend process provides. Kind
  `callmod-nostore` is the same server with `benchmarks.nostore.NoCaseStore` instead (cases
  numbered, never stored), so the store's share of a command's time can be measured.
- `BareBolt`: a bare Bolt `AsyncApp` served the same way (aiohttp, `slack_bolt.adapter.aiohttp`,
  same backlog). Mode `noop` only acks `/kick`. Mode `kick` is the smallest hand-written app that
  does what callmod does for `/kick` and `/unblock`: ack, one plain httpx call to Stream, the
  audit line with chat.postMessage, the reply through respond().
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import warnings
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal

import httpx
import jwt
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

import bot
from benchmarks.backend import BOT_STREAM_USER, BOT_TOKEN, LOG_CHANNEL
from benchmarks.nostore import NoCaseStore
from benchmarks.procs import Info, run_child
from bot.cases import CaseStore
from bot.runtime.callmod import Callmod
from bot.settings import POST_ACK_LIMIT, Settings
from bot.util.clock import SystemClock
from bot.util.inflight import InFlight

ADMIN_ID = "U0ADMIN01"
ADMIN_NAME = "maria"
BACKLOG = 1024  # what bot.runtime.callmod.Callmod.start uses

Kind = Literal["callmod", "callmod-nostore", "bare-noop", "bare-kick"]
CALLMOD_KINDS: tuple[Kind, ...] = ("callmod", "callmod-nostore")


@dataclass(frozen=True)
class ServerConfig:
    kind: Kind
    signing_secret: str
    backend: Info  # the backend's ready info: Stream and Slack addresses and credentials
    redis_url: str | None = None  # callmod kinds: REDIS_URL (shared state), benchmarks/replicas.py
    port: int = 0  # 0: a free port
    reuse_port: bool = False  # callmod kinds: REUSE_PORT (several processes on one port)
    # callmod kinds: serve this listening socket (handed to the process, as systemd's socket
    # activation hands one over) instead of binding a port; several processes may share it
    sock: socket.socket | None = None


def stream_headers(api_secret: str) -> dict[str, str]:
    """The headers callmod's StreamClient sends, for plain-httpx baselines."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        token = jwt.encode({"server": True}, api_secret, algorithm="HS256")
    return {
        "Authorization": token,
        "stream-auth-type": "jwt",
        "Content-Type": "application/json",
        "X-Stream-Client": f"callmod-{bot.__version__}",
    }


class CallmodServer:
    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._callmod: Callmod | None = None
        self._store: CaseStore | None = None

    def settings(self) -> Settings:
        backend = self._config.backend
        values: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": self._config.signing_secret,
            "slack_api_url": backend["slack_api_url"],
            "stream_api_key": backend["stream_api_key"],
            "stream_api_secret": backend["stream_api_secret"],
            "stream_base_url": backend["stream_base_url"],
            "mod_stream_user_id": BOT_STREAM_USER,
            "mod_admins": [ADMIN_ID],
            "mod_log_channel": LOG_CHANNEL,
            "database_url": self._config.backend["database_url"],
            "reuse_port": self._config.reuse_port,
        }
        if self._config.redis_url is not None:
            values["redis_url"] = self._config.redis_url
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def start(self) -> Info:
        settings = self.settings()
        clock = SystemClock()
        if self._config.kind == "callmod-nostore":
            self._store = NoCaseStore(clock)
        else:
            url = settings.database_url.get_secret_value()
            self._store = await CaseStore.open(url, clock=clock)
        self._callmod = Callmod(settings, clock=clock, store=self._store)
        base = await self._callmod.start("127.0.0.1", self._config.port, sock=self._config.sock)
        return {"events_url": f"{base}/slack/events", "webhook_url": f"{base}/stream/webhook"}

    async def handle(self, command: str, args: Info) -> Info:
        assert self._callmod is not None
        if command == "idle":
            await self._callmod.idle()
            return {}
        if command == "alert_stats":  # benchmarks/alerts.py
            desk = self._callmod.alerts
            posts, edits = desk.message_counts()
            return {
                "shown_after": list(desk.stats.shown_after),
                "alerts": desk.stats.alerts,
                "hits": sum(alert.hits for alert in desk.alerts.values()),
                "posts": posts,
                "edits": edits,
            }
        raise ValueError(f"unknown command {command!r}")

    async def stop(self) -> None:
        if self._callmod is not None:
            await self._callmod.stop()
        if self._store is not None:
            await self._store.close()


class BareBolt:
    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._inflight = InFlight(POST_ACK_LIMIT)
        self._runner: web.AppRunner | None = None
        backend = config.backend
        self._stream = httpx.AsyncClient(
            base_url=backend["stream_base_url"],
            params={"api_key": backend["stream_api_key"]},
            headers=stream_headers(backend["stream_api_secret"]),
        )

    async def start(self) -> Info:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=self._config.backend["slack_api_url"])
        app = AsyncApp(
            client=client,
            signing_secret=self._config.signing_secret,
            process_before_response=False,
        )
        if self._config.kind == "bare-noop":
            app.command("/kick")(self._ack_only)
        else:
            app.command("/kick")(self._by_hand)
            app.command("/unblock")(self._by_hand)

        async def slack_events(request: web.Request) -> web.StreamResponse:
            bolt_request = await to_bolt_request(request)
            return await to_aiohttp_response(await app.async_dispatch(bolt_request))

        web_app = web.Application(client_max_size=1 << 20)
        web_app.router.add_post("/slack/events", slack_events)
        web_app.router.add_post("/stream/webhook", self._webhook)  # benchmarks/alerts.py
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=BACKLOG)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return {
            "events_url": f"http://{host}:{port}/slack/events",
            "webhook_url": f"http://{host}:{port}/stream/webhook",
        }

    async def _webhook(self, request: web.Request) -> web.Response:
        """The least a Stream webhook receiver does: check the signature, read the JSON, 200."""
        body = await request.read()
        secret = str(self._config.backend["stream_api_secret"]).encode()
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Signature", "")):
            return web.json_response({"error": "bad signature"}, status=401)
        json.loads(body)
        return web.json_response({"status": "accepted"})

    @staticmethod
    async def _ack_only(ack: Any) -> None:
        await ack()

    async def _by_hand(
        self, ack: Any, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        async with self._inflight.track():
            await ack()
            verb = str(command["command"]).lstrip("/")
            user, cid, *flags = str(command.get("text") or "").split()
            call_type, call_id = cid.split(":", 1) if ":" in cid else ("default", cid)
            body: dict[str, Any] = {"user_id": user}
            if verb == "kick":
                body["kicked_by_id"] = BOT_STREAM_USER
                if "--block" in flags:
                    body["block"] = True
            answer = await self._stream.post(
                f"/api/v2/video/call/{call_type}/{call_id}/{verb}", json=body
            )
            done = "done" if answer.is_success else f"failed: HTTP {answer.status_code}"
            await client.chat_postMessage(
                channel=LOG_CHANNEL,
                text=f"<@{command['user_id']}> · {verb} `{user}` in `{cid}` · {done}",
            )
            mark = ":white_check_mark:" if answer.is_success else ":x:"
            await respond(text=f"{mark} {verb} `{user}` in `{cid}`: {done}.")

    async def handle(self, command: str, args: Info) -> Info:
        if command == "idle":
            await self._inflight.wait_idle()
            return {}
        raise ValueError(f"unknown command {command!r}")

    async def stop(self) -> None:
        await self._inflight.wait_idle()
        if self._runner is not None:
            await self._runner.cleanup()
        await self._stream.aclose()


def main(conn: Connection, config: ServerConfig, cpus: frozenset[int] | None) -> None:
    service = CallmodServer(config) if config.kind in CALLMOD_KINDS else BareBolt(config)
    run_child(conn, service, cpus)
