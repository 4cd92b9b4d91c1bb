"""Modals against the fake Slack: views.open and views.update with Slack's documented errors
(trigger_ids good for 3 s on the injected clock, at most 100 blocks, a title of at most 24
characters, section text of at most 3,000), the ban form within those limits, and the manifest's
options URL for the form's external select."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.model import Actor, Role
from bot.local.fake_slack import FakeSlack
from bot.local.stack import BOT_TOKEN, LocalStack
from bot.slack.forms import BAN_FORM, Forms
from bot.slack.manifest import manifest_yaml
from bot.util.clock import ManualClock
from commands import build_registry

TOKEN = "xoxb-views-test"


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeSlack]:
    server = FakeSlack(bot_token=TOKEN, clock=clock)
    await server.start()
    yield server
    await server.stop()


def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


def modal(blocks: list[dict[str, Any]] | None = None, title: str = "Ban a user") -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "test",
        "title": {"type": "plain_text", "text": title},
        "blocks": blocks if blocks is not None else [_section("hello")],
    }


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        await call
    return str(raised.value.response["error"])


async def test_views_open_takes_a_trigger_for_three_seconds(
    fake: FakeSlack, clock: ManualClock
) -> None:
    web = client(fake)
    fake.register_trigger("t1", "U1")
    fake.register_trigger("t2", "U1")

    opened = await web.views_open(trigger_id="t1", view=modal())
    await clock.advance(3.5)

    assert opened["view"]["id"] == fake.views[0].id and opened["view"]["hash"]
    assert await error_of(web.views_open(trigger_id="t2", view=modal())) == "expired_trigger_id"
    assert await error_of(web.views_open(trigger_id="t1", view=modal())) == "invalid_trigger_id"
    assert await error_of(web.views_open(trigger_id="nope", view=modal())) == "invalid_trigger_id"
    assert len(fake.views) == 1


async def test_views_open_refuses_what_slack_refuses(fake: FakeSlack) -> None:
    web = client(fake)
    cases = {
        "invalid_blocks": modal([_section("x")] * 101),
        "invalid_arguments": modal(title="A title longer than twenty-four"),
    }
    for expected, view in cases.items():
        fake.register_trigger("t")
        assert await error_of(web.views_open(trigger_id="t", view=view)) == expected
    fake.register_trigger("t")
    assert await error_of(
        web.views_open(trigger_id="t", view=modal([_section("x" * 3001)]))
    ) == "invalid_blocks"
    fake.register_trigger("t")
    await web.views_open(trigger_id="t", view=modal([_section("x")] * 100))  # the limit itself


async def test_views_update_replaces_the_view_and_checks_the_hash(fake: FakeSlack) -> None:
    web = client(fake)
    fake.register_trigger("t")
    opened = (await web.views_open(trigger_id="t", view=modal()))["view"]

    updated = await web.views_update(
        view_id=opened["id"], hash=opened["hash"], view=modal([_section("changed")])
    )

    assert fake.views[0].view["blocks"][0]["text"]["text"] == "changed"
    assert len(fake.views[0].history) == 1
    stale = web.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())
    assert await error_of(stale) == "hash_conflict"
    assert await error_of(web.views_update(view_id="V0", view=modal())) == "not_found"
    assert updated["view"]["hash"] != opened["hash"]


async def test_the_ban_form_fits_slacks_limits(stack: LocalStack) -> None:
    assert stack.callmod is not None
    web = AsyncWebClient(token=BOT_TOKEN, base_url=stack.slack.api_url)
    forms = Forms(stack.callmod.dispatcher, web)
    for role in (Role.MODERATOR, Role.ADMIN):
        view = forms.ban_view(Actor("U1", "maria", role), "sara", "C0MODS")
        assert view["callback_id"] == BAN_FORM
        assert len(view["title"]["text"]) <= 24 and len(view["blocks"]) <= 100
        assert len(view["private_metadata"]) <= 3000
        stack.slack.register_trigger(f"t-{role}")
        await web.views_open(trigger_id=f"t-{role}", view=view)


def test_the_manifest_names_the_options_url() -> None:
    data = yaml.safe_load(manifest_yaml(build_registry()))
    interactivity = data["settings"]["interactivity"]
    assert interactivity["message_menu_options_url"] == interactivity["request_url"]
    socket = yaml.safe_load(manifest_yaml(build_registry(), socket_mode=True))
    assert "message_menu_options_url" not in socket["settings"]["interactivity"]
