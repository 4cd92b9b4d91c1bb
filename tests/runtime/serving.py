"""`python -m bot serve` as a real subprocess, for start-up tests: the environment is exactly what a
test gives (no inherited configuration, no `.env`), waiting is bounded, and HTTP endpoints are
polled with a deadline rather than slept on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
OUR_PREFIXES = ("MOD_", "SLACK_", "STREAM_")
OUR_NAMES = ("PORT", "HOST", "LOG_FORMAT", "LOG_LEVEL", "DATABASE_URL")
START_SECONDS = 60.0  # generous: a loaded CI machine imports and migrates slowly
POLL_SECONDS = 0.05


def serve_env(config: dict[str, str], folder: Path) -> dict[str, str]:
    """The inherited environment minus callmod's variables, plus `config` and a case store in
    `folder` (unless `config` names one)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(OUR_PREFIXES) and name.upper() not in OUR_NAMES
    }
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{folder}/cases.db"
    env.update(config)
    env["PYTHONPATH"] = str(ROOT)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def one_line(self) -> str:
        """The refusal: one `callmod: …` line, the last thing written, and no traceback (log
        lines of what went well before it, like "case store ready", may precede it)."""
        assert "Traceback" not in self.stderr, self.stderr
        lines = self.stderr.strip().splitlines()
        refusals = [line for line in lines if line.startswith("callmod: ")]
        assert len(refusals) == 1 and lines[-1] == refusals[0], f"not one line: {self.stderr!r}"
        assert self.stdout == ""
        return refusals[0]


class ServeProcess:
    """One `python -m bot serve`; the test's event loop keeps running (fake Slack answers it)."""

    def __init__(
        self, config: dict[str, str], folder: Path, *, handed: socket.socket | None = None
    ) -> None:
        self._env = serve_env(config, folder)
        self._cwd = folder
        self._handed = handed
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        command: tuple[str, ...] = (sys.executable, "-m", "bot", "serve")
        pass_fds: tuple[int, ...] = ()
        if self._handed is not None:
            # As systemd's socket activation does: the listening socket on fd 3, LISTEN_FDS=1
            # and LISTEN_PID naming the process (the shell's pid, which exec keeps).
            fd = self._handed.fileno()
            shim = (
                "import os, sys\n"
                f"if {fd} != 3:\n"
                f"    os.dup2({fd}, 3)\n"
                f"    os.close({fd})\n"
                "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))\n"
                "os.execv(sys.executable, [sys.executable, '-m', 'bot', 'serve'])\n"
            )
            command, pass_fds = (sys.executable, "-c", shim), (fd,)
        self._process = await asyncio.create_subprocess_exec(
            *command,
            cwd=self._cwd,
            env=self._env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=pass_fds,
        )

    async def finish(self, timeout: float = START_SECONDS) -> Finished:  # noqa: ASYNC109
        """Wait for the process to end by itself (bounded) and collect its output."""
        assert self._process is not None
        try:
            stdout, stderr = await asyncio.wait_for(self._process.communicate(), timeout)
        except TimeoutError:
            self.kill()
            raise
        assert self._process.returncode is not None
        return Finished(self._process.returncode, stdout.decode(), stderr.decode())

    async def get_when_up(self, url: str, timeout: float = START_SECONDS) -> tuple[int, str]:  # noqa: ASYNC109
        """Poll `url` until it answers (or the process ends, or the deadline passes)."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self._process.returncode is not None:
                    raise AssertionError(f"serve ended early: {await self.finish()}")
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with session.get(url) as response:
                        return response.status, await response.text()
                await asyncio.sleep(POLL_SECONDS)
        self.kill()
        raise AssertionError(f"{url} did not answer within {timeout}s")

    async def terminate(self, timeout: float = 30.0) -> Finished:  # noqa: ASYNC109
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        return await self.finish(timeout)

    def kill(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()

    async def __aenter__(self) -> ServeProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Whatever happened in the test, no process is left behind."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()


async def run_serve(config: dict[str, str], folder: Path) -> Finished:
    """`python -m bot serve` expected to stop by itself (a refusal)."""
    async with ServeProcess(config, folder) as process:
        return await process.finish()
