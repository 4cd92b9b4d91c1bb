"""Assertions on what the emulator recorded of the client's requests."""

from __future__ import annotations

import warnings
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from bot import __version__
from bot.local.emulator import StreamEmulator

API_KEY = "emulator-key"
API_SECRET = "emulator-secret"


def decode_token(token: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the emulator's short secret
        return jwt.decode(token, API_SECRET, algorithms=["HS256"])


def only_request(emu: StreamEmulator) -> Any:
    assert len(emu.requests) == 1, [(r.method, r.path) for r in emu.requests]
    return emu.requests[0]


def assert_stream_request(
    request: Any, method: str, path: str, body: Any = None, **query: str
) -> None:
    """Method, path, query, the headers every request carries, and the exact JSON body."""
    assert request.method == method
    assert request.path == path
    assert request.query == {"api_key": API_KEY, **query}
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["stream-auth-type"] == "jwt"
    assert headers["content-type"] == "application/json"
    assert headers["x-stream-client"] == f"callmod-{__version__}"
    token = headers["authorization"]
    assert not token.lower().startswith("bearer")
    assert decode_token(token) == {"server": True}
    assert request.body == body
