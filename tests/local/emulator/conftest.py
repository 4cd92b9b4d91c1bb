"""A started emulator on a loopback port, a manual clock, and a raw authenticated client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.local.emulator import StreamEmulator
from bot.util.clock import ManualClock

from .helpers import API_KEY, API_SECRET, Api, shared_tls


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def emulator(clock: ManualClock) -> AsyncIterator[StreamEmulator]:
    emu = StreamEmulator(API_KEY, API_SECRET, clock=clock)
    await emu.start(host="127.0.0.1", port=0)
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
async def http(emulator: StreamEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=emulator.base_url, timeout=5.0, verify=shared_tls()
    ) as client:
        yield client


@pytest.fixture
def api(http: httpx.AsyncClient, emulator: StreamEmulator) -> Api:
    return Api(http, emulator)
