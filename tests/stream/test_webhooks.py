"""The Stream webhook receiver, end to end through a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import logging
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stream.events import (
    CallUserEvent,
    Delivery,
    EventError,
    EventUser,
    PermissionRequest,
    UnknownEvent,
    UserBanned,
    UserUnbanned,
    parse_event,
)
from bot.stream.webhooks import WebhookReceiver, verify_signature
from bot.util.clock import ManualClock

API_KEY = "test-api-key"
API_SECRET = "test-api-secret-do-not-log"
SMALL_LIMIT = 64 * 1024

Dispatch = Callable[[Delivery], Awaitable[None]]


def sign(body: bytes, secret: str = API_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def permission_request(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "call.permission_request",
        "call_cid": "default:call-123",
        "created_at": "2027-01-15T10:20:30.123456789Z",
        "permissions": ["send-audio", "screenshare"],
        "user": {"id": "sara", "name": "Sara", "role": "user"},
        **overrides,
    }


@dataclass
class Harness:
    receiver: WebhookReceiver
    session: aiohttp.ClientSession
    url: str
    clock: ManualClock
    delivered: list[Delivery] = field(default_factory=list)

    async def post(
        self,
        data: Any,
        *,
        webhook_id: str | None = "wh-1",
        attempt: int = 1,
        api_key: str | None = API_KEY,
        signature: str | None = None,
        sign_body: bytes | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """POST `data`; signed over `sign_body` (default: `data`) unless `signature` is given."""
        headers: dict[str, str] = {"Content-Type": "application/json"}
        if api_key is not None:
            headers["X-Api-Key"] = api_key
        if signature is None:
            signature = sign(sign_body if sign_body is not None else data)
        if signature:
            headers["X-Signature"] = signature
        if webhook_id is not None:
            headers["X-Webhook-Id"] = webhook_id
        headers["X-Webhook-Attempt"] = str(attempt)
        headers.update(extra_headers or {})
        async with self.session.post(self.url, data=data, headers=headers) as response:
            return response.status, await response.json()

    async def settle(self) -> None:
        await self.receiver.drain()


HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness() -> AsyncIterator[HarnessFactory]:
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def factory(
        *,
        dispatch: Dispatch | None = None,
        auto_decompress: bool = True,
        **receiver_options: Any,
    ) -> Harness:
        clock = ManualClock()
        delivered: list[Delivery] = []

        async def record(delivery: Delivery) -> None:
            delivered.append(delivery)

        receiver = WebhookReceiver(
            api_key=API_KEY,
            api_secret=API_SECRET,
            dispatch=dispatch or record,
            clock=clock,
            **receiver_options,
        )
        app = web.Application()
        app.router.add_post("/stream/webhook", receiver.handle)
        runner = web.AppRunner(app, auto_decompress=auto_decompress)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Harness(receiver, session, f"http://{host}:{port}/stream/webhook", clock, delivered)

    yield factory
    for session in sessions:
        await session.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    return await make_harness()


# --- accepted deliveries ---------------------------------------------------------------------


async def test_permission_request_is_dispatched_typed(harness: Harness) -> None:
    status, answer = await harness.post(encode(permission_request()), attempt=1)
    await harness.settle()

    assert (status, answer) == (200, {"status": "accepted"})
    [delivery] = harness.delivered
    assert delivery.webhook_id == "wh-1"
    assert delivery.attempt == 1
    assert delivery.received_at == harness.clock.time()
    assert delivery.event == PermissionRequest(
        call_cid="default:call-123",
        user=EventUser(id="sara", name="Sara"),
        permissions=("send-audio", "screenshare"),
        created_at=datetime(2027, 1, 15, 10, 20, 30, 123456, tzinfo=UTC),
    )
    assert harness.receiver.stats.accepted == 1


async def test_user_banned_with_nanosecond_dates(harness: Harness) -> None:
    created = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    expires = datetime(2027, 3, 2, 12, 0, tzinfo=UTC)
    payload = {
        "type": "user.banned",
        "user": {"id": "john", "name": "John"},
        "created_by": {"id": "callmod-bot"},
        "reason": "spam <!channel>",
        "expiration": int(expires.timestamp()) * 1_000_000_000,
        "created_at": int(created.timestamp()) * 1_000_000_000,
        "shadow": False,
        "total_bans": 2,
    }
    status, _ = await harness.post(encode(payload), webhook_id="ban-1", attempt=2)
    await harness.settle()

    assert status == 200
    [delivery] = harness.delivered
    assert delivery.attempt == 2
    assert delivery.event == UserBanned(
        user=EventUser(id="john", name="John"),
        banned_by=EventUser(id="callmod-bot", name=None),
        reason="spam <!channel>",
        expires_at=expires,
        created_at=created,
        ip_ban=False,
        shadow=False,
        channel_cid=None,
    )


async def test_permanent_channel_ban_has_no_expiry(harness: Harness) -> None:
    payload = {
        "type": "user.banned",
        "user": {"id": "john"},
        "created_by": {"id": "callmod-bot"},
        "created_at": "2027-03-01T12:00:00Z",
        "cid": "messaging:general",
        "ip_ban": True,
    }
    assert (await harness.post(encode(payload)))[0] == 200
    await harness.settle()

    [delivery] = harness.delivered
    assert isinstance(delivery.event, UserBanned)
    assert delivery.event.expires_at is None
    assert delivery.event.ip_ban is True
    assert delivery.event.channel_cid == "messaging:general"


async def test_user_unbanned_without_created_by(harness: Harness) -> None:
    payload = {
        "type": "user.unbanned",
        "user": {"id": "john"},
        "created_at": "2027-03-01T12:00:00Z",
    }
    assert (await harness.post(encode(payload)))[0] == 200
    await harness.settle()

    [delivery] = harness.delivered
    assert delivery.event == UserUnbanned(
        user=EventUser(id="john", name=None),
        unbanned_by=None,
        created_at=datetime(2027, 3, 1, 12, 0, tzinfo=UTC),
    )


async def test_call_kicked_user(harness: Harness) -> None:
    payload = {
        "type": "call.kicked_user",
        "call_cid": "livestream:call-9",
        "user": {"id": "bob"},
        "kicked_by_user": {"id": "callmod-bot"},
        "created_at": "2027-03-01T12:00:00Z",
    }
    assert (await harness.post(encode(payload)))[0] == 200
    await harness.settle()

    [delivery] = harness.delivered
    assert delivery.event == CallUserEvent(
        type="call.kicked_user",
        call_cid="livestream:call-9",
        user=EventUser(id="bob", name=None),
        by=EventUser(id="callmod-bot", name=None),
        created_at=datetime(2027, 3, 1, 12, 0, tzinfo=UTC),
    )


async def test_answers_before_dispatch_finishes(make_harness: HarnessFactory) -> None:
    release = asyncio.Event()
    finished: list[str] = []

    async def slow_dispatch(delivery: Delivery) -> None:
        await release.wait()
        finished.append(delivery.webhook_id)

    harness = await make_harness(dispatch=slow_dispatch)
    status, _ = await harness.post(encode(permission_request()))
    assert status == 200
    assert finished == []

    release.set()
    await harness.settle()
    assert finished == ["wh-1"]


# --- authentication ----------------------------------------------------------------------------


async def test_tampered_body_is_rejected(harness: Harness) -> None:
    genuine = encode(permission_request())
    tampered = encode(permission_request(permissions=["screenshare"]))
    status, answer = await harness.post(tampered, sign_body=genuine)
    await harness.settle()

    assert status == 401
    assert "error" in answer
    assert harness.delivered == []
    assert harness.receiver.stats.rejected_signature == 1
    assert harness.receiver.stats.accepted == 0


@pytest.mark.parametrize(
    ("api_key", "signature"),
    [
        ("another-key", None),  # wrong key, valid signature
        (None, None),  # no key
        (API_KEY, ""),  # no signature
        (API_KEY, sign(b"{}", "other-secret")),  # signed with another secret
        (API_KEY, "not-hex-é"),  # garbage signature
    ],
)
async def test_bad_credentials_are_rejected(
    harness: Harness, api_key: str | None, signature: str | None
) -> None:
    status, answer = await harness.post(
        encode(permission_request()), api_key=api_key, signature=signature
    )
    await harness.settle()

    assert status == 401
    assert set(answer) == {"error"}
    assert harness.delivered == []


async def test_signature_over_compressed_bytes_is_rejected(harness: Harness) -> None:
    compressed = gzip.compress(encode(permission_request()))
    status, _ = await harness.post(
        compressed, sign_body=compressed, extra_headers={"Content-Encoding": "gzip"}
    )
    await harness.settle()

    assert status == 401
    assert harness.delivered == []


async def test_logs_carry_no_secret_or_signature(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = encode(permission_request())
    bad_signature = sign(body, "other-secret")
    await harness.post(body, signature=bad_signature)
    await harness.post(body)
    await harness.settle()

    assert caplog.records, "the rejection should have been logged"
    assert API_SECRET not in caplog.text
    assert bad_signature not in caplog.text
    assert sign(body) not in caplog.text


# --- malformed bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"user.banned"', b'{"user": {"id": "x"}}', b'{"type": 7}', b""],
)
async def test_malformed_json_is_rejected(harness: Harness, body: bytes) -> None:
    status, answer = await harness.post(body)
    await harness.settle()

    assert status == 400
    assert "error" in answer
    assert harness.delivered == []
    assert harness.receiver.stats.rejected_body == 1


@pytest.mark.parametrize(
    ("payload", "field_name"),
    [
        (permission_request(created_at="yesterday"), "created_at"),
        (permission_request(user={"name": "no id"}), "user.id"),
        (permission_request(call_cid="call-123"), "call_cid"),
        (permission_request(permissions="send-audio"), "permissions"),
        ({"type": "user.banned", "user": {"id": "x"}, "created_at": 1, "shadow": "yes"}, "shadow"),
        ({"type": "user.unbanned", "created_at": "2027-03-01T12:00:00Z"}, "user"),
    ],
)
async def test_known_type_with_bad_field_is_rejected(
    harness: Harness, payload: dict[str, Any], field_name: str
) -> None:
    status, answer = await harness.post(encode(payload))
    await harness.settle()

    assert status == 400
    assert field_name in answer["error"]
    assert harness.delivered == []


async def test_bad_event_does_not_poison_dedupe(harness: Harness) -> None:
    assert (await harness.post(encode(permission_request(created_at="?"))))[0] == 400
    assert (await harness.post(encode(permission_request())))[0] == 200
    await harness.settle()
    assert len(harness.delivered) == 1


# --- size limits and compression ---------------------------------------------------------------


def padded_request(size: int) -> bytes:
    body = encode(permission_request(padding=""))
    return encode(permission_request(padding="x" * (size - len(body))))


async def test_oversize_content_length_is_rejected(make_harness: HarnessFactory) -> None:
    harness = await make_harness(max_body_bytes=SMALL_LIMIT)
    status, answer = await harness.post(padded_request(SMALL_LIMIT + 1))
    await harness.settle()

    assert status == 413
    assert "error" in answer
    assert harness.delivered == []
    assert harness.receiver.stats.rejected_body == 1


async def test_body_exactly_at_limit_is_accepted(make_harness: HarnessFactory) -> None:
    harness = await make_harness(max_body_bytes=SMALL_LIMIT)
    body = padded_request(SMALL_LIMIT)
    assert len(body) == SMALL_LIMIT
    assert (await harness.post(body))[0] == 200


async def chunks_of(body: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_oversize_chunked_body_is_rejected(make_harness: HarnessFactory) -> None:
    harness = await make_harness(max_body_bytes=SMALL_LIMIT)
    body = padded_request(SMALL_LIMIT + 1)
    status, _ = await harness.post(chunks_of(body), sign_body=body)
    await harness.settle()

    assert status == 413
    assert harness.delivered == []


async def test_chunked_body_within_limit_is_accepted(make_harness: HarnessFactory) -> None:
    harness = await make_harness(max_body_bytes=SMALL_LIMIT)
    body = padded_request(SMALL_LIMIT - 100)
    assert (await harness.post(chunks_of(body), sign_body=body))[0] == 200


@pytest.mark.parametrize("auto_decompress", [True, False])
@pytest.mark.parametrize("declare_encoding", [True, False])
async def test_gzip_body_is_accepted(
    make_harness: HarnessFactory, auto_decompress: bool, declare_encoding: bool
) -> None:
    harness = await make_harness(auto_decompress=auto_decompress)
    body = encode(permission_request())
    headers = {"Content-Encoding": "gzip"} if declare_encoding else {}
    status, _ = await harness.post(gzip.compress(body), sign_body=body, extra_headers=headers)
    await harness.settle()

    assert status == 200
    [delivery] = harness.delivered
    assert isinstance(delivery.event, PermissionRequest)


@pytest.mark.parametrize("auto_decompress", [True, False])
@pytest.mark.parametrize("broken", [b"\x1f\x8b\xff\xffgarbage", b"plain text claiming gzip"])
async def test_bad_gzip_is_rejected(
    make_harness: HarnessFactory, auto_decompress: bool, broken: bytes
) -> None:
    harness = await make_harness(auto_decompress=auto_decompress)
    status, answer = await harness.post(
        broken, sign_body=broken, extra_headers={"Content-Encoding": "gzip"}
    )
    await harness.settle()

    assert status == 400
    assert "error" in answer
    assert harness.delivered == []


# aiohttp's own decoder (auto_decompress=True) does not notice a truncated gzip stream; the
# inflated prefix then fails the signature Stream computed over the whole JSON.
@pytest.mark.parametrize(("auto_decompress", "expected"), [(True, 401), (False, 400)])
async def test_truncated_gzip_is_rejected(
    make_harness: HarnessFactory, auto_decompress: bool, expected: int
) -> None:
    harness = await make_harness(auto_decompress=auto_decompress)
    body = encode(permission_request())
    truncated = gzip.compress(body)[:-12]
    for headers in ({"Content-Encoding": "gzip"}, {}):
        status, _ = await harness.post(truncated, sign_body=body, extra_headers=headers)
        assert status == (expected if headers else 400)
    await harness.settle()
    assert harness.delivered == []


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return gzip.compress(b"{" + b" " * (64 << 20), compresslevel=9)  # 64 MiB inflated


@pytest.mark.parametrize(
    ("auto_decompress", "declare_encoding"), [(True, True), (False, True), (True, False)]
)
async def test_gzip_bomb_is_rejected_without_inflating(
    make_harness: HarnessFactory, gzip_bomb: bytes, auto_decompress: bool, declare_encoding: bool
) -> None:
    harness = await make_harness(max_body_bytes=SMALL_LIMIT * 4, auto_decompress=auto_decompress)
    assert len(gzip_bomb) < SMALL_LIMIT * 4  # the compressed bytes fit; the inflated ones do not
    headers = {"Content-Encoding": "gzip"} if declare_encoding else {}

    tracemalloc.start()
    try:
        status, _ = await harness.post(gzip_bomb, signature="0" * 64, extra_headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await harness.settle()

    assert status == 413
    assert peak < 16 << 20  # far below the 64 MiB the bomb would inflate to
    assert harness.delivered == []


# --- dedupe ------------------------------------------------------------------------------------


async def test_retry_with_same_webhook_id_dispatches_once(harness: Harness) -> None:
    body = encode(permission_request())
    first = await harness.post(body, webhook_id="wh-7", attempt=1)
    second = await harness.post(body, webhook_id="wh-7", attempt=2)
    await harness.settle()

    assert first == (200, {"status": "accepted"})
    assert second == (200, {"status": "duplicate"})
    assert [d.attempt for d in harness.delivered] == [1]
    assert harness.receiver.stats.duplicates == 1


async def test_missing_webhook_id_dedupes_by_body_hash(harness: Harness) -> None:
    body = encode(permission_request())
    await harness.post(body, webhook_id=None)
    await harness.post(body, webhook_id=None)
    await harness.post(encode(permission_request(permissions=["send-video"])), webhook_id=None)
    await harness.settle()

    assert len(harness.delivered) == 2
    assert harness.delivered[0].webhook_id == "sha256:" + hashlib.sha256(body).hexdigest()


async def test_dedupe_entry_expires_after_ttl(make_harness: HarnessFactory) -> None:
    harness = await make_harness(dedupe_ttl=3600)
    body = encode(permission_request())
    await harness.post(body)
    await harness.clock.advance(3599)
    assert (await harness.post(body))[1] == {"status": "duplicate"}
    await harness.clock.advance(1)
    assert (await harness.post(body))[1] == {"status": "accepted"}
    await harness.settle()

    assert len(harness.delivered) == 2


async def test_dedupe_evicts_oldest_beyond_max(make_harness: HarnessFactory) -> None:
    harness = await make_harness(dedupe_max=2)
    body = encode(permission_request())
    for webhook_id in ("a", "b", "c"):
        await harness.post(body, webhook_id=webhook_id)
    assert (await harness.post(body, webhook_id="c"))[1] == {"status": "duplicate"}
    assert (await harness.post(body, webhook_id="a"))[1] == {"status": "accepted"}
    await harness.settle()

    assert [d.webhook_id for d in harness.delivered] == ["a", "b", "c", "a"]


async def test_forged_request_does_not_block_genuine_one(harness: Harness) -> None:
    genuine = encode(permission_request())
    forged = encode(permission_request(user={"id": "mallory"}))
    forged_status, _ = await harness.post(forged, webhook_id="wh-9", signature=sign(forged, "x"))
    assert forged_status == 401
    assert (await harness.post(genuine, webhook_id="wh-9"))[0] == 200
    await harness.settle()

    [delivery] = harness.delivered
    assert isinstance(delivery.event, PermissionRequest)
    assert delivery.event.user.id == "sara"


# --- unknown types and failing dispatch --------------------------------------------------------


async def test_unknown_type_is_acknowledged_not_dispatched(harness: Harness) -> None:
    status, answer = await harness.post(encode({"type": "call.session_started", "x": 1}))
    await harness.settle()

    assert (status, answer) == (200, {"status": "ignored"})
    assert harness.delivered == []
    assert harness.receiver.stats.unknown_type == 1


async def test_failing_dispatch_is_logged_and_counted(
    make_harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    delivered: list[str] = []

    async def flaky(delivery: Delivery) -> None:
        if delivery.webhook_id == "boom":
            raise RuntimeError("slack is down")
        delivered.append(delivery.webhook_id)

    harness = await make_harness(dispatch=flaky)
    body = encode(permission_request())
    assert (await harness.post(body, webhook_id="boom"))[0] == 200
    await harness.settle()
    assert (await harness.post(body, webhook_id="fine"))[0] == 200
    await harness.settle()

    assert delivered == ["fine"]
    assert harness.receiver.stats.dispatch_errors == 1
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "boom" in record.getMessage()
    assert "call.permission_request" in record.getMessage()
    assert "sara" not in caplog.text  # no body content in the logs


# --- properties --------------------------------------------------------------------------------

KNOWN_TYPES = [
    "call.permission_request",
    "user.banned",
    "user.unbanned",
    "call.kicked_user",
    "call.blocked_user",
    "call.unblocked_user",
]
FIELD_NAMES = [
    "call_cid",
    "user",
    "created_by",
    "permissions",
    "created_at",
    "expiration",
    "reason",
    "shadow",
    "ip_ban",
    "cid",
    "id",
    "name",
]
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(["2027-01-01T00:00:00Z", "default:call-1", "a:", "1700000000000000000"])
)
# Well-formed field values, so that examples also get past the first field and deeper.
plausible_values = st.sampled_from(
    [{"id": "sara"}, {"id": "bob", "name": None}, ["send-audio"], 1_700_000_000_000_000_000]
)
json_values = plausible_values | st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=250, deadline=None)
@given(
    event_type=st.sampled_from(KNOWN_TYPES),
    fields=st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=8),
)
def test_parse_event_raises_only_event_error(event_type: str, fields: dict[str, Any]) -> None:
    try:
        event = parse_event({**fields, "type": event_type})
    except EventError as exc:
        assert str(exc).startswith(exc.field)
    else:
        assert not isinstance(event, UnknownEvent)


@given(
    body=st.binary(min_size=1, max_size=256),
    data=st.data(),
    secret=st.text(min_size=1, max_size=32),
)
def test_signature_detects_any_single_byte_change(
    body: bytes, data: st.DataObject, secret: str
) -> None:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert verify_signature(body, signature, secret)

    index = data.draw(st.integers(0, len(body) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]))
    changed = body[:index] + bytes([replacement]) + body[index + 1 :]
    assert not verify_signature(changed, signature, secret)
