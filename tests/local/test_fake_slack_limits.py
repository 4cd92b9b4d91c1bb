"""FakeSlack refuses, as `invalid_blocks`, what Slack would refuse in the blocks callmod posts:
more than 50 blocks, a section text over 3,000 characters, an overflow menu without 2 to 5
options, an option's or button's text over 75 characters, an option's value over 2,000."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.local.fake_slack import FakeSlack

TOKEN = "xoxb-test-token-123"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(bot_token=TOKEN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


def option(text: str = "Mute audio", value: str = "mute sara default:call-123 audio") -> Any:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def menu_section(options: list[Any], text: str = "Sara") -> list[dict[str, Any]]:
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": text},
            "accessory": {"type": "overflow", "action_id": "callmod_run", "options": options},
        }
    ]


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def refused(client: AsyncWebClient, blocks: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0LOG", text="x", blocks=blocks)
    assert caught.value.response["error"] == "invalid_blocks"
    return list(caught.value.response.get("errors") or [])


async def test_what_fits_is_taken(fake: FakeSlack, client: AsyncWebClient) -> None:
    fits = [
        *menu_section([option(), option("x" * 75, "v" * 2000)], "t" * 3000),
        *menu_section([option()] * 5),
        *(section("b") for _ in range(48)),
    ]
    await client.chat_postMessage(channel="C0LOG", text="ok", blocks=fits)
    assert len(fake.messages[-1].blocks) == 50


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([section("b")] * 51, "no more than 50 items allowed"),
        ([section("t" * 3001)], "must be less than 3001 characters [json-pointer:/blocks/0/text"),
        (menu_section([option()]), "must provide at least 2 items"),
        (menu_section([option()] * 6), "no more than 5 items allowed"),
        (
            menu_section([option(), option("x" * 76)]),
            "must be less than 76 characters [json-pointer:/blocks/0/accessory/options/1/text",
        ),
        (
            menu_section([option(), option(value="v" * 2001)]),
            "must be less than 2001 characters [json-pointer:/blocks/0/accessory/options/1/value",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "a",
                            "text": {"type": "plain_text", "text": "k" * 76},
                            "value": "v",
                        }
                    ],
                }
            ],
            "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
        ),
    ],
    ids=[
        "51 blocks",
        "section 3001",
        "1 option",
        "6 options",
        "option text",
        "option value",
        "button text",
    ],
)
async def test_over_a_limit_is_invalid_blocks(
    fake: FakeSlack, client: AsyncWebClient, blocks: list[dict[str, Any]], error: str
) -> None:
    errors = await refused(client, blocks)
    assert any(error in e for e in errors), errors
    assert fake.messages == []


async def test_a_response_url_post_over_a_limit_is_refused(fake: FakeSlack) -> None:
    url = fake.response_url()
    async with aiohttp.ClientSession() as http:
        body = {"text": "menu", "blocks": menu_section([option()] * 6)}
        async with http.post(url, json=body) as answer:
            assert answer.status == 400
            assert (await answer.json())["error"] == "invalid_blocks"
