"""`python -m bot.local.emulator` runs alone: prints where it listens and credentials that work."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx

from .helpers import shared_tls

REPO = Path(__file__).resolve().parents[3]


async def _read_banner(stdout: asyncio.StreamReader) -> dict[str, str]:
    lines: dict[str, str] = {}
    while "server token" not in lines:
        line = (await stdout.readline()).decode()
        assert line, f"the emulator exited early; printed {lines}"
        key, _, value = line.strip().partition("=" if "=" in line else ": ")
        lines[key] = value
    return lines


async def test_runs_as_a_module_on_any_free_port() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.local.emulator", "--port", "0", "--host", "127.0.0.1",
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(_read_banner(process.stdout), timeout=10)
        base_url = banner["STREAM_BASE_URL"]
        assert base_url.startswith("http://127.0.0.1:")
        assert not base_url.endswith(":0")
        assert banner["STREAM_API_KEY"] == "emulator-key"
        assert banner["STREAM_API_SECRET"] == "emulator-secret"

        async with httpx.AsyncClient(base_url=base_url, timeout=5, verify=shared_tls()) as http:
            response = await http.post(
                "/api/v2/video/call/default/call-123/kick",
                params={"api_key": banner["STREAM_API_KEY"]},
                headers={"Authorization": banner["server token"], "stream-auth-type": "jwt"},
                json={"user_id": "sara"},
            )
        assert response.status_code == 200, response.text
    finally:
        if process.returncode is None:
            process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=10)
    assert process.returncode == 0, stderr.decode()
