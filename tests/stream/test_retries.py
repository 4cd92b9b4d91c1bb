"""Retries, waits and the deadline, driven by the emulator's fault injection."""

from __future__ import annotations

import socket
import time

import pytest

from bot.local.emulator import StreamEmulator
from bot.stream import CallRef, StreamAPIError, StreamClient
from bot.util.clock import ManualClock

from .conftest import MakeClient

CALL = CallRef("default", "call-123")


def backoff_bounds(retry: int) -> tuple[float, float]:
    """The n-th backoff wait (from 1): 0.2 s doubling, capped, plus up to 0.2 s of jitter."""
    base = min(0.2 * 2 ** (retry - 1), 1.8)
    return base, base + 0.2


async def test_429_waits_until_the_reset_then_succeeds(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.faults.rate_limit(reset_in=2.0)

    await client.kick_user(CALL, "sara")

    assert clock.slept == [pytest.approx(2.0)]
    assert [r.path.rsplit("/", 1)[-1] for r in emulator.requests] == ["kick", "kick"]
    assert "sara" not in emulator.state.calls["default:call-123"].participants


async def test_429_prefers_retry_after(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.faults.rate_limit(reset_in=4.0, retry_after=1.5)

    await client.ban("sara", banned_by_id="john")

    assert clock.slept == [pytest.approx(1.5)]
    assert emulator.state.active_ban("sara") is not None


async def test_429_wait_is_capped(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.faults.rate_limit(reset_in=60.0)

    await client.block_user(CALL, "bob")

    assert clock.slept == [pytest.approx(5.0)]
    assert "bob" in emulator.state.calls["default:call-123"].blocked


async def test_429_until_the_deadline_gives_the_rate_limit_sentence(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.faults.rate_limit(times=None, reset_in=2.0)
    started = clock.time()

    with pytest.raises(StreamAPIError) as caught:
        await client.kick_user(CALL, "sara")

    error = caught.value
    assert str(error) == (
        "Stream is rate limiting callmod; nothing was changed, try again in a minute"
    )
    assert (error.status, error.code) == (429, 9)
    assert (error.maybe_applied, error.retryable) == (False, True)
    assert clock.time() - started <= 8.0
    assert clock.slept == [pytest.approx(2.0)] * 3
    assert len(emulator.requests) == 4
    assert "sara" in emulator.state.calls["default:call-123"].participants


async def test_503_is_retried_with_backoff(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.faults.server_error(status=503, times=2)

    await client.mute_users(CALL, ["john"], ["audio"], muted_by_id="sara")

    assert len(clock.slept) == 2
    for retry, slept in enumerate(clock.slept, start=1):
        low, high = backoff_bounds(retry)
        assert low <= slept <= high
    assert emulator.state.calls["default:call-123"].muted["john"] == {"audio"}
    assert len(emulator.requests) == 3


@pytest.mark.parametrize("status", [502, 504])
async def test_gateway_errors_are_retried(
    client: StreamClient, emulator: StreamEmulator, status: int
) -> None:
    emulator.faults.server_error(status=status)

    await client.unblock_user(CALL, "sara")

    assert len(emulator.requests) == 2


async def test_503_beyond_the_deadline(
    make_client: MakeClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    client = make_client(deadline=3.0)
    emulator.faults.server_error(status=503, times=None)

    with pytest.raises(StreamAPIError) as caught:
        await client.ban("sara", banned_by_id="john")

    error = caught.value
    assert str(error) == "Stream is having trouble (HTTP 503); nothing was changed"
    assert (error.status, error.maybe_applied, error.retryable) == (503, False, True)
    assert sum(clock.slept) <= 3.0
    assert len(emulator.requests) == len(clock.slept) + 1 >= 4
    assert emulator.state.active_ban("sara") is None


async def test_500_is_not_retried_and_may_have_applied(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.faults.server_error(status=500)

    with pytest.raises(StreamAPIError) as caught:
        await client.kick_user(CALL, "sara")

    assert caught.value.sentence == (
        "Stream is having trouble (HTTP 500); the change may or may not have taken effect"
    )
    assert caught.value.maybe_applied
    assert len(emulator.requests) == 1
    assert clock.slept == []


async def test_400_is_not_retried(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    with pytest.raises(StreamAPIError) as caught:
        await client.update_user_permissions(CALL, "sara", grant=["send-audio"],
                                             revoke=["send-audio"])

    assert caught.value.status == 400
    assert len(emulator.requests) == 1
    assert clock.slept == []


async def test_dropped_answer_then_already_deactivated_counts_as_done(
    client: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    emulator.faults.drop_connection(after_apply=True, path="/deactivate")
    started = clock.time()

    await client.deactivate_user("sara")

    user = emulator.state.users["sara"]
    assert user.deactivated
    assert user.deactivated_at == started  # applied once, by the first attempt
    assert len(emulator.requests) == 2
    assert len(clock.slept) == 1


async def test_dropped_answer_then_not_deactivated_counts_as_done(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    emulator.state.users["bob"].deactivated = True
    emulator.faults.drop_connection(after_apply=True)

    await client.reactivate_user("bob")

    assert not emulator.state.users["bob"].deactivated
    assert len(emulator.requests) == 2


async def test_dropped_before_applying_is_retried(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    emulator.faults.drop_connection(after_apply=False)

    await client.ban("john", banned_by_id="sara", reason="spam")

    ban = emulator.state.active_ban("john")
    assert ban is not None and ban.reason == "spam"
    assert emulator.state.ban_counts["john"] == 1
    assert len(emulator.requests) == 2


async def test_connection_dropping_every_time(
    make_client: MakeClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    client = make_client(deadline=2.0)
    emulator.faults.drop_connection(times=None)

    with pytest.raises(StreamAPIError) as caught:
        await client.block_user(CALL, "sara")

    error = caught.value
    assert error.sentence == (
        "the connection to Stream broke before it answered; "
        "the change may or may not have taken effect"
    )
    assert (error.status, error.maybe_applied, error.retryable) == (None, True, True)
    assert error.operation == "block"
    assert sum(clock.slept) <= 2.0
    assert len(emulator.requests) >= 2


async def test_an_unknown_outcome_is_remembered_through_later_failures(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    emulator.faults.drop_connection(after_apply=True)
    emulator.faults.server_error(status=503, times=None)

    with pytest.raises(StreamAPIError) as caught:
        await client.ban("sara", banned_by_id="john")

    assert caught.value.status == 503
    assert caught.value.maybe_applied
    assert caught.value.sentence == (
        "Stream is having trouble (HTTP 503); the change may or may not have taken effect"
    )
    assert emulator.state.active_ban("sara") is not None


async def test_already_deactivated_after_a_known_failure_is_still_an_error(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    emulator.state.users["sara"].deactivated = True
    emulator.faults.server_error(status=503)

    with pytest.raises(StreamAPIError) as caught:
        await client.deactivate_user("sara")

    assert caught.value.sentence == "sara is already deactivated"


async def test_slow_answer_beyond_a_short_deadline(
    make_client: MakeClient, emulator: StreamEmulator
) -> None:
    client = make_client(deadline=0.3)
    emulator.faults.latency(2.0)

    started = time.monotonic()
    with pytest.raises(StreamAPIError) as caught:
        await client.kick_user(CALL, "sara")
    elapsed = time.monotonic() - started

    assert 0.25 <= elapsed < 1.9  # cut by the 0.3 s deadline, long before the 2 s answer
    error = caught.value
    assert error.sentence == (
        "Stream did not answer within 0.3 s; the change may or may not have taken effect"
    )
    assert (error.status, error.maybe_applied, error.retryable) == (None, True, False)


async def test_slow_read_has_nothing_to_apply(
    make_client: MakeClient, emulator: StreamEmulator
) -> None:
    client = make_client(deadline=0.2)
    emulator.faults.latency(0.6)

    with pytest.raises(StreamAPIError) as caught:
        await client.query_bans()

    assert caught.value.sentence == "Stream did not answer within 0.2 s"
    assert not caught.value.maybe_applied


async def test_nobody_listening(make_client: MakeClient, clock: ManualClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{port}", deadline=1.0)

    with pytest.raises(StreamAPIError) as caught:
        await client.unban("sara")

    error = caught.value
    assert error.sentence.startswith("callmod could not connect to Stream (")
    assert error.sentence.endswith("); nothing was changed")
    assert (error.maybe_applied, error.retryable) == (False, True)
    assert clock.slept and sum(clock.slept) <= 1.0


async def test_on_response_sees_every_attempt(
    make_client: MakeClient, emulator: StreamEmulator
) -> None:
    seen: list[tuple[str, int | None, float]] = []
    client = make_client(on_response=lambda op, status, seconds: seen.append((op, status, seconds)))
    emulator.faults.server_error(status=503)
    emulator.faults.drop_connection(path="/moderation/ban", method="POST")

    await client.kick_user(CALL, "sara")
    await client.ban("sara", banned_by_id="john")

    assert [(op, status) for op, status, _ in seen] == [
        ("kick", 503),
        ("kick", 200),
        ("ban", None),
        ("ban", 200),
    ]
    assert all(seconds >= 0 for _, _, seconds in seen)


async def test_a_failing_hook_does_not_fail_the_call(
    make_client: MakeClient, emulator: StreamEmulator
) -> None:
    def broken(operation: str, status: int | None, seconds: float) -> None:
        raise RuntimeError("metrics are down")

    client = make_client(on_response=broken)

    await client.block_user(CALL, "john")

    assert "john" in emulator.state.calls["default:call-123"].blocked
