"""Socket Mode (`SLACK_APP_TOKEN`) through the real stack: callmod connects to the local stand-in
(bot/local/fake_socket_mode.py) with `open_socket_mode`, as `serve` does; slash commands and
button clicks arrive as envelopes, are acked on the socket, and change the emulator's state and
get replies exactly as over HTTP. A token Slack refuses stops `serve` with one line and exit 2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.local.emulator import StreamEmulator
from bot.local.fake_slack import FakeSlack
from bot.local.fake_socket_mode import Envelope, FakeSocketMode
from bot.local.slack_driver import SlackDriver
from bot.local.stack import ADMIN, BOT_TOKEN, LOG_CHANNEL, MODERATOR, LocalStack, Person
from bot.slack.socket_mode import SocketModeRefused, open_socket_mode
from bot.util.clock import ManualClock
from tests.commands.cmdtest import CALL, CONFIRM, find_button
from tests.runtime.serving import ServeProcess, free_port, run_serve

DEMO_PEOPLE = {"sara", "john", "alice", "bob"}


@pytest.fixture
async def stack(clock: ManualClock) -> AsyncIterator[LocalStack]:
    local = LocalStack(clock=clock, socket_mode=True)
    await local.start()
    await local.idle()
    try:
        yield local
    finally:
        await local.stop()


def _socket(stack: LocalStack) -> FakeSocketMode:
    assert stack.socket is not None
    return stack.socket


async def socket_slash(stack: LocalStack, line: str, who: Person = ADMIN) -> tuple[Envelope, str]:
    """Type `line` in Slack with the app in Socket Mode; returns the envelope (acked) and the
    response_url key of the replies, once callmod has finished the work."""
    assert stack.driver is not None
    command, _, text = line.partition(" ")
    fields, key = stack.driver.slash_payload(
        command, text, user_id=who.user_id, user_name=who.user_name
    )
    envelope = await _socket(stack).slash_command(fields)
    await _socket(stack).acked(envelope)
    await stack.idle()
    return envelope, key


async def socket_click(
    stack: LocalStack, action_id: str, value: str, response_key: str, who: Person = ADMIN
) -> Envelope:
    assert stack.driver is not None
    payload, _ = stack.driver.click_payload(
        action_id=action_id,
        value=value,
        user_id=who.user_id,
        user_name=who.user_name,
        response_key=response_key,
    )
    envelope = await _socket(stack).interactive(payload)
    await _socket(stack).acked(envelope)
    await stack.idle()
    return envelope


def replies(stack: LocalStack, key: str) -> list[str]:
    return [r.text for r in stack.slack.responses_for(key) if r.status == 200]


async def test_kick_arrives_over_the_socket_is_acked_and_acted_on(stack: LocalStack) -> None:
    envelope, key = await socket_slash(stack, "/kick sara call-123", MODERATOR)

    assert envelope.ack == {"envelope_id": envelope.envelope_id}
    assert "sara" not in stack.emulator.state.calls[CALL].participants
    assert replies(stack, key) == [":boot: `sara` was kicked from `default:call-123`.\n_Case #1_"]
    assert [m.text for m in stack.slack.messages_in(LOG_CHANNEL)] == [
        "<@U0MODER01> · kick `sara` from `default:call-123` · :white_check_mark: done · Case #1"
    ]
    assert _socket(stack).problems == []


async def test_a_confirm_click_arrives_over_the_socket(stack: LocalStack) -> None:
    asked, key = await socket_slash(stack, "/muteall call-123")
    assert asked.accepts_response_payload and asked.ack == {"envelope_id": asked.envelope_id}
    [prompt] = stack.slack.responses_for(key)
    assert prompt.text == ":warning: Really mute audio of everyone in `default:call-123`?"
    value = find_button(prompt.blocks, CONFIRM)
    assert value is not None and stack.emulator.state.calls[CALL].muted == {}

    click = await socket_click(stack, CONFIRM, value, key)

    assert click.ack == {"envelope_id": click.envelope_id}
    assert not click.accepts_response_payload
    assert stack.emulator.state.calls[CALL].muted == {p: {"audio"} for p in DEMO_PEOPLE}
    answer = stack.slack.responses_for(key)[-1]
    assert answer.replace_original
    assert answer.text == ":mute: Muted audio of everyone in `default:call-123`.\n_Case #1_"
    assert _socket(stack).problems == []


async def test_denials_and_bad_input_are_answered_over_the_socket_too(stack: LocalStack) -> None:
    _, denied = await socket_slash(stack, "/muteall call-123", MODERATOR)
    # (/kick sara with a trigger opens the action form; /block has no form.)
    _, usage = await socket_slash(stack, "/block sara", MODERATOR)

    assert replies(stack, denied)[0].startswith(":lock: You need the *admin* role")
    assert replies(stack, usage)[0].startswith(":warning: some arguments are missing.")
    assert stack.emulator.state.calls[CALL].muted == {}
    assert _socket(stack).problems == []


async def test_slash_text_over_the_socket_is_decoded_once(stack: LocalStack) -> None:
    await socket_slash(stack, "/ban bob 2h rock & roll <3")

    assert stack.emulator.state.bans["bob"].reason == "rock & roll <3 (by @maria via Slack)"


async def test_callmod_reconnects_when_slack_asks(stack: LocalStack) -> None:
    socket = _socket(stack)
    assert socket.connections_opened == 1

    await socket.disconnect()
    await socket.wait_for(lambda: socket.connections_opened == 2 and socket.connected)
    _, key = await socket_slash(stack, "/kick john call-123", MODERATOR)

    assert replies(stack, key) == [":boot: `john` was kicked from `default:call-123`.\n_Case #1_"]
    assert len(stack.slack.calls_to("apps.connections.open")) == 2
    assert socket.problems == []


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("xapp-1-not-the-token", "invalid_auth"),
        (BOT_TOKEN, "not_allowed_token_type"),
    ],
)
async def test_a_refused_app_token_is_one_sentence(
    stack: LocalStack, token: str, error: str
) -> None:
    assert stack.callmod is not None
    opened = len(stack.slack.calls_to("apps.connections.open"))

    with pytest.raises(SocketModeRefused) as refused:
        await open_socket_mode(stack.callmod.bolt, token, inflight=stack.callmod.inflight)

    message = str(refused.value)
    assert message.startswith(
        f"SLACK_APP_TOKEN: Slack refused to open a Socket Mode connection ({error}): "
    )
    assert "\n" not in message and token not in message
    assert [c.error for c in stack.slack.calls_to("apps.connections.open")[opened:]] == [error]


# ---- python -m bot serve ---------------------------------------------------------------------


@pytest.fixture
async def slack_and_stream() -> AsyncIterator[tuple[FakeSlack, FakeSocketMode, StreamEmulator]]:
    slack = FakeSlack(bot_token=BOT_TOKEN)
    socket = FakeSocketMode(slack)
    emulator = StreamEmulator(clock=ManualClock())
    await slack.start()
    await socket.start()
    await emulator.start(host="127.0.0.1", port=0)
    try:
        yield slack, socket, emulator
    finally:
        await emulator.stop()
        await socket.stop()
        await slack.stop()


def serve_config(slack: FakeSlack, emulator: StreamEmulator, app_token: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "socket-mode-test-secret",
        "SLACK_APP_TOKEN": app_token,
        "SLACK_API_URL": slack.api_url,
        "MOD_LOG_CHANNEL": LOG_CHANNEL,
        "MOD_MODERATORS": MODERATOR.user_id,
        "STREAM_API_KEY": emulator.api_key,
        "STREAM_API_SECRET": emulator.api_secret,
        "STREAM_BASE_URL": emulator.base_url,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }


async def test_serve_refuses_a_bad_app_token_with_one_line_and_exit_2(
    slack_and_stream: tuple[FakeSlack, FakeSocketMode, StreamEmulator], tmp_path: Path
) -> None:
    slack, socket, emulator = slack_and_stream
    config = serve_config(slack, emulator, "xapp-1-revoked-token")

    finished = await run_serve(config, tmp_path)

    assert finished.returncode == 2, finished
    assert finished.stderr.strip().splitlines()[-1] == (
        "callmod: SLACK_APP_TOKEN: Slack refused to open a Socket Mode connection "
        "(invalid_auth): the token is wrong or was revoked"
    )
    assert "Traceback" not in finished.stderr and "xapp-1-revoked-token" not in finished.stderr
    assert socket.connections_opened == 0


async def test_serve_answers_a_kick_over_socket_mode(
    slack_and_stream: tuple[FakeSlack, FakeSocketMode, StreamEmulator], tmp_path: Path
) -> None:
    slack, socket, emulator = slack_and_stream
    config = serve_config(slack, emulator, socket.app_token)
    driver = SlackDriver("http://127.0.0.1:9/not-used-in-socket-mode", "unused", slack)

    async with ServeProcess(config, tmp_path) as serve:
        await serve.get_when_up(f"http://127.0.0.1:{config['PORT']}/healthz")
        await socket.wait_for(lambda: socket.connected, timeout=60)
        fields, key = driver.slash_payload(
            "/kick", "sara call-123", user_id=MODERATOR.user_id, user_name=MODERATOR.user_name
        )
        envelope = await socket.slash_command(fields)
        assert await socket.acked(envelope) == {"envelope_id": envelope.envelope_id}
        await slack.wait_for(lambda: bool(slack.responses_for(key)), timeout=30)
        finished = await serve.terminate()

    assert [r.text for r in slack.responses_for(key)] == [
        ":boot: `sara` was kicked from `default:call-123`.\n_Case #1_"
    ]
    assert "sara" not in emulator.state.calls[CALL].participants
    assert finished.returncode == 0, finished
    assert socket.problems == []
