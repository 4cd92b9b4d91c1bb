"""FakeSlack takes message metadata as Slack does (issue 14, point 3): recorded on the message,
kept by a chat.update that sends none; a value that is not an object with `event_type` and
`event_payload` is `invalid_metadata_format`, a bad event type or payload value is dropped with
Slack's `invalid_metadata_schema` warning."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.local.fake_slack import FakeSlack
from bot.slack.poster import SlackPoster, case_metadata

TOKEN = "xoxb-test-token-123"
CHANNEL = "C0LOG"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=TOKEN) as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


async def test_metadata_is_recorded_and_kept_by_an_update_without_it(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    poster = SlackPoster(client)
    metadata = case_metadata(user_id="sara", call_cid="default:call-123", case_number=4)
    ts = await poster.post(CHANNEL, "hello", metadata=metadata)
    message = fake.message(CHANNEL, ts)
    assert message.metadata == {
        "event_type": "callmod_case",
        "event_payload": {"user_id": "sara", "call_cid": "default:call-123", "case_number": 4},
    }

    await poster.update(CHANNEL, ts, "edited")
    assert message.text == "edited" and message.metadata == metadata
    newer = case_metadata(user_id="sara", case_number=5)
    await poster.update(CHANNEL, ts, "again", metadata=newer)
    assert message.metadata == newer


async def test_every_post_carries_the_event_type(fake: FakeSlack, client: AsyncWebClient) -> None:
    ts = await SlackPoster(client).post(CHANNEL, "no case here")
    assert fake.message(CHANNEL, ts).metadata == {"event_type": "callmod_case", "event_payload": {}}


@pytest.mark.parametrize(
    "metadata",
    [
        "not json",
        json.dumps(["a list"]),
        {"event_type": "callmod_case"},
        {"event_payload": {}},
    ],
)
async def test_malformed_metadata_is_invalid_metadata_format(
    fake: FakeSlack, client: AsyncWebClient, metadata: Any
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.api_call(
            "chat.postMessage", json={"channel": CHANNEL, "text": "x", "metadata": metadata}
        )
    assert caught.value.response["error"] == "invalid_metadata_format"
    assert fake.messages_in(CHANNEL) == []


@pytest.mark.parametrize(
    "metadata",
    [
        {"event_type": "callmod.case", "event_payload": {}},
        {"event_type": 7, "event_payload": {}},
        {"event_type": "callmod_case", "event_payload": "sara"},
        {"event_type": "callmod_case", "event_payload": {"user_id": None}},
        {"event_type": "callmod_case", "event_payload": {"users": ["sara"]}},
    ],
)
async def test_a_bad_schema_is_a_warning_and_the_metadata_is_dropped(
    fake: FakeSlack, client: AsyncWebClient, metadata: dict[str, Any]
) -> None:
    answer = await client.chat_postMessage(channel=CHANNEL, text="x", metadata=metadata)
    assert answer["ok"] and answer["warning"] == "invalid_metadata_schema"
    assert fake.message(CHANNEL, str(answer["ts"])).metadata is None
