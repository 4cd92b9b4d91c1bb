"""The dispatcher on its own, with the Stream client stubbed (the one seam unit tests may stub):
role → parse → role for the arguments → confirm → run → failures as sentences → audit line.
No server starts; the end-to-end tests in tests/commands prove the same path over real sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import CaseStore
from bot.core.dispatch import CONFIRM_ACTION, Dispatcher, Services
from bot.core.model import MessageRef
from bot.core.roles import RoleResolver
from bot.local.stack import copy_migrated_template
from bot.moderation.bans.book import BanBook
from bot.moderation.history.book import CaseBook
from bot.settings import Settings
from bot.slack import blocks
from bot.slack.poster import SlackPoster
from bot.stream import CallRef, StreamAPIError
from bot.util.clock import ManualClock
from commands import build_registry

ADMIN, MODERATOR, OUTSIDER = "U0ADMIN01", "U0MODER01", "U0GUEST01"


@dataclass
class StubStream:
    """Records every call by name; `fail` makes the named operation raise once."""

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    fail: dict[str, StreamAPIError] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))
            if name in self.fail:
                raise self.fail.pop(name)

        return call

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


@dataclass
class Harness:
    dispatcher: Dispatcher
    stream: StubStream
    audit: list[str]

    async def slash(self, line: str, user_id: str = ADMIN) -> str:
        name, _, text = line.removeprefix("/").partition(" ")
        reply = await self.dispatcher.run_slash(name, text, user_id=user_id, user_name="maria")
        return reply.text


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, mod_admins=[ADMIN], mod_moderators=[MODERATOR]
    )
    clock = ManualClock(1_800_000_000.0)
    stream = StubStream()
    audit: list[str] = []

    async def record(
        line: str, _blocks: list[dict[str, Any]], *, metadata: object = None
    ) -> MessageRef | None:
        audit.append(line)
        return MessageRef("C0MODLOG", f"{len(audit)}.000000")

    database = tmp_path / "cases.db"
    await copy_migrated_template(database)
    store = await CaseStore.open(f"sqlite+aiosqlite:///{database}", clock=clock)
    cases = CaseBook(store, clock)
    bans = BanBook(
        stream=stream,  # type: ignore[arg-type]
        poster=SlackPoster(AsyncWebClient(token="xoxb-unused")),
        channel=None,
        clock=clock,
        bot_stream_user_id="callmod-bot",
        cases=cases,
    )
    roles = RoleResolver(admins=[ADMIN], moderators=[MODERATOR], client=None, clock=clock)
    services = Services(
        stream=stream,  # type: ignore[arg-type]
        settings=settings,
        clock=clock,
        registry=build_registry(),
        roles=roles,
        bans=bans,
        cases=cases,
        audit=record,
    )
    try:
        yield Harness(Dispatcher(services), stream, audit)
    finally:
        await cases.stop()
        await store.close()


async def test_a_command_runs_once_and_is_audited(harness: Harness) -> None:
    text = await harness.slash("/kick sara call-123 --block")
    assert "`sara` was kicked" in text
    [(name, args, kwargs)] = harness.stream.calls
    assert name == "kick_user" and args == (CallRef("default", "call-123"), "sara")
    assert kwargs["block"] is True
    assert len(harness.audit) == 1 and "kick `sara`" in harness.audit[0]
    assert harness.audit[0].endswith(":white_check_mark: done · Case #1")


@pytest.mark.parametrize(
    ("line", "user", "expected"),
    [
        ("/kick sara call-123", OUTSIDER, "You need the *moderator* role"),
        ("/muteall call-123", MODERATOR, "You need the *admin* role"),
        ("/ban sara", MODERATOR, "You need the *admin* role to ban `sara` permanently"),
        ("/ban sara 2d", MODERATOR, "You need the *admin* role"),
        ("/ban sara 1d --ip", MODERATOR, "You need the *admin* role"),
        ("/unban sara", MODERATOR, "You need the *admin* role"),
        ("/kick sara", ADMIN, "Usage: `/kick"),
        ("/kick sara call-123 --frob", ADMIN, "Usage: `/kick"),
        ("/ban sara 2x spam", ADMIN, "`2x` is not a duration"),
        ("/mod frob", ADMIN, "is not a callmod command"),
    ],
)
async def test_denials_and_bad_input_reach_no_stream(
    harness: Harness, line: str, user: str, expected: str
) -> None:
    text = await harness.slash(line, user)
    assert expected in text
    assert harness.stream.calls == [] and harness.audit == []


async def test_confirmation_runs_only_on_confirm_and_only_once(harness: Harness) -> None:
    text = await harness.slash("/muteall call-123 video")
    assert text.startswith(":warning: Really mute video of everyone")
    assert harness.stream.calls == []
    reply = await harness.dispatcher.run_slash(
        "muteall", "call-123 video", user_id=ADMIN, user_name="maria"
    )
    assert reply.blocks is not None
    [value] = {
        e["value"]
        for b in reply.blocks
        for e in b.get("elements", [])
        if e.get("action_id") == CONFIRM_ACTION
    }
    first = await harness.dispatcher.confirmed(value, user_id=ADMIN, user_name="maria")
    second = await harness.dispatcher.confirmed(value, user_id=ADMIN, user_name="maria")
    assert "Muted video of everyone" in first.text
    assert "already handled by <@U0ADMIN01>" in second.text
    assert harness.stream.names() == ["mute_all"]


async def test_confirm_rechecks_the_role_of_the_clicker(harness: Harness) -> None:
    value = blocks.encode_value({"cmd": "muteall", "text": "call-123", "n": "abc"})
    reply = await harness.dispatcher.confirmed(value, user_id=MODERATOR, user_name="tom")
    assert "You need the *admin* role" in reply.text and harness.stream.calls == []


@pytest.mark.parametrize(
    ("maybe_applied", "said"),
    [(False, "Nothing was changed."), (True, "It may have been applied")],
)
async def test_stream_failures_become_sentences_and_audit_lines(
    harness: Harness, maybe_applied: bool, said: str
) -> None:
    harness.stream.fail["kick_user"] = StreamAPIError(
        "Stream is rate limiting callmod", operation="kick", maybe_applied=maybe_applied
    )
    text = await harness.slash("/kick sara call-123")
    assert text.startswith(":x: Could not kick `sara`") and said in text
    state = "may have been applied" if maybe_applied else "nothing was changed"
    assert harness.audit == [
        f"<@{ADMIN}> · kick `sara` from `default:call-123` · :x: failed ({state}): "
        "Stream is rate limiting callmod · Case #1"
    ]


async def test_an_unexpected_error_gives_a_reference_not_a_trace(harness: Harness) -> None:
    harness.stream.fail["kick_user"] = RuntimeError("boom")  # type: ignore[assignment]
    text = await harness.slash("/kick sara call-123")
    assert "internal error" in text and "ref `" in text
    assert "boom" not in text and "Traceback" not in text


async def test_help_lists_only_what_the_role_may_use(harness: Harness) -> None:
    moderator = await harness.slash("/mod help", MODERATOR)
    admin = await harness.slash("/mod help", ADMIN)
    outsider = await harness.slash("/mod help", OUTSIDER)
    assert "/kick" in moderator and "/muteall" not in moderator
    assert "/muteall" in admin
    assert "no callmod role" in outsider


async def test_ban_through_the_book_marks_the_echo_before_calling_stream(
    harness: Harness,
) -> None:
    text = await harness.slash("/ban bob 2h spam", MODERATOR)
    assert text.startswith(":hammer: `bob` is banned for 2h")
    [(name, args, kwargs)] = harness.stream.calls
    assert (name, args) == ("ban", ("bob",))
    assert kwargs["timeout_minutes"] == 120 and kwargs["reason"] == "spam (by @maria via Slack)"
    # The ban notification is the audit trail (none here: no channel), so no audit line.
    assert harness.audit == []
