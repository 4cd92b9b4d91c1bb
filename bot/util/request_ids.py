"""The request id of the Slack command or webhook being handled: it ties log lines, Stream calls
and the case a command records together."""

from __future__ import annotations

import contextvars
import secrets

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def new_request_id() -> str:
    rid = secrets.token_hex(6)
    request_id.set(rid)
    return rid
