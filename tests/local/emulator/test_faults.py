"""Fault injection: latency, rate limits, server errors and dropped connections."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.local.emulator import StreamEmulator
from bot.util.clock import ManualClock

from .helpers import API_KEY, CALL_PATH, DEMO_CID, Api, assert_stream_error, auth_headers

BLOCK = CALL_PATH + "/block"


async def test_rate_limit_answers_429_with_headers(
    api: Api, emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.faults.rate_limit(reset_in=30, retry_after=2.5)

    limited = await api.post(BLOCK, {"user_id": "sara"})

    body = assert_stream_error(limited, 429, 9)
    assert "unrecoverable" not in body
    assert limited.headers["X-RateLimit-Limit"] == "60"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == str(int(clock.time() + 30))
    assert limited.headers["Retry-After"] == "2.5"
    assert emulator.state.calls[DEMO_CID].blocked == set()

    after = await api.post(BLOCK, {"user_id": "sara"})
    assert after.status_code == 200
    assert emulator.faults.pending == []


async def test_rate_limit_without_retry_after(api: Api, emulator: StreamEmulator) -> None:
    emulator.faults.rate_limit()

    limited = await api.post(BLOCK, {"user_id": "sara"})

    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers


async def test_faults_only_hit_matching_paths_and_methods(
    api: Api, emulator: StreamEmulator
) -> None:
    emulator.faults.rate_limit(path="/kick")
    emulator.faults.server_error(502, method="GET")

    blocked = await api.post(BLOCK, {"user_id": "sara"})
    kicked = await api.post(CALL_PATH + "/kick", {"user_id": "john"})
    listed = await api.query_bans()
    listed_again = await api.query_bans()

    assert blocked.status_code == 200
    assert kicked.status_code == 429
    assert_stream_error(listed, 502, -1)
    assert listed_again.status_code == 200


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_in_stream_shape(
    api: Api, emulator: StreamEmulator, status: int
) -> None:
    emulator.faults.server_error(status, times=2)

    first = await api.post(BLOCK, {"user_id": "sara"})
    second = await api.post(BLOCK, {"user_id": "sara"})
    third = await api.post(BLOCK, {"user_id": "sara"})

    assert_stream_error(first, status, -1)
    assert_stream_error(second, status, -1)
    assert third.status_code == 200
    assert len(emulator.requests) == 3


async def test_fault_for_every_request_until_cleared(api: Api, emulator: StreamEmulator) -> None:
    emulator.faults.server_error(503, times=None)

    answers = [(await api.post(BLOCK, {"user_id": "sara"})).status_code for _ in range(3)]
    emulator.faults.clear()
    cleared = await api.post(BLOCK, {"user_id": "sara"})

    assert answers == [503, 503, 503]
    assert cleared.status_code == 200


def test_only_real_server_errors_can_be_injected(emulator: StreamEmulator) -> None:
    with pytest.raises(ValueError, match="status"):
        emulator.faults.server_error(418)
    with pytest.raises(ValueError, match="times"):
        emulator.faults.rate_limit(times=0)


async def test_faults_apply_after_auth(http: httpx.AsyncClient, emulator: StreamEmulator) -> None:
    emulator.faults.server_error(503)

    response = await http.post(
        BLOCK, params={"api_key": "wrong"}, headers=auth_headers(), json={"user_id": "sara"}
    )

    assert_stream_error(response, 401, 2)
    assert len(emulator.faults.pending) == 1


async def test_latency_delays_the_answer(api: Api, emulator: StreamEmulator) -> None:
    emulator.faults.latency(0.05)

    started = time.perf_counter()
    slow = await api.post(BLOCK, {"user_id": "sara"})
    elapsed = time.perf_counter() - started

    assert slow.status_code == 200
    assert elapsed >= 0.05


async def test_latency_trips_a_client_deadline(
    emulator: StreamEmulator, http: httpx.AsyncClient
) -> None:
    emulator.faults.latency(0.3)

    with pytest.raises(httpx.ReadTimeout):
        await http.post(
            BLOCK,
            params={"api_key": API_KEY},
            headers=auth_headers(),
            json={"user_id": "sara"},
            timeout=httpx.Timeout(5.0, read=0.05),
        )


async def test_latency_combines_with_an_error(api: Api, emulator: StreamEmulator) -> None:
    emulator.faults.latency(0.02)
    emulator.faults.server_error(503)

    started = time.perf_counter()
    response = await api.post(BLOCK, {"user_id": "sara"})

    assert response.status_code == 503
    assert time.perf_counter() - started >= 0.02
    assert emulator.faults.pending == []


async def test_dropped_connection_is_a_transport_error(
    api: Api, emulator: StreamEmulator
) -> None:
    emulator.faults.drop_connection()

    with pytest.raises(httpx.TransportError):
        await api.post(BLOCK, {"user_id": "sara"})

    assert emulator.state.calls[DEMO_CID].blocked == set()
    assert emulator.webhooks_sent == []
    retried = await api.post(BLOCK, {"user_id": "sara"})
    assert retried.status_code == 200


async def test_dropped_answer_after_the_write(api: Api, emulator: StreamEmulator) -> None:
    emulator.faults.drop_connection(after_apply=True)

    with pytest.raises(httpx.TransportError):
        await api.post(CALL_PATH + "/kick", {"user_id": "sara", "block": True})

    call = emulator.state.calls[DEMO_CID]
    assert "sara" in call.blocked
    assert "sara" not in call.participants
    assert [d.event["type"] for d in emulator.webhooks_sent] == [
        "call.blocked_user",
        "call.session_participant_left",
    ]
    # The client's retry of the same kick succeeds: kicking is idempotent in effect.
    retried = await api.post(CALL_PATH + "/kick", {"user_id": "sara", "block": True})
    assert retried.status_code == 200, retried.text
