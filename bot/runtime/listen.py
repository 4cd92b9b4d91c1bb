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
import os
import socket
from collections.abc import Callable, Mapping

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from bot.settings import ConfigError

BACKLOG = 1024  # a burst of new Slack connections must not overflow the listen queue


class _TellingSite(web.BaseSite):
    """A TCP site whose protocol factory calls `on_connection` for each accepted connection;
    it binds host:port, or serves a listening socket it is given (`sock`)."""

    def __init__(
        self,
        runner: web.AppRunner,
        *,
        host: str,
        port: int,
        sock: socket.socket | None,
        reuse_port: bool,
        on_connection: Callable[[], None],
    ) -> None:
        super().__init__(runner, backlog=BACKLOG)
        self._host, self._port, self._sock = host, port, sock
        self._reuse_port = reuse_port or None
        self._on_connection = on_connection

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        on_connection = self._on_connection

        def protocol() -> RequestHandler:
            on_connection()
            return server()

        loop = asyncio.get_running_loop()
        if self._sock is not None:
            self._server = await loop.create_server(protocol, sock=self._sock, backlog=BACKLOG)
        else:
            self._server = await loop.create_server(
                protocol, self._host, self._port, backlog=BACKLOG, reuse_port=self._reuse_port
            )
        if self._server.sockets:
            self._host, self._port = self._server.sockets[0].getsockname()[:2]


def _nothing() -> None:
    pass


async def listen(
    runner: web.AppRunner,
    host: str,
    port: int,
    *,
    reuse_port: bool = False,
    on_connection: Callable[[], None] = _nothing,
    sock: socket.socket | None = None,
) -> web.BaseSite:
    """Start serving `runner` on host:port (port 0 picks a free one), or on `sock`, a listening
    socket made elsewhere (`inherited_socket`; host and port are then its own). `reuse_port`
    binds with SO_REUSEPORT: other processes doing the same may accept on the same port
    (REUSE_PORT). `on_connection` is called as each connection is accepted."""
    site = _TellingSite(
        runner, host=host, port=port, sock=sock, reuse_port=reuse_port, on_connection=on_connection
    )
    try:
        await site.start()
    except OSError as error:
        raise ConfigError(refusal(error, host, port)) from None
    return site


def inherited_socket(
    environ: Mapping[str, str] | None = None, *, pid: int | None = None, first_fd: int = 3
) -> socket.socket | None:
    """The listening socket a service manager handed over, by systemd's socket activation
    protocol (`LISTEN_PID` is this process, `LISTEN_FDS` ≥ 1: the socket is fd 3), or None.
    Several processes given the same socket share one accept queue: whichever is free takes the
    next connection (`benchmarks/replicas.py` measures it against REUSE_PORT)."""
    env = os.environ if environ is None else environ
    if "LISTEN_FDS" not in env:
        return None
    if env.get("LISTEN_PID") != str(os.getpid() if pid is None else pid):
        return None  # meant for another process (a parent that did not unset it)
    try:
        count = int(env["LISTEN_FDS"])
    except ValueError:
        raise ConfigError(f"LISTEN_FDS: {env['LISTEN_FDS']!r} is not a number of sockets") from None
    if count < 1:
        return None
    try:
        sock = socket.socket(fileno=first_fd)
    except OSError as error:
        raise ConfigError(f"LISTEN_FDS: fd {first_fd} is not a socket ({error.strerror})") from None
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if sock.type != socket.SOCK_STREAM or not listening:
        sock.detach()
        raise ConfigError(f"LISTEN_FDS: fd {first_fd} is not a listening TCP socket")
    sock.setblocking(False)
    return sock


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
