"""Binding the HTTP server to HOST:PORT, with a failure told in one line naming the variable.

`on_connection` is told of every connection as it is accepted, before its request is read:
`InFlight` shuts the gate on post-ack work then, not when the request reaches a handler. On new
connections (Slack does not promise to reuse them) a burst's requests reach the handlers only
after their connections are accepted, and post-ack work let through meanwhile delayed those
acks: `python -m benchmarks.replicas --part ack` measured new-connection ack p99 1.31x the bare
Bolt floor without it, 1.00x with it.

HOST is checked for shape when settings load (an IP address or a host name); whether a name
resolves, whether the address belongs to this machine and whether the port is free are found out
here, when the socket binds, and become a `ConfigError` (`python -m bot serve` exits 2).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from bot.settings import ConfigError

BACKLOG = 1024  # a burst of new Slack connections must not overflow the listen queue


class _TellingSite(web.TCPSite):
    """A TCPSite whose protocol factory calls `on_connection` for each accepted connection."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        on_connection: Callable[[], None],
        reuse_port: bool | None,
    ) -> None:
        super().__init__(runner, host, port, backlog=BACKLOG, reuse_port=reuse_port)
        self._on_connection = on_connection

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site; TCPSite.start binds the bare factory
        server = self._runner.server
        assert server is not None
        on_connection = self._on_connection

        def protocol() -> RequestHandler:
            on_connection()
            return server()

        self._server = await asyncio.get_running_loop().create_server(
            protocol,
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


async def listen(
    runner: web.AppRunner,
    host: str,
    port: int,
    *,
    reuse_port: bool = False,
    on_connection: Callable[[], None] | None = None,
) -> web.TCPSite:
    """Start serving `runner` on host:port (port 0 picks a free one). `reuse_port` binds with
    SO_REUSEPORT: other processes doing the same may accept on the same port (REUSE_PORT).
    `on_connection` is called as each connection is accepted."""
    if on_connection is None:
        site = web.TCPSite(runner, host, port, backlog=BACKLOG, reuse_port=reuse_port or None)
    else:
        site = _TellingSite(
            runner, host, port, on_connection=on_connection, reuse_port=reuse_port or None
        )
    try:
        await site.start()
    except OSError as error:
        raise ConfigError(refusal(error, host, port)) from None
    return site


async def check_can_listen(host: str, port: int) -> None:
    """Bind host:port once and let go, so that `serve` refuses a busy port or a foreign host
    before it opens the database or asks Slack anything (`listen` still catches a port taken in
    between)."""
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(asyncio.Protocol, host, port)
    except OSError as error:
        raise ConfigError(refusal(error, host, port)) from None
    server.close()
    await server.wait_closed()


def refusal(error: OSError, host: str, port: int) -> str:
    where = f"{host}:{port}"
    if isinstance(error, socket.gaierror):
        return f"HOST: {host!r} does not resolve to an address of this machine ({error.strerror})"
    if error.errno == errno.EADDRINUSE:
        return f"PORT: {port} is already in use on {host} (another process listens on {where})"
    if error.errno in (errno.EACCES, errno.EPERM):
        return (
            f"PORT: not allowed to listen on {where} ({error.strerror}; "
            "ports below 1024 need privileges)"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return f"HOST: {host} is not an address of this machine (cannot listen on {where})"
    return f"HOST/PORT: cannot listen on {where}: {error.strerror or error}"
