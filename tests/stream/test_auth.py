"""The server token and credentials: what the client sends and what a wrong secret turns into."""

from __future__ import annotations

import pytest

from bot.local.emulator import StreamEmulator
from bot.settings import Settings
from bot.stream import CallRef, StreamAPIError, StreamClient
from bot.util.clock import ManualClock

from .conftest import MakeClient
from .expect import API_KEY, API_SECRET, decode_token

CALL = CallRef("default", "call-123")


async def test_server_token_has_no_user_and_is_reused(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    await client.block_user(CALL, "sara")
    await client.unblock_user(CALL, "sara")

    tokens = {r.headers["Authorization"] for r in emulator.requests}
    assert len(tokens) == 1
    claims = decode_token(tokens.pop())
    assert claims == {"server": True}
    assert "user_id" not in claims


@pytest.mark.parametrize(
    "overrides", [{"api_secret": "not-the-secret"}, {"api_key": "not-the-key"}]
)
async def test_wrong_credentials_get_the_401_sentence(
    make_client: MakeClient, emulator: StreamEmulator, overrides: dict[str, str]
) -> None:
    client = make_client(**overrides)

    with pytest.raises(StreamAPIError) as caught:
        await client.kick_user(CALL, "sara")

    error = caught.value
    assert str(error) == "the Stream API key or secret is wrong"
    assert error.status == 401
    assert error.code in {2, 43}
    assert (error.maybe_applied, error.retryable) == (False, False)
    assert len(emulator.requests) == 1
    assert "sara" in emulator.state.calls["default:call-123"].participants


async def test_repr_hides_the_secret_and_token(client: StreamClient) -> None:
    shown = repr(client) + str(client)
    assert API_SECRET not in shown
    assert "eyJ" not in shown  # any JWT starts with this


async def test_from_settings(clock: ManualClock, base_url: str, emulator: StreamEmulator) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        stream_api_key=API_KEY,
        stream_api_secret=API_SECRET,  # type: ignore[arg-type]
        stream_deadline=3.0,
    )
    async with StreamClient.from_settings(settings, base_url=base_url, clock=clock) as client:
        await client.ban("sara", banned_by_id="john")
    assert emulator.state.active_ban("sara") is not None


def test_from_settings_needs_credentials() -> None:
    with pytest.raises(ValueError, match="STREAM_API_KEY"):
        StreamClient.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
