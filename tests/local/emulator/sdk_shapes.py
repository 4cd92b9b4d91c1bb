"""Helpers for driving the emulator with Stream's official Python SDK (`getstream`, dev-only):
a transport that lets the SDK reach 127.0.0.1 and nothing else and keeps every answer it got,
and a check of an answer against the SDK's response model (which fields it requires are absent).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import getstream.models
import httpx


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    body: Any


@dataclass
class LoopbackOnly(httpx.AsyncBaseTransport):
    """The SDK's HTTP transport: refuses any host but 127.0.0.1; records each answer's JSON."""

    answers: list[Answer] = field(default_factory=list)
    _inner: httpx.AsyncHTTPTransport = field(default_factory=httpx.AsyncHTTPTransport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "127.0.0.1":
            raise httpx.ConnectError(
                f"{request.url.host} is not the emulator on 127.0.0.1", request=request
            )
        response = await self._inner.handle_async_request(request)
        content = await response.aread()  # decoded, should the answer be compressed
        await response.aclose()
        body: Any = None
        if content:
            try:
                body = json.loads(content)
            except ValueError:
                body = content.decode("utf-8", "replace")
        self.answers.append(Answer(request.method, request.url.path, response.status_code, body))
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in {"content-encoding", "content-length", "transfer-encoding"}
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self._inner.aclose()

    def last(self) -> Answer:
        return self.answers[-1]


def required_gaps(model: type, answer: object) -> set[str]:
    """Paths of the fields `model` (an SDK response dataclass) requires that `answer` lacks or
    sends as null, nested models included: `call.created_by`, `bans[].user.id`, `users{}.mutes`.
    The SDK still decodes such an answer (it reads with `infer_missing=True`), filling None where
    its type says the field is always there, and warns."""
    return set(_gaps(model, answer, ""))


def _gaps(model: type, value: object, path: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    hints = typing.get_type_hints(model, vars(getstream.models))
    found: list[str] = []
    for spec in dataclasses.fields(model):
        key = _json_key(spec)
        here = f"{path}.{key}" if path else key
        required = (
            spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        )
        if value.get(key) is None:
            if required:
                found.append(here)
            continue
        found += _walk(_unwrap(hints[spec.name]), value[key], here)
    return found


def _walk(kind: Any, value: object, path: str) -> list[str]:
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _gaps(kind, value, path)
    origin = typing.get_origin(kind)
    if origin is list and isinstance(value, list):
        inner = _unwrap(typing.get_args(kind)[0])
        return [gap for item in value for gap in _walk(inner, item, path + "[]")]
    if origin is dict and isinstance(value, dict):
        inner = _unwrap(typing.get_args(kind)[1])
        return [gap for item in value.values() for gap in _walk(inner, item, path + "{}")]
    return []


def _unwrap(kind: Any) -> Any:
    """`X | None` -> X."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else kind
    return kind


def _json_key(spec: dataclasses.Field[Any]) -> str:
    rename = spec.metadata.get("dataclasses_json", {}).get("letter_case")
    return str(rename(spec.name)) if rename else spec.name


# What the SDK's CallResponse requires that the emulator's calls lack: ingress addresses, and
# every settings section but screen sharing (the only settings the emulator keeps).
CALL_RESPONSE_GAPS = frozenset(
    {
        "ingress",
        *(
            f"settings.{section}"
            for section in (
                "audio", "backstage", "broadcasting", "encryption", "frame_recording",
                "geofencing", "individual_recording", "limits", "raw_recording", "recording",
                "ring", "session", "thumbnails", "transcription", "video",
            )
        ),
    }
)


def call_gaps(prefix: str) -> set[str]:
    """CALL_RESPONSE_GAPS under a path: `call_gaps("calls[].call")`."""
    return {f"{prefix}.{gap}" for gap in CALL_RESPONSE_GAPS}
