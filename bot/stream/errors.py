"""Stream failures as one exception type carrying a sentence a moderator can read.

Each builder here knows what the failed request was (`RequestContext`) so the sentence can name
the missing user or call, and whether the change may have happened anyway (`maybe_applied`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from bot.stream.models import CallRef

AUTH_CODES = frozenset({2, 5, 40, 41, 42, 43})
NOT_ALLOWED_CODE = 17
NOT_FOUND_CODE = 16
BAD_INPUT_CODE = 4
RATE_LIMITED_CODE = 9
RETRYABLE_SERVER_STATUSES = frozenset({502, 503, 504})
# A gateway timeout means a proxy gave up waiting: the server behind it may have acted.
OUTCOME_UNKNOWN_SERVER_STATUSES = frozenset({500, 504})
_ID_CHARS = r"A-Za-z0-9@_\-"


class StreamAPIError(Exception):
    """A Stream request that did not succeed; `str()` is the moderator-facing sentence."""

    def __init__(
        self,
        sentence: str,
        *,
        operation: str,
        status: int | None = None,
        code: int | None = None,
        message: str = "",
        more_info: str | None = None,
        maybe_applied: bool = False,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.more_info = more_info
        self.maybe_applied = maybe_applied
        self.retryable = retryable
        # Seconds Stream asked us to wait before trying again (429), if it said.
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.sentence

    def __repr__(self) -> str:
        return (
            f"StreamAPIError(operation={self.operation!r}, status={self.status}, "
            f"code={self.code}, sentence={self.sentence!r})"
        )


@dataclass(frozen=True)
class RequestContext:
    """What a request was about, for error sentences and idempotent retries."""

    operation: str
    writes: bool
    call: CallRef | None = None
    user_ids: tuple[str, ...] = ()
    # A 400 whose message contains `done_marker` means the target is already in the wanted state.
    done_marker: str | None = None
    done_sentence: str | None = None

    def already_done(self, error: StreamAPIError) -> bool:
        return (
            self.done_marker is not None
            and error.status == 400
            and self.done_marker in error.message.lower()
        )


@dataclass(frozen=True)
class _ErrorBody:
    code: int | None
    message: str
    more_info: str | None
    unrecoverable: bool


def error_from_response(
    ctx: RequestContext,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    now: float,
    earlier_unknown: bool,
) -> StreamAPIError:
    """Map a non-2xx answer. `earlier_unknown`: an earlier attempt may already have applied."""
    body = _read_error_body(status, content)

    def error(
        sentence: str, *, maybe_applied: bool = False, retryable: bool = False
    ) -> StreamAPIError:
        return StreamAPIError(
            sentence,
            operation=ctx.operation,
            status=status,
            code=body.code,
            message=body.message,
            more_info=body.more_info,
            maybe_applied=maybe_applied,
            retryable=retryable,
            retry_after=_retry_after(headers, now) if status == 429 else None,
        )

    if status == 429 or body.code == RATE_LIMITED_CODE:
        outcome = _unknown_outcome(ctx) if earlier_unknown else _nothing_changed(ctx)
        return error(
            f"Stream is rate limiting callmod{outcome}{',' if outcome else ';'} "
            "try again in a minute",
            maybe_applied=ctx.writes and earlier_unknown,
            retryable=not body.unrecoverable,
        )
    if status >= 500:
        maybe = ctx.writes and (earlier_unknown or status in OUTCOME_UNKNOWN_SERVER_STATUSES)
        outcome = _unknown_outcome(ctx) if maybe else _nothing_changed(ctx)
        return error(
            f"Stream is having trouble (HTTP {status}){outcome}",
            maybe_applied=maybe,
            retryable=status in RETRYABLE_SERVER_STATUSES and not body.unrecoverable,
        )
    return error(_client_error_sentence(ctx, status, body))


def connect_failed(ctx: RequestContext, detail: str, *, earlier_unknown: bool) -> StreamAPIError:
    outcome = _unknown_outcome(ctx) if earlier_unknown else _nothing_changed(ctx)
    return StreamAPIError(
        f"callmod could not connect to Stream ({detail}){outcome}",
        operation=ctx.operation,
        message=detail,
        maybe_applied=ctx.writes and earlier_unknown,
        retryable=True,
    )


def connection_dropped(
    ctx: RequestContext, detail: str, *, sent: bool, earlier_unknown: bool
) -> StreamAPIError:
    maybe = ctx.writes and (sent or earlier_unknown)
    outcome = _unknown_outcome(ctx) if maybe else _nothing_changed(ctx)
    return StreamAPIError(
        f"the connection to Stream broke before it answered{outcome}",
        operation=ctx.operation,
        message=detail,
        maybe_applied=maybe,
        retryable=True,
    )


def no_answer(
    ctx: RequestContext, seconds: float, *, sent: bool, earlier_unknown: bool
) -> StreamAPIError:
    """Stream was too slow: a read timeout, or the operation's deadline ran out mid-request."""
    maybe = ctx.writes and (sent or earlier_unknown)
    outcome = _unknown_outcome(ctx) if maybe else _nothing_changed(ctx)
    return StreamAPIError(
        f"Stream did not answer within {seconds:g} s{outcome}",
        operation=ctx.operation,
        message=f"no answer within {seconds:g} s",
        maybe_applied=maybe,
        retryable=False,
    )


