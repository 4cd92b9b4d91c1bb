"""What every route handler shares: the request's start time (for the `duration` each answer
carries), the JSON answer, the call a path names, and the host the handlers act on."""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any, Protocol

from aiohttp import web

from bot.local.emulator.errors import Invalid
from bot.local.emulator.ids import check_call_id, check_call_type
from bot.local.emulator.state import EmulatorState
from bot.local.emulator.webhooks import WebhookSender

# When the current request arrived (perf_counter), for the `duration` every answer carries.
started: ContextVar[float] = ContextVar("emulator_request_started")


class Host(Protocol):
    """The server the handlers belong to; its state may be swapped between requests."""

    state: EmulatorState
    webhooks: WebhookSender


def duration(since: float) -> str:
    return f"{(time.perf_counter() - since) * 1000:.2f}ms"


def ok(payload: dict[str, Any]) -> web.Response:
    payload["duration"] = duration(started.get())
    return web.json_response(payload)


def call_cid(request: web.Request, type_key: str = "type", id_key: str = "id") -> str:
    call_type = check_call_type(request.match_info[type_key])
    call_id = check_call_id(request.match_info[id_key])
    return f"{call_type}:{call_id}"


def int_param(raw: str | None, name: str, *, default: int, maximum: int) -> int:
    """A page size from the query string, 0 to `maximum`; absent means `default`."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid.field(name, f"{name} must be an integer, not {raw!r}") from None
    if not 0 <= value <= maximum:
        raise Invalid.field(name, f"{name} must be from 0 to {maximum}")
    return value
