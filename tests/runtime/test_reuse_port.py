"""REUSE_PORT: two servers may accept on one port only when both ask for SO_REUSEPORT."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web

from bot.runtime.listen import listen
from bot.settings import ConfigError, Settings

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT is not offered here"
)


async def _runner() -> web.AppRunner:
    runner = web.AppRunner(web.Application())
    await runner.setup()
    return runner


async def test_two_servers_share_a_port_with_reuse_port() -> None:
    first, second = await _runner(), await _runner()
    try:
        await listen(first, "127.0.0.1", 0, reuse_port=True)
        port = first.addresses[0][1]
        await listen(second, "127.0.0.1", port, reuse_port=True)
        assert second.addresses[0][1] == port
    finally:
        await first.cleanup()
        await second.cleanup()


async def test_without_reuse_port_the_second_server_is_refused() -> None:
    first, second = await _runner(), await _runner()
    try:
        await listen(first, "127.0.0.1", 0, reuse_port=True)
        port = first.addresses[0][1]
        with pytest.raises(ConfigError, match=f"PORT: {port} is already in use"):
            await listen(second, "127.0.0.1", port)
    finally:
        await first.cleanup()
        await second.cleanup()


def test_reuse_port_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REUSE_PORT", raising=False)
    assert Settings(_env_file=None).reuse_port is False  # type: ignore[call-arg]
    monkeypatch.setenv("REUSE_PORT", "true")
    assert Settings(_env_file=None).reuse_port is True  # type: ignore[call-arg]
