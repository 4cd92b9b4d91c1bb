"""The review queue operations (stream-next-features.md §6b–§6d) against the emulator: the exact
requests the client sends and the queue's state afterwards (issue 15, points 5 and 6)."""

from __future__ import annotations

import pytest

from bot.local.emulator import StreamEmulator
from bot.stream import StreamAPIError, StreamClient

from .expect import assert_stream_request

API = "/api/v2/moderation"


async def test_flag_creates_an_item_and_sends_review_queue_item_new(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    item_id = await client.flag(
        "stream:user", "sara", user_id="alice", entity_creator_id="sara",
        reason="abusive in call default:call-123", custom={"call_cid": "default:call-123"},
    )
    assert item_id is not None and item_id in emulator.moderation.items
    assert_stream_request(
        emulator.requests[-1], "POST", f"{API}/flag",
        {
            "entity_type": "stream:user", "entity_id": "sara", "user_id": "alice",
            "entity_creator_id": "sara", "reason": "abusive in call default:call-123",
            "custom": {"call_cid": "default:call-123"},
        },
    )
    [sent] = [d.event for d in emulator.webhooks_sent]
    assert sent["type"] == "review_queue_item.new"
    assert sent["review_queue_item"]["id"] == item_id
    assert sent["review_queue_item"]["entity_creator_id"] == "sara"
    again = await client.flag("stream:user", "sara", user_id="bob", reason="again")
    assert again == item_id  # one open item per entity; the flag adds to it
    assert emulator.webhooks_sent[-1].event["type"] == "review_queue_item.updated"
    assert emulator.moderation.items[item_id].flags[-1]["reason"] == "again"


async def test_query_review_queue_filters_and_pages(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    emulator.moderation.rule("sara", "default:call-123", ("nudity",), text="a caption")
    for user in ("john", "alice", "bob"):
        await client.flag("stream:user", user, user_id="sara", reason="rude")
    page = await client.query_review_queue(filter={"reviewed": False}, limit=2)
    assert len(page.items) == 2 and page.next is not None
    assert emulator.requests[-1].body == {
        "limit": 2,
        "sort": [{"field": "created_at", "direction": -1}],
        "filter": {"reviewed": False},
    }
    rest = await client.query_review_queue(filter={"reviewed": False}, limit=2, next_page=page.next)
    assert len(rest.items) == 2 and rest.next is None
    calls = await client.query_review_queue(filter={"entity_type": "stream:v1:call"})
    [call_item] = calls.items
    assert call_item.entity_creator_id == "sara"
    assert call_item.call is not None and call_item.call.cid == "default:call-123"
    assert call_item.moderation_payload is not None
    assert call_item.moderation_payload.texts == ("a caption",)


async def test_submit_action_records_the_decision(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    item = emulator.moderation.rule("sara", "default:call-123", ("nudity",))
    await client.submit_action(item.id, "kick_user", user_id="alice")
    assert_stream_request(
        emulator.requests[-1], "POST", f"{API}/submit_action",
        {"action_type": "kick_user", "item_id": item.id, "user_id": "alice"},
    )
    assert item.reviewed and item.actions[-1]["type"] == "kick_user"
    updated = emulator.webhooks_sent[-1].event
    assert updated["type"] == "review_queue_item.updated"
    assert updated["action"]["type"] == "kick_user"
    await client.submit_action(
        item.id, "mark_reviewed", user_id="alice", payload={"decision_reason": "fine"}
    )
    assert emulator.requests[-1].body["mark_reviewed"] == {"decision_reason": "fine"}
    open_items = await client.query_review_queue(filter={"reviewed": False})
    assert open_items.items == ()


async def test_submit_action_ban_bans_the_items_user(
    client: StreamClient, emulator: StreamEmulator
) -> None:
    item_id = await client.flag("stream:user", "bob", user_id="alice", reason="spam")
    assert item_id is not None
    await client.submit_action(
        item_id, "ban", user_id="alice", payload={"reason": "spam", "timeout": 60}
    )
    assert emulator.state.active_ban("bob") is not None


@pytest.mark.parametrize(
    ("action", "item", "problem"),
    [
        ("kick_user", "rq-missing", "rq-missing does not exist"),
        ("teleport", None, "action_type 'teleport' is not valid"),
        ("end_call", "user", "can only be applied to stream:v1:call items"),
    ],
)
async def test_submit_action_refusals(
    client: StreamClient, emulator: StreamEmulator, action: str, item: str | None, problem: str
) -> None:
    item_id = item or "rq-any"
    if item == "user" or item is None:
        flagged = await client.flag("stream:user", "bob", user_id="alice", reason="spam")
        assert flagged is not None
        item_id = flagged
    with pytest.raises(StreamAPIError) as refused:
        await client.submit_action(item_id, action, user_id="alice")
    assert problem in refused.value.sentence
    assert not refused.value.maybe_applied
