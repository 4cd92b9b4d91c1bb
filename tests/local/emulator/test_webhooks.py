"""Signed webhooks: signature, headers, retries on the clock, gzip, and the permission request."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from bot.local.emulator import Invalid, NotFound, StreamEmulator, sign_webhook
from bot.util.clock import ManualClock
from bot.util.timefmt import format_stream_time

from .helpers import API_KEY, API_SECRET, CALL_PATH, DEMO_CID, Api


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint on loopback answering scripted statuses (then 200)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(autoadvance=True)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/stream/webhook", hook.handle)
    # Keep gzip bodies as sent, so tests see the bytes on the wire.
    runner = web.AppRunner(app, access_log=None, auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    hook.url = f"http://{host}:{port}/stream/webhook"
    try:
        yield hook
    finally:
        await runner.cleanup()


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"type":"user.banned"}'

    signature = sign_webhook(body, API_SECRET)

    expected = hmac.new(API_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signature == expected
    assert sign_webhook(body + b" ", API_SECRET) != signature
    assert sign_webhook(body, "other-secret") != signature


async def test_delivery_is_signed(emulator: StreamEmulator, receiver: Receiver) -> None:
    emulator.webhook_url = receiver.url

    await emulator.send_event({"type": "custom.event", "note": "naïve <b>"})
    await emulator.wait_webhooks_idle()

    (got,) = receiver.received
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Api-Key"] == API_KEY
    assert got.headers["X-Webhook-Attempt"] == "1"
    assert "Content-Encoding" not in got.headers
    good = hmac.new(API_SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["X-Signature"], good)
    tampered = got.body.replace(b"custom", b"kustom")
    assert sign_webhook(tampered, API_SECRET) != got.headers["X-Signature"]
    assert json.loads(got.body) == {"type": "custom.event", "note": "naïve <b>"}
    (delivery,) = emulator.webhooks_sent
    assert (delivery.status, delivery.attempts, delivery.final_status) == ("delivered", 1, 200)
    assert delivery.webhook_id == got.headers["X-Webhook-Id"]


async def test_retry_after_a_server_error(
    emulator: StreamEmulator, receiver: Receiver, clock: ManualClock
) -> None:
    emulator.webhook_url = receiver.url
    receiver.statuses = [500]

    await emulator.send_event({"type": "user.banned"})
    await emulator.wait_webhooks_idle()

    first, second = receiver.received
    assert first.headers["X-Webhook-Id"] == second.headers["X-Webhook-Id"]
    assert [first.headers["X-Webhook-Attempt"], second.headers["X-Webhook-Attempt"]] == ["1", "2"]
    assert first.body == second.body
    assert first.headers["X-Signature"] == second.headers["X-Signature"]
    (delivery,) = emulator.webhooks_sent
    assert (delivery.status, delivery.attempts, delivery.responses) == ("delivered", 2, [500, 200])
    assert clock.slept == [1.0]


async def test_gives_up_after_the_last_retry(
    emulator: StreamEmulator, receiver: Receiver, clock: ManualClock
) -> None:
    emulator.webhook_url = receiver.url
    receiver.statuses = [503, 429, 408, 502]

    await emulator.send_event({"type": "user.banned"})
    await emulator.wait_webhooks_idle()

    assert len(receiver.received) == 4
    (delivery,) = emulator.webhooks_sent
    assert (delivery.status, delivery.attempts, delivery.final_status) == ("failed", 4, 502)
    assert clock.slept == [1.0, 3.0, 9.0]


async def test_client_errors_are_not_retried(
    emulator: StreamEmulator, receiver: Receiver, clock: ManualClock
) -> None:
    emulator.webhook_url = receiver.url
    receiver.statuses = [401]

    await emulator.send_event({"type": "user.banned"})
    await emulator.wait_webhooks_idle()

    assert len(receiver.received) == 1
    assert emulator.webhooks_sent[0].status == "failed"
    assert clock.slept == []


async def test_connection_refused_is_retried(
    emulator: StreamEmulator, clock: ManualClock
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    emulator.webhook_url = f"http://127.0.0.1:{closed_port}/stream/webhook"

    await emulator.send_event({"type": "user.banned"})
    await emulator.wait_webhooks_idle()

    (delivery,) = emulator.webhooks_sent
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert delivery.responses == [None, None, None, None]
    assert delivery.error is not None
    assert clock.slept == [1.0, 3.0, 9.0]


async def test_gzip_bodies_are_signed_uncompressed(
    emulator: StreamEmulator, receiver: Receiver
) -> None:
    emulator.webhook_url = receiver.url
    emulator.gzip_webhooks = True

    await emulator.send_event({"type": "user.unbanned", "user": {"id": "sara"}})
    await emulator.wait_webhooks_idle()

    (got,) = receiver.received
    assert got.headers["Content-Encoding"] == "gzip"
    assert got.body[:2] == b"\x1f\x8b"
    plain = gzip.decompress(got.body)
    assert json.loads(plain)["user"] == {"id": "sara"}
    assert got.headers["X-Signature"] == sign_webhook(plain, API_SECRET)
    assert got.headers["X-Signature"] != sign_webhook(got.body, API_SECRET)


async def test_without_a_url_events_are_only_recorded(emulator: StreamEmulator) -> None:
    assert emulator.webhook_url is None

    await emulator.send_event({"type": "user.banned"})
    await emulator.wait_webhooks_idle()

    (delivery,) = emulator.webhooks_sent
    assert (delivery.status, delivery.attempts) == ("undelivered", 0)


async def test_api_actions_reach_the_receiver(
    api: Api, emulator: StreamEmulator, receiver: Receiver
) -> None:
    emulator.webhook_url = receiver.url

    await api.post(CALL_PATH + "/kick", {"user_id": "bob", "block": True})
    await emulator.wait_webhooks_idle()

    kinds = [json.loads(got.body)["type"] for got in receiver.received]
    assert sorted(kinds) == ["call.blocked_user", "call.session_participant_left"]
    ids = {got.headers["X-Webhook-Id"] for got in receiver.received}
    assert len(ids) == 2


async def test_permission_request(
    emulator: StreamEmulator, receiver: Receiver, clock: ManualClock
) -> None:
    emulator.webhook_url = receiver.url

    event = await emulator.raise_permission_request(DEMO_CID, "sara", ["send-audio", "screenshare"])
    await emulator.wait_webhooks_idle()

    assert event["type"] == "call.permission_request"
    assert event["call_cid"] == DEMO_CID
    assert event["permissions"] == ["send-audio", "screenshare"]
    assert (event["user"]["id"], event["user"]["name"]) == ("sara", "Sara")
    assert event["created_at"] == format_stream_time(clock.time())
    (got,) = receiver.received
    assert json.loads(got.body) == event


async def test_permission_request_checks_its_arguments(emulator: StreamEmulator) -> None:
    with pytest.raises(NotFound):
        await emulator.raise_permission_request("default:call-999", "sara", ["send-audio"])
    with pytest.raises(NotFound):
        await emulator.raise_permission_request(DEMO_CID, "ghost", ["send-audio"])
    with pytest.raises(Invalid):
        await emulator.raise_permission_request(DEMO_CID, "sara", ["fly"])
    assert emulator.webhooks_sent == []


async def test_stop_cancels_a_delivery_waiting_to_retry(receiver: Receiver) -> None:
    clock = ManualClock()  # never advanced: the retry waits forever
    emulator = StreamEmulator(clock=clock, webhook_url=receiver.url)
    await emulator.start()
    receiver.statuses = [503]

    await emulator.send_event({"type": "user.banned"})
    await asyncio.wait_for(_until_sleeping(clock), timeout=5)
    await emulator.stop()

    (delivery,) = emulator.webhooks_sent
    assert (delivery.status, delivery.attempts, delivery.responses) == ("cancelled", 1, [503])
    assert len(receiver.received) == 1


async def _until_sleeping(clock: ManualClock) -> None:
    # The first attempt is real network I/O; spin the loop until the retry is parked on the clock.
    while clock.pending_sleepers == 0:  # noqa: ASYNC110
        await asyncio.sleep(0)
