"""FakeSlack answers conversations.history as Slack does (issue 16, point 5): newest first,
without thread replies or ephemeral messages, paged by `limit` and `cursor` (`has_more`,
`response_metadata.next_cursor`), metadata only with `include_all_metadata`, and Slack's errors;
`SlackPoster.find_case_message` finds a message by the case its metadata names, across pages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.local.fake_slack import FakeSlack
from bot.slack.poster import SlackPoster, SlackPostError, case_metadata

TOKEN = "xoxb-test-token-123"
CHANNEL = "C0MODLOG"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=TOKEN) as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


async def test_history_is_newest_first_paged_and_carries_metadata_when_asked(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    poster = SlackPoster(client)
    posted = [
        await poster.post(CHANNEL, f"line {n}", metadata=case_metadata(case_number=n))
        for n in range(5)
    ]
    await client.chat_postMessage(channel=CHANNEL, text="a reply", thread_ts=posted[0])
    await client.chat_postEphemeral(channel=CHANNEL, user="U0MODER01", text="only you")
    first = await client.conversations_history(channel=CHANNEL, limit=2)
    assert [m["text"] for m in first["messages"]] == ["line 4", "line 3"]
    assert first["has_more"] is True
    assert all("metadata" not in m for m in first["messages"])
    cursor = first["response_metadata"]["next_cursor"]
    rest = await client.conversations_history(
        channel=CHANNEL, limit=10, cursor=cursor, include_all_metadata=True
    )
    assert [m["text"] for m in rest["messages"]] == ["line 2", "line 1", "line 0"]
    assert rest["has_more"] is False and rest["response_metadata"]["next_cursor"] == ""
    assert rest["messages"][0]["metadata"] == {
        "event_type": "callmod_case",
        "event_payload": {"case_number": 2},
    }
    assert rest["messages"][0]["ts"] == posted[2] and rest["messages"][0]["type"] == "message"
    newer = await client.conversations_history(channel=CHANNEL, oldest=posted[3])
    assert [m["text"] for m in newer["messages"]] == ["line 4"]


async def test_history_errors_are_slacks(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.channels.add("C0OUTSIDE", "outside", member=False)
    fake.channels.add("C0SECRET", "secret", member=False, private=True)
    for channel, error in (
        ("C0NOWHERE", "channel_not_found"),
        ("C0OUTSIDE", "not_in_channel"),
        ("C0SECRET", "channel_not_found"),
    ):
        with pytest.raises(SlackApiError) as refused:
            await client.conversations_history(channel=channel)
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_history(channel=CHANNEL, cursor="not-a-cursor")
    assert refused.value.response["error"] == "invalid_cursor"


async def test_find_case_message_looks_through_pages(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    poster = SlackPoster(client)
    wanted = await poster.post(CHANNEL, "the line", metadata=case_metadata(case_number=7))
    for n in range(250):  # more than one page of newer messages
        await poster.post(CHANNEL, f"later {n}", metadata=case_metadata(case_number=100 + n))
    assert await poster.find_case_message(CHANNEL, 7) == wanted
    assert len(fake.calls_to("conversations.history")) == 2
    assert await poster.find_case_message(CHANNEL, 8) is None
    with pytest.raises(SlackPostError):
        await poster.find_case_message("C0NOWHERE", 7)
