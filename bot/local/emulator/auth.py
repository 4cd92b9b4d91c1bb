"""Server-side authentication as Stream checks it: `api_key` query, JWT in `Authorization`
(no `Bearer`), `stream-auth-type: jwt`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import jwt

from bot.local.emulator.errors import (
    CODE_ACCESS_KEY,
    CODE_AUTHENTICATION,
    CODE_NOT_ALLOWED,
    CODE_TOKEN_EXPIRED,
    CODE_TOKEN_NOT_VALID_YET,
    CODE_TOKEN_SIGNATURE,
    StreamApiError,
    auth_failure,
)

# Stream tolerates a little clock skew between its servers and the token's signer.
LEEWAY_SECONDS = 5.0


@contextmanager
def _short_secrets_allowed() -> Iterator[None]:
    # The emulator's throwaway default secret is shorter than RFC 7518 recommends; that is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        yield


def server_token(api_secret: str) -> str:
    """The token Stream's server SDKs sign: no user, HS256 with the API secret."""
    with _short_secrets_allowed():
        return jwt.encode({"server": True}, api_secret, algorithm="HS256")


def authenticate(
    query: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    api_key: str,
    api_secret: str,
) -> dict[str, Any]:
    """Return the token's claims, or raise the 401/403 Stream would answer."""
    if query.get("api_key") != api_key:
        raise auth_failure(CODE_ACCESS_KEY, "api_key not found")
    token = headers.get("Authorization")
    if not token:
        raise auth_failure(
            CODE_AUTHENTICATION, "JWTAuth error: the Authorization header is missing"
        )
    if headers.get("stream-auth-type", "").lower() != "jwt":
        raise auth_failure(
            CODE_AUTHENTICATION,
            "stream-auth-type header must be jwt for server-side authentication",
        )
    if token.lower().startswith("bearer "):
        raise auth_failure(
            CODE_AUTHENTICATION, "JWTAuth error: send the token without the Bearer prefix"
        )
    claims = _decode(token, api_secret)
    if "user_id" in claims:
        raise StreamApiError(
            403,
            CODE_NOT_ALLOWED,
            "this endpoint needs a server-side token; the token carries a user_id",
            unrecoverable=True,
        )
    return claims


def _decode(token: str, api_secret: str) -> dict[str, Any]:
    try:
        with _short_secrets_allowed():
            claims: dict[str, Any] = jwt.decode(
                token,
                api_secret,
                algorithms=["HS256"],
                # Token times are checked on the wall clock, as both Stream and the signer use
                # it; the emulator's injected clock is the simulated world (ban expiry), not this.
                leeway=LEEWAY_SECONDS,
            )
    except jwt.InvalidSignatureError:
        raise auth_failure(
            CODE_TOKEN_SIGNATURE, "JWTAuth error: signature is not valid"
        ) from None
    except jwt.ExpiredSignatureError:
        raise auth_failure(CODE_TOKEN_EXPIRED, "JWTAuth error: token has expired") from None
    except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
        raise auth_failure(
            CODE_TOKEN_NOT_VALID_YET, "JWTAuth error: token is not valid yet"
        ) from None
    except jwt.InvalidTokenError:
        raise auth_failure(
            CODE_AUTHENTICATION, "JWTAuth error: token is malformed or not signed with HS256"
        ) from None
    return claims
