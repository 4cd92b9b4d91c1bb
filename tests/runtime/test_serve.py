"""`python -m bot serve` as a process (issue 12, item 8): with a bot token and no Stream
credentials it runs on the embedded emulator as the README says (it crashed with
`AttributeError … get_secret_value`), answers `/healthz` and `/readyz`, and stops on SIGTERM; a
busy port, a host name that does not resolve and an address of another machine are refused with
one line naming the variable and exit status 2, not a traceback."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.local.fake_slack import FakeSlack
from bot.local.stack import BOT_TOKEN
from tests.runtime.serving import ServeProcess, free_port, run_serve

READY_SECONDS = 30.0


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=BOT_TOKEN) as fake:
        yield fake


def slack_config(slack: FakeSlack, **more: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "signing-secret",
        "SLACK_API_URL": slack.api_url,
        "MOD_LOG_CHANNEL": "#mod-log",
        "HOST": "127.0.0.1",
        **more,
    }


async def poll_ready(url: str) -> dict[str, object]:
    """Poll /readyz until it says ready (bounded); the last answer otherwise."""
    deadline = time.monotonic() + READY_SECONDS
    report: dict[str, object] = {}
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(url) as response:
                report = json.loads(await response.text())
                if response.status == 200:
                    return report
            await asyncio.sleep(0.05)  # polling an endpoint, bounded by the deadline
    raise AssertionError(f"{url} never said ready: {report}")


async def test_serve_without_stream_credentials_uses_the_embedded_emulator(
    slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    async with ServeProcess(slack_config(slack, PORT=str(port)), tmp_path) as process:
        status, text = await process.get_when_up(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(text) == {"ok": True}
        report = await poll_ready(f"http://127.0.0.1:{port}/readyz")
        assert report["ok"] is True and report["not_ready"] == []
        done = await process.terminate()
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "AttributeError" not in done.stderr
    assert "using the embedded Stream emulator" in done.stderr
    assert "shutting down" in done.stderr
    # The channel name was resolved with conversations.list before serving.
    assert slack.calls_to("conversations.list")


async def test_serve_takes_the_listening_socket_a_service_manager_hands_it(
    slack: FakeSlack, tmp_path: Path
) -> None:
    with socket.socket() as handed, socket.socket() as taken:
        handed.bind(("127.0.0.1", 0))
        handed.listen()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]  # PORT names a busy port: binding it would be refused
        port = handed.getsockname()[1]
        config = slack_config(slack, PORT=str(busy))
        async with ServeProcess(config, tmp_path, handed=handed) as process:
            status, text = await process.get_when_up(f"http://127.0.0.1:{port}/healthz")
            assert status == 200 and json.loads(text) == {"ok": True}
            done = await process.terminate()
    assert done.returncode == 0, done.stderr
    assert "serving the socket it was handed (LISTEN_FDS)" in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr


async def test_serve_refuses_a_port_in_use(slack: FakeSlack, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = await run_serve(slack_config(slack, PORT=str(port)), tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"callmod: PORT: {port} is already in use on 127.0.0.1 "
        f"(another process listens on 127.0.0.1:{port})"
    )
    assert not slack.calls, "nothing should be asked of Slack before the port is known free"


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("callmod-test.invalid", "callmod: HOST: 'callmod-test.invalid' does not resolve"),
        ("192.0.2.1", "callmod: HOST: 192.0.2.1 is not an address of this machine"),
    ],
)
async def test_serve_refuses_a_host_it_cannot_listen_on(
    slack: FakeSlack, tmp_path: Path, host: str, says: str
) -> None:
    done = await run_serve(slack_config(slack, HOST=host, PORT=str(free_port())), tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(says), line


async def test_serve_refuses_a_bad_reason_presets_file(slack: FakeSlack, tmp_path: Path) -> None:
    presets = tmp_path / "presets.yaml"
    presets.write_text("- key: spam\n  label: Spam\n  reason: Spamming\n  min_role: owner\n")
    done = await run_serve(slack_config(slack, MOD_REASON_PRESETS=str(presets)), tmp_path)

    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"callmod: MOD_REASON_PRESETS: preset 1 in {presets} (min_role): "
        "min_role 'owner' must be moderator or admin"
    )
    assert not slack.calls, "nothing should be asked of Slack before the presets are read"

    done = await run_serve(
        slack_config(slack, MOD_REASON_PRESETS=str(tmp_path / "none.json")), tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("callmod: MOD_REASON_PRESETS: cannot read ")
    assert len(done.stderr.strip().splitlines()) == 1
