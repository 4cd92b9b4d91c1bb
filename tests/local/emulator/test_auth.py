"""Authentication: api_key, the JWT and its header, answered in Stream's error shape."""

from __future__ import annotations

import time

import httpx

from bot.local.emulator import StreamEmulator

from .helpers import (
    API_KEY,
    CALL_PATH,
    DEMO_CID,
    Api,
    assert_stream_error,
    auth_headers,
    decode_token,
    make_token,
)

BLOCK = CALL_PATH + "/block"


async def _block(
    http: httpx.AsyncClient, *, params: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    return await http.post(BLOCK, params=params, headers=headers, json={"user_id": "sara"})


async def test_a_valid_server_token_is_accepted(api: Api, emulator: StreamEmulator) -> None:
    response = await api.post(CALL_PATH + "/block", {"user_id": "sara"})

    assert response.status_code == 200, response.text
    assert "sara" in emulator.state.calls[DEMO_CID].blocked


async def test_missing_api_key(http: httpx.AsyncClient, emulator: StreamEmulator) -> None:
    response = await _block(http, params={}, headers=auth_headers())

    assert_stream_error(response, 401, 2, contains="api_key not found")
    assert "sara" not in emulator.state.calls[DEMO_CID].blocked


async def test_wrong_api_key(http: httpx.AsyncClient) -> None:
    response = await _block(http, params={"api_key": "someone-else"}, headers=auth_headers())

    assert_stream_error(response, 401, 2, contains="api_key not found")


async def test_token_signed_with_another_secret(
    http: httpx.AsyncClient, emulator: StreamEmulator
) -> None:
    forged = make_token("not-the-secret")
    response = await _block(http, params={"api_key": API_KEY}, headers=auth_headers(forged))

    body = assert_stream_error(response, 401, 43, contains="signature is not valid")
    assert body["unrecoverable"] is True
    assert "sara" not in emulator.state.calls[DEMO_CID].blocked


async def test_missing_authorization_header(http: httpx.AsyncClient) -> None:
    headers = auth_headers()
    del headers["Authorization"]
    response = await _block(http, params={"api_key": API_KEY}, headers=headers)

    assert_stream_error(response, 401, 5, contains="Authorization")


async def test_missing_stream_auth_type_header(http: httpx.AsyncClient) -> None:
    headers = auth_headers()
    del headers["stream-auth-type"]
    response = await _block(http, params={"api_key": API_KEY}, headers=headers)

    assert_stream_error(response, 401, 5, contains="stream-auth-type")


async def test_bearer_prefix_is_refused(http: httpx.AsyncClient) -> None:
    headers = auth_headers("Bearer " + make_token())
    response = await _block(http, params={"api_key": API_KEY}, headers=headers)

    assert_stream_error(response, 401, 5, contains="Bearer")


async def test_garbage_token(http: httpx.AsyncClient) -> None:
    response = await _block(
        http, params={"api_key": API_KEY}, headers=auth_headers("not.a.jwt")
    )

    assert_stream_error(response, 401, 5)


async def test_expired_token(http: httpx.AsyncClient) -> None:
    expired = make_token(server=True, exp=int(time.time()) - 3600)
    response = await _block(http, params={"api_key": API_KEY}, headers=auth_headers(expired))

    assert_stream_error(response, 401, 40, contains="expired")


async def test_user_token_is_not_a_server_token(http: httpx.AsyncClient) -> None:
    user_token = make_token(user_id="sara")
    response = await _block(http, params={"api_key": API_KEY}, headers=auth_headers(user_token))

    assert_stream_error(response, 403, 17)


async def test_rejected_requests_are_recorded(
    http: httpx.AsyncClient, emulator: StreamEmulator
) -> None:
    await _block(http, params={"api_key": "wrong"}, headers=auth_headers())

    (recorded,) = emulator.requests
    assert (recorded.method, recorded.path) == ("POST", BLOCK)
    assert recorded.query == {"api_key": "wrong"}
    assert recorded.body == {"user_id": "sara"}
    assert recorded.headers["stream-auth-type"] == "jwt"


async def test_unknown_endpoint_answers_in_stream_shape(api: Api) -> None:
    response = await api.get("/api/v2/video/nothing-here")

    assert_stream_error(response, 404, 16, contains="/api/v2/video/nothing-here")


def test_server_token_is_signed_with_the_secret(emulator: StreamEmulator) -> None:
    assert decode_token(emulator.server_token()) == {"server": True}
