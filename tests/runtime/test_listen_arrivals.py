"""`listen`: told of each connection as it is accepted, before its request (`on_connection`);
serving a listening socket handed over (`sock`, `inherited_socket`: systemd's LISTEN_FDS)."""

from __future__ import annotations

import asyncio
import socket
import tempfile

import aiohttp
import pytest
from aiohttp import web

from bot.runtime.listen import inherited_socket, listen
from bot.settings import ConfigError


async def _runner(requests: list[str]) -> web.AppRunner:
    async def hello(request: web.Request) -> web.Response:
        requests.append(request.path)
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/hello", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    return runner


async def test_each_accepted_connection_is_told_before_its_request_is_read() -> None:
    requests: list[str] = []
    told = 0
    arrived = asyncio.Event()

    def on_connection() -> None:
        nonlocal told
        told += 1
        arrived.set()

    runner = await _runner(requests)
    try:
        await listen(runner, "127.0.0.1", 0, on_connection=on_connection)
        port = runner.addresses[0][1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)  # connected, nothing sent
        await asyncio.wait_for(arrived.wait(), 10)
        assert (told, requests) == (1, [])
        writer.close()
        await writer.wait_closed()
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)
        ) as session:
            for _ in range(3):  # a new connection each
                async with session.get(f"http://127.0.0.1:{port}/hello") as response:
                    assert await response.text() == "hello"
        assert told == 4
        assert requests == ["/hello"] * 3
    finally:
        await runner.cleanup()


async def test_keep_alive_requests_are_one_connection() -> None:
    requests: list[str] = []
    told: list[int] = []
    runner = await _runner(requests)
    try:
        await listen(runner, "127.0.0.1", 0, on_connection=lambda: told.append(1))
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.get(f"http://127.0.0.1:{port}/hello") as response:
                    assert response.status == 200
        assert (len(told), len(requests)) == (1, 3)
    finally:
        await runner.cleanup()


async def test_the_port_is_bound_on_loopback_and_reported() -> None:
    runner = await _runner([])
    try:
        site = await listen(runner, "127.0.0.1", 0, on_connection=lambda: None)
        host, port = runner.addresses[0][:2]
        assert host == "127.0.0.1" and port > 0
        assert site.name == f"http://127.0.0.1:{port}"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        await runner.cleanup()


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    return sock


async def test_two_servers_share_one_listening_socket_and_both_answer() -> None:
    shared = _listening()
    port = shared.getsockname()[1]
    seen: list[str] = []
    first, second = await _runner(seen), await _runner(seen)
    try:
        # each its own descriptor of the one socket, as two processes handed it would have
        await listen(first, "0.0.0.0", 0, sock=shared.dup())
        await listen(second, "0.0.0.0", 0, sock=shared.dup())
        assert first.addresses[0][:2] == second.addresses[0][:2] == ("127.0.0.1", port)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)
        ) as session:
            for _ in range(5):
                async with session.get(f"http://127.0.0.1:{port}/hello") as response:
                    assert await response.text() == "hello"
        assert seen == ["/hello"] * 5
    finally:
        await first.cleanup()
        await second.cleanup()
        shared.close()


def test_no_socket_is_inherited_without_listen_fds() -> None:
    assert inherited_socket({}, pid=42) is None
    assert inherited_socket({"LISTEN_FDS": "1", "LISTEN_PID": "41"}, pid=42) is None  # not ours
    assert inherited_socket({"LISTEN_FDS": "0", "LISTEN_PID": "42"}, pid=42) is None


def test_the_inherited_listening_socket_is_served() -> None:
    sock = _listening()
    try:
        got = inherited_socket(
            {"LISTEN_FDS": "1", "LISTEN_PID": "42"}, pid=42, first_fd=sock.fileno()
        )
        assert got is not None
        assert got.getsockname() == sock.getsockname()
        got.detach()  # the same fd as `sock`; closed once, below
    finally:
        sock.close()


def test_a_bad_listen_fds_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="LISTEN_FDS: 'two' is not a number"):
        inherited_socket({"LISTEN_FDS": "two", "LISTEN_PID": "42"}, pid=42)
    unbound = socket.socket()  # a socket, but not listening
    try:
        with pytest.raises(ConfigError, match="is not a listening TCP socket"):
            inherited_socket(
                {"LISTEN_FDS": "1", "LISTEN_PID": "42"}, pid=42, first_fd=unbound.fileno()
            )
    finally:
        unbound.close()
    with (
        tempfile.TemporaryFile() as not_a_socket,
        pytest.raises(ConfigError, match="is not a socket"),
    ):
        inherited_socket(
            {"LISTEN_FDS": "1", "LISTEN_PID": "42"}, pid=42, first_fd=not_a_socket.fileno()
        )
