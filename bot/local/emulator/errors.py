"""Failures the emulator answers with, in Stream's error shape.

`NotFound` and `Invalid` are domain failures raised by the state layer (no HTTP in them); the server
turns them into `StreamApiError`, which knows its HTTP status, Stream code and body.
"""

from __future__ import annotations

from typing import Any

MORE_INFO = "https://getstream.io/chat/docs/api_errors_response"
RATE_LIMIT_INFO = "https://getstream.io/chat/docs/rate_limits"

CODE_INTERNAL = -1
CODE_ACCESS_KEY = 2
CODE_INPUT = 4
CODE_AUTHENTICATION = 5
CODE_RATE_LIMITED = 9
CODE_NOT_FOUND = 16
CODE_NOT_ALLOWED = 17
CODE_TOKEN_EXPIRED = 40
CODE_TOKEN_NOT_VALID_YET = 41
CODE_TOKEN_SIGNATURE = 43


class NotFound(Exception):
    """Something named in the request does not exist (Stream: 404, code 16)."""


class Invalid(Exception):
    """The request is malformed or breaks a rule (Stream: 400, code 4), per field."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(next(iter(fields.values()), "invalid request"))
        self.fields = fields

    @classmethod
    def field(cls, name: str, problem: str) -> Invalid:
        return cls({name: problem})


class StreamApiError(Exception):
    """A complete error answer: HTTP status, Stream code, message and extras."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        exception_fields: dict[str, str] | None = None,
        unrecoverable: bool | None = None,
        headers: dict[str, str] | None = None,
        more_info: str = MORE_INFO,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.exception_fields = exception_fields
        self.unrecoverable = unrecoverable
        self.headers = headers or {}
        self.more_info = more_info

    def body(self, duration: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "StatusCode": self.status,
            "duration": duration,
            "more_info": self.more_info,
            "details": [],
        }
        if self.exception_fields:
            body["exception_fields"] = dict(self.exception_fields)
        if self.unrecoverable is not None:
            body["unrecoverable"] = self.unrecoverable
        return body


def failed(operation: str, detail: str) -> str:
    """Stream words its errors as `Op failed with error: "detail"`."""
    return f'{operation} failed with error: "{detail}"'


def from_domain(operation: str, exc: NotFound | Invalid) -> StreamApiError:
    if isinstance(exc, NotFound):
        return StreamApiError(
            404, CODE_NOT_FOUND, failed(operation, str(exc)), unrecoverable=True
        )
    return StreamApiError(
        400,
        CODE_INPUT,
        failed(operation, str(exc)),
        exception_fields=exc.fields,
        unrecoverable=True,
    )


def auth_failure(code: int, message: str) -> StreamApiError:
    return StreamApiError(401, code, message, unrecoverable=True)
