"""A Stream emulator on a loopback port and clients pointed at it, sharing one manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.local.emulator import StreamEmulator
from bot.stream import StreamClient
from bot.util.clock import ManualClock

API_KEY = "emulator-key"
API_SECRET = "emulator-secret"

MakeClient = Callable[..., StreamClient]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(autoadvance=True)


@dataclass(frozen=True)
class RunningEmulator:
    emu: StreamEmulator
    base_url: str


@pytest.fixture
async def running(clock: ManualClock) -> AsyncIterator[RunningEmulator]:
    emu = StreamEmulator(api_key=API_KEY, api_secret=API_SECRET, clock=clock)
    base_url = await emu.start(host="127.0.0.1", port=0)
    try:
        yield RunningEmulator(emu, base_url)
    finally:
        await emu.stop()


@pytest.fixture
def emulator(running: RunningEmulator) -> StreamEmulator:
    return running.emu


@pytest.fixture
def base_url(running: RunningEmulator) -> str:
    return running.base_url


@pytest.fixture
async def make_client(base_url: str, clock: ManualClock) -> AsyncIterator[MakeClient]:
    """Build clients with overrides (secret, deadline, ...); all are closed after the test."""
    made: list[StreamClient] = []

    def make(**overrides: Any) -> StreamClient:
        options: dict[str, Any] = {
            "api_key": API_KEY,
            "api_secret": API_SECRET,
            "base_url": base_url,
            "clock": clock,
        }
        options.update(overrides)
        client = StreamClient(**options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def client(make_client: MakeClient) -> StreamClient:
    return make_client()
