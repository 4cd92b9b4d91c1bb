"""Shared fixtures: the whole local stack (emulator + fake Slack + callmod) on a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.local.stack import LocalStack
from bot.util.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(clock: ManualClock) -> AsyncIterator[LocalStack]:
    """callmod serving on 127.0.0.1, reached through Slack-signed requests (`stack.slash`,
    `stack.driver.click`), talking to the emulator (`stack.emulator.state`) and posting to the
    recording fake Slack (`stack.slack`)."""
    local = LocalStack(clock=clock)
    await local.start()
    await local.idle()
    try:
        yield local
    finally:
        await local.stop()
