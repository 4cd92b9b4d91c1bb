"""views.publish against the fake Slack, with Slack's documented errors (a home view of at most
100 blocks, for a user of the workspace, with the Home tab enabled, a bot token, the current
hash), and the App Home's extension hook keeping the tab within those 100 blocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.model import Actor
from bot.local.fake_slack import FakeSlack
from bot.local.stack import MODERATOR, LocalStack
from bot.util.clock import ManualClock

TOKEN = "xoxb-home-test"


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeSlack]:
    server = FakeSlack(bot_token=TOKEN, clock=clock)
    server.users["U0ANNE"] = "anne"
    await server.start()
    yield server
    await server.stop()


def client(fake: FakeSlack, token: str = TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.api_url)


def home(count: int = 1) -> dict[str, Any]:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}
    return {"type": "home", "blocks": [section] * count}


async def error_of(call: Any) -> tuple[str, list[str]]:
    with pytest.raises(SlackApiError) as raised:
        await call
    response = raised.value.response
    return str(response["error"]), list(response.get("errors") or [])


async def test_publish_sets_the_users_tab_and_a_new_hash(fake: FakeSlack) -> None:
    first = await client(fake).views_publish(user_id="U0ANNE", view=home(100))
    second = await client(fake).views_publish(
        user_id="U0ANNE", view=home(2), hash=first["view"]["hash"]
    )

    assert first["view"]["type"] == "home" and first["view"]["id"] == second["view"]["id"]
    assert first["view"]["hash"] != second["view"]["hash"]
    tab = fake.homes["U0ANNE"]
    assert len(tab.blocks) == 2 and len(tab.history) == 1


async def test_publish_refuses_what_slack_refuses(fake: FakeSlack) -> None:
    slack = client(fake)
    await slack.views_publish(user_id="U0ANNE", view=home())

    too_many = await error_of(slack.views_publish(user_id="U0ANNE", view=home(101)))
    stranger = await error_of(slack.views_publish(user_id="U0NOBODY", view=home()))
    modal = await error_of(
        slack.views_publish(user_id="U0ANNE", view={**home(), "type": "modal"})
    )
    stale = await error_of(slack.views_publish(user_id="U0ANNE", view=home(), hash="1.000001"))
    app_token = await error_of(
        client(fake, "xapp-1-A0CALLMOD-1-abc").views_publish(user_id="U0ANNE", view=home())
    )
    fake.home_tab_enabled = False
    disabled = await error_of(slack.views_publish(user_id="U0ANNE", view=home()))

    assert too_many == (
        "invalid_blocks", ["no more than 100 items allowed [json-pointer:/view/blocks]"]
    )
    assert stranger[0] == "invalid_arguments" and "user_id" in stranger[1][0]
    assert modal[0] == "invalid_arguments"
    assert stale[0] == "hash_conflict"
    assert app_token[0] == "not_allowed_token_type"
    assert disabled[0] == "not_enabled"
    assert len(fake.homes["U0ANNE"].history) == 0  # nothing refused replaced the tab


class Alerts:
    """What issue 15's open alerts will plug in: a section of many blocks."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.viewers: list[str] = []

    async def blocks(self, viewer: Actor) -> list[dict[str, Any]]:
        self.viewers.append(viewer.user_id)
        section = {"type": "section", "text": {"type": "mrkdwn", "text": "*Open alerts*"}}
        return [section] * self.count


async def test_an_added_section_shows_after_the_requests_and_the_tab_stays_within_100(
    stack: LocalStack,
) -> None:
    assert stack.callmod is not None and stack.driver is not None
    alerts = Alerts(120)
    stack.callmod.home.add_section(alerts)

    await stack.driver.home_opened(MODERATOR.user_id)
    await stack.idle()

    [call] = stack.slack.calls_to("views.publish")
    assert call.error is None
    blocks = stack.slack.homes[MODERATOR.user_id].blocks
    assert len(blocks) == 100
    assert blocks[-1]["elements"][0]["text"] == "_(More than fits here: use the commands.)_"
    texts = [str((b.get("text") or {}).get("text", "")) for b in blocks]
    requests = next(i for i, t in enumerate(texts) if t.startswith("*Permission requests*"))
    assert texts.index("*Open alerts*") > requests
    assert alerts.viewers == [MODERATOR.user_id]
