"""Signed webhook delivery, as Stream does it: HMAC over the uncompressed body, retries with the
same `X-Webhook-Id`, optional gzip.

Deliveries run as background tasks held in a set (so none is garbage-collected mid-flight);
retry delays are waited on the injected clock.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from bot.util.clock import Clock

DeliveryStatus = Literal["pending", "delivered", "failed", "undelivered", "cancelled"]
DELIVERY_TIMEOUT = 6.0


def sign_webhook(body: bytes, secret: str) -> str:
    """Hex HMAC-SHA256 of the exact (uncompressed) body, keyed with the API secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


@dataclass
class WebhookDelivery:
    event: dict[str, Any]
    webhook_id: str
    body: bytes
    url: str | None
    attempts: int = 0
    status: DeliveryStatus = "pending"
    responses: list[int | None] = field(default_factory=list)  # per attempt; None = no answer
    error: str | None = None

    @property
    def final_status(self) -> int | None:
        return self.responses[-1] if self.responses else None


class WebhookSender:
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        clock: Clock,
        retry_delays: Sequence[float],
        url: str | None = None,
        gzip_bodies: bool = False,
        timeout: float = DELIVERY_TIMEOUT,
    ) -> None:
        self.url = url
        self.gzip_bodies = gzip_bodies
        # Stream's EventHook.should_send_custom_events: off unless the hook asks (⚠ inferred
        # from the field's name; Stream documents no more).
        self.send_custom_events = False
        self.deliveries: list[WebhookDelivery] = []
        self._api_key = api_key
        self._api_secret = api_secret
        self._clock = clock
        self._retry_delays = tuple(retry_delays)
        # Stream gives the receiver `timeout` seconds to answer once a delivery is sent; time a
        # delivery spends queued for one of the sender's connections (a burst of thousands) is
        # not the receiver's, so it does not count (a `total` would, and time out a burst).
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout, sock_read=timeout
        )
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, event: dict[str, Any]) -> WebhookDelivery:
        """Record the event and, when a URL is set, start delivering it in the background."""
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        delivery = WebhookDelivery(
            event=event, webhook_id=str(uuid.uuid4()), body=body, url=self.url
        )
        self.deliveries.append(delivery)
        if delivery.url is None:
            delivery.status = "undelivered"
            return delivery
        task = asyncio.get_running_loop().create_task(self._deliver(delivery, delivery.url))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return delivery

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _deliver(self, delivery: WebhookDelivery, url: str) -> None:
        try:
            for attempt in range(1, len(self._retry_delays) + 2):
                if attempt > 1:
                    await self._clock.sleep(self._retry_delays[attempt - 2])
                delivery.attempts = attempt
                status, error = await self._attempt(delivery, url, attempt)
                delivery.responses.append(status)
                delivery.error = error
                if status is not None and 200 <= status < 300:
                    delivery.status = "delivered"
                    return
                if status is not None and not _retryable(status):
                    break
            delivery.status = "failed"
        except asyncio.CancelledError:
            delivery.status = "cancelled"
            raise

    async def _attempt(
        self, delivery: WebhookDelivery, url: str, attempt: int
    ) -> tuple[int | None, str | None]:
        headers = {
            "Content-Type": "application/json",
            "X-Signature": sign_webhook(delivery.body, self._api_secret),
            "X-Api-Key": self._api_key,
            "X-Webhook-Id": delivery.webhook_id,
            "X-Webhook-Attempt": str(attempt),
        }
        payload = delivery.body
        if self.gzip_bodies:
            payload = gzip.compress(payload)
            headers["Content-Encoding"] = "gzip"
        try:
            async with self._client().post(url, data=payload, headers=headers) as response:
                await response.read()
                return response.status, None if response.status < 300 else response.reason
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)
        return self._session
