"""Binding the HTTP server to HOST:PORT, with a failure told in one line naming the variable.

HOST is checked for shape when settings load (an IP address or a host name); whether a name
resolves, whether the address belongs to this machine and whether the port is free are found out
here, when the socket binds, and become a `ConfigError` (`python -m bot serve` exits 2).
"""

from __future__ import annotations

import asyncio
import errno
import socket

from aiohttp import web

from bot.settings import ConfigError

BACKLOG = 1024  # a burst of new Slack connections must not overflow the listen queue


async def listen(
    runner: web.AppRunner, host: str, port: int, *, reuse_port: bool = False
) -> web.TCPSite:
    """Start serving `runner` on host:port (port 0 picks a free one). `reuse_port` binds with
    SO_REUSEPORT: other processes doing the same may accept on the same port (REUSE_PORT)."""
    site = web.TCPSite(runner, host, port, backlog=BACKLOG, reuse_port=reuse_port or None)
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
