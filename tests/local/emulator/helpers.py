"""Shared test helpers: an authenticated raw HTTP client and Stream-error assertions."""

from __future__ import annotations

import json
import re
import ssl
import warnings
from functools import cache
from typing import Any

import httpx
import jwt

from bot.local.emulator import StreamEmulator

API_KEY = "emulator-key"
API_SECRET = "emulator-secret"
CALL_PATH = "/api/v2/video/call/default/call-123"
DEMO_CID = "default:call-123"


@cache
def shared_tls() -> ssl.SSLContext:
    """One TLS context for every test client: httpx builds a fresh one per client otherwise, and
    that costs more than a whole emulator test. (Everything here is plain HTTP on loopback.)"""
    return ssl.create_default_context()


def make_token(secret: str = API_SECRET, **claims: Any) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(claims or {"server": True}, secret, algorithm="HS256")


def decode_token(token: str, secret: str = API_SECRET) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=["HS256"])
        return claims


def auth_headers(token: str | None = None) -> dict[str, str]:
    return {
        "Authorization": token if token is not None else make_token(),
        "stream-auth-type": "jwt",
        "Content-Type": "application/json",
    }


class Api:
    """Raw, authenticated requests to the emulator, the way a Stream server SDK sends them."""

    def __init__(self, http: httpx.AsyncClient, emulator: StreamEmulator) -> None:
        self.http = http
        self.emulator = emulator

    async def call(self, method: str, path: str, body: Any = None, **query: str) -> httpx.Response:
        content = None if body is None else json.dumps(body).encode()
        return await self.http.request(
            method,
            path,
            params={"api_key": API_KEY, **query},
            headers=auth_headers(),
            content=content,
        )

    async def post(self, path: str, body: Any = None, **query: str) -> httpx.Response:
        return await self.call("POST", path, {} if body is None else body, **query)

    async def post_raw(self, path: str, content: bytes) -> httpx.Response:
        return await self.http.post(
            path, params={"api_key": API_KEY}, headers=auth_headers(), content=content
        )

    async def patch(self, path: str, body: Any) -> httpx.Response:
        return await self.call("PATCH", path, body)

    async def get(self, path: str, **query: str) -> httpx.Response:
        return await self.call("GET", path, None, **query)

    async def query_bans(self, **payload: Any) -> httpx.Response:
        payload.setdefault("filter_conditions", {})
        return await self.http.get(
            "/api/v2/chat/query_banned_users",
            params={"api_key": API_KEY, "payload": json.dumps(payload)},
            headers=auth_headers(),
        )

    async def query_ban_users(self, **payload: Any) -> list[str]:
        response = await self.query_bans(**payload)
        assert response.status_code == 200, response.text
        return [ban["user"]["id"] for ban in response.json()["bans"]]


def assert_stream_error(
    response: httpx.Response,
    status: int,
    code: int,
    *,
    contains: str | None = None,
    field: str | None = None,
) -> dict[str, Any]:
    """The answer is Stream's error shape with this status and code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert {"code", "message", "StatusCode", "duration", "more_info", "details"} <= body.keys()
    assert body["code"] == code
    assert body["StatusCode"] == status
    assert re.fullmatch(r"\d+\.\d\dms", body["duration"]), body["duration"]
    assert body["more_info"].startswith("https://")
    assert body["details"] == []
    if contains is not None:
        assert contains in body["message"], body["message"]
    if field is not None:
        assert field in body.get("exception_fields", {}), body
    return body


def event_types(emulator: StreamEmulator) -> list[str]:
    return [delivery.event["type"] for delivery in emulator.webhooks_sent]
