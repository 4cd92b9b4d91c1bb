"""`listen(on_connection=...)`: told of each connection as it is accepted, before its request."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
from aiohttp import web

from bot.runtime.listen import listen


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
