"""The Stream webhook receiver: mount `WebhookReceiver.handle` as `POST /stream/webhook`.

Each request is size-checked, gunzipped (bounded), authenticated by `X-Api-Key` and the
`X-Signature` HMAC of the uncompressed body, parsed into a typed event and deduplicated by
`X-Webhook-Id`; the answer leaves at once and `dispatch` runs in a background task
(DESIGN.md §3 "Webhooks"). A rejection has no side effect beyond its stats counter.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.shared import InProcessState, SharedState, SharedStateError
from bot.stream.events import Delivery, EventError, UnknownEvent, event_type, parse_event
from bot.util.clock import Clock, SystemClock

logger = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def verify_signature(body: bytes, signature: str, secret: str) -> bool:
    """True when `signature` is the hex HMAC-SHA256 of `body` keyed with `secret`."""
    candidate = signature.strip().lower()
    if not candidate.isascii():
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), candidate.encode())


@dataclass
class WebhookStats:
    accepted: int = 0  # new, authentic, well-formed deliveries (unknown types included)
    duplicates: int = 0
    rejected_signature: int = 0  # wrong or missing X-Api-Key / X-Signature (401)
    rejected_body: int = 0  # too large (413), bad gzip, bad JSON or bad event fields (400)
    unknown_type: int = 0
    dispatch_errors: int = 0
    unavailable: int = 0  # answered 503: the shared dedupe could not be reached


class _Rejected(Exception):
    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close  # the rest of the request stream is unreadable: drop the connection


class WebhookReceiver:
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        dispatch: Callable[[Delivery], Awaitable[None]],
        clock: Clock | None = None,
        max_body_bytes: int = 1 << 20,
        dedupe_ttl: float = 24 * 3600,
        dedupe_max: int = 100_000,
        shared: SharedState | None = None,
    ) -> None:
        self._api_key = api_key
        self._api_secret = api_secret
        self._dispatch = dispatch
        self._clock: Clock = clock or SystemClock()
        self._max_body_bytes = max_body_bytes
        # Ids expire by the injected clock; kept in this process (bounded by `dedupe_max`, the
        # oldest evicted first) unless `shared` puts them where every replica sees them.
        self._seen: SharedState = shared or InProcessState(self._clock, max_keys=dedupe_max)
        self._dedupe_ttl = dedupe_ttl
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = WebhookStats()

    async def handle(self, request: web.Request) -> web.Response:
        try:
            body = await self._read_body(request)
            self._authenticate(request, body)
            payload = _decode_json(body)
            try:
                event = parse_event(payload)
            except EventError as exc:
                raise _Rejected(400, f"invalid {payload['type']} event: {exc}") from None
        except _Rejected as rejection:
            if rejection.status == 401:
                self.stats.rejected_signature += 1
            else:
                self.stats.rejected_body += 1
            logger.info("webhook rejected (%d): %s", rejection.status, rejection.message)
            response = web.json_response({"error": rejection.message}, status=rejection.status)
            if rejection.close:
                response.force_close()
            return response

        webhook_id = request.headers.get("X-Webhook-Id", "").strip()
        if not webhook_id:
            webhook_id = "sha256:" + hashlib.sha256(body).hexdigest()
        try:
            first = await self._seen.remember_once(f"webhook:{webhook_id}", self._dedupe_ttl)
        except SharedStateError as error:
            # Without the shared dedupe a retry reaching another replica would act twice; Stream
            # retries a 503, so the delivery is answered later instead of risked now.
            self.stats.unavailable += 1
            logger.warning("webhook %r not taken: %s", webhook_id, error)
            return web.json_response({"error": "try again"}, status=503)
        if not first:
            self.stats.duplicates += 1
            logger.debug("webhook %r is a duplicate; acknowledged", webhook_id)
            return web.json_response({"status": "duplicate"})
        self.stats.accepted += 1

        if isinstance(event, UnknownEvent):
            self.stats.unknown_type += 1
            logger.debug("webhook %r of unhandled type %r acknowledged", webhook_id, event.type)
            return web.json_response({"status": "ignored"})

        delivery = Delivery(
            webhook_id=webhook_id,
            attempt=_attempt(request.headers.get("X-Webhook-Attempt")),
            received_at=self._clock.time(),
            event=event,
        )
        task = asyncio.create_task(self._run_dispatch(delivery), name=f"webhook {webhook_id}")
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._dispatch_done(done, delivery))
        return web.json_response({"status": "accepted"})

    def halt(self) -> None:
        """Cancel every background dispatch at once, as a crash would (replica tests)."""
        for task in self._tasks:
            task.cancel()

    async def drain(self) -> None:
        """Wait until every background dispatch has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run_dispatch(self, delivery: Delivery) -> None:
        await self._dispatch(delivery)

    def _dispatch_done(self, task: asyncio.Task[None], delivery: Delivery) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.stats.dispatch_errors += 1
            logger.error(
                "dispatching webhook %r (%s) failed",
                delivery.webhook_id,
                event_type(delivery.event),
                exc_info=error,
            )

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self._max_body_bytes
        declared = request.content_length
        if declared is not None and declared > limit:
            raise _Rejected(413, f"body larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := await request.content.read(limit + 1 - size):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise _Rejected(413, f"body larger than {limit} bytes")
        except web.RequestPayloadError:  # e.g. aiohttp failed to inflate a Content-Encoding body
            raise _Rejected(400, "body could not be read or decoded", close=True) from None
        raw = b"".join(chunks)
        if raw.startswith(GZIP_MAGIC):
            return _gunzip(raw, limit)
        if _declares_gzip(request) and not _decoded_by_server(request):
            raise _Rejected(400, "body is not valid gzip")
        return raw

    def _authenticate(self, request: web.Request, body: bytes) -> None:
        api_key = request.headers.get("X-Api-Key")
        if api_key is None or not _same_text(api_key, self._api_key):
            raise _Rejected(401, "unknown X-Api-Key")
        signature = request.headers.get("X-Signature")
        if not signature:
            raise _Rejected(401, "missing X-Signature")
        if not verify_signature(body, signature, self._api_secret):
            raise _Rejected(401, "X-Signature does not match the body")


def _gunzip(raw: bytes, limit: int) -> bytes:
    # max_length caps the output, so a gzip bomb never inflates past limit + 1 bytes.
    decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
    try:
        body = decompressor.decompress(raw, limit + 1)
    except zlib.error:
        raise _Rejected(400, "body is not valid gzip") from None
    if len(body) > limit:
        raise _Rejected(413, f"uncompressed body larger than {limit} bytes")
    if not decompressor.eof or decompressor.unused_data:
        raise _Rejected(400, "body is not valid gzip")
    return body


def _declares_gzip(request: web.Request) -> bool:
    encodings = request.headers.get("Content-Encoding", "").lower()
    return "gzip" in (part.strip() for part in encodings.split(","))


def _decoded_by_server(request: web.Request) -> bool:
    # aiohttp (auto_decompress=True, its default) inflates a Content-Encoding body itself, with
    # its own bounded decoder, and marks the stream by counting the compressed bytes.
    return getattr(request.content, "total_compressed_bytes", None) is not None


def _decode_json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise _Rejected(400, "body is not JSON") from None
    if not isinstance(payload, dict):
        raise _Rejected(400, "body is not a JSON object")
    if not isinstance(payload.get("type"), str) or not payload["type"]:
        raise _Rejected(400, 'body has no string "type"')
    return payload


def _attempt(header: str | None) -> int:
    try:
        attempt = int(header or "1")
    except ValueError:
        return 1
    return max(attempt, 1)


def _same_text(given: str, expected: str) -> bool:
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