def unreadable_answer(ctx: RequestContext, detail: str) -> StreamAPIError:
    return StreamAPIError(
        f"Stream answered {ctx.operation} with something callmod cannot read ({detail})",
        operation=ctx.operation,
        message=detail,
        maybe_applied=ctx.writes,
    )


def _client_error_sentence(ctx: RequestContext, status: int, body: _ErrorBody) -> str:
    if status == 401 or body.code in AUTH_CODES:
        return "the Stream API key or secret is wrong"
    if status == 403 or body.code == NOT_ALLOWED_CODE:
        return f"Stream does not allow this: {body.message}"
    if status == 404 or body.code == NOT_FOUND_CODE:
        return _not_found_sentence(ctx, body.message)
    if status == 400 or body.code == BAD_INPUT_CODE:
        if (
            ctx.done_marker is not None
            and ctx.done_sentence is not None
            and ctx.done_marker in body.message.lower()
        ):
            return ctx.done_sentence
        return f"Stream rejected the request: {body.message}"
    return f"Stream rejected the request (HTTP {status}): {body.message}"


def _not_found_sentence(ctx: RequestContext, message: str) -> str:
    named = [user for user in ctx.user_ids if _mentions(message, user)]
    if len(named) == 1:
        return f'user "{named[0]}" was not found'
    if named:
        return "users " + ", ".join(f'"{user}"' for user in named) + " were not found"
    if ctx.call is not None and (
        _mentions(message, ctx.call.cid) or _mentions(message, ctx.call.id) or not ctx.user_ids
    ):
        return f"call {ctx.call.cid} does not exist"
    if ctx.call is None and len(ctx.user_ids) == 1:
        return f'user "{ctx.user_ids[0]}" was not found'
    return f"Stream could not find something {ctx.operation} needs: {message}"


def _mentions(message: str, word: str) -> bool:
    pattern = rf"(?<![{_ID_CHARS}]){re.escape(word)}(?![{_ID_CHARS}])"
    return re.search(pattern, message) is not None


def _nothing_changed(ctx: RequestContext) -> str:
    return "; nothing was changed" if ctx.writes else ""


def _unknown_outcome(ctx: RequestContext) -> str:
    return "; the change may or may not have taken effect" if ctx.writes else ""


def _read_error_body(status: int, content: bytes) -> _ErrorBody:
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        text = content.decode("utf-8", "replace").strip()
        return _ErrorBody(None, text[:200] or f"HTTP {status}", None, False)
    code = data.get("code")
    message = data.get("message")
    more_info = data.get("more_info")
    return _ErrorBody(
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        message=message if isinstance(message, str) and message else f"HTTP {status}",
        more_info=more_info if isinstance(more_info, str) and more_info else None,
        unrecoverable=data.get("unrecoverable") is True,
    )


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until Stream will take requests again, from Retry-After or X-RateLimit-Reset."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
        except (TypeError, ValueError):
            pass
    reset = headers.get("x-ratelimit-reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None
