"""Stream's moderation findings as alert cards, end to end: signed webhooks in Stream's own
shapes into the real server, cards in the fake Slack, clicks through Slack-signed block_actions,
decisions sent back to the emulator's review queue (issue 15, points 1, 2 and 6)."""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest

from bot.local.fake_slack import PostedMessage
from bot.local.stack import ADMIN, LOG_CHANNEL, MODERATOR, OUTSIDER, REQUESTS_CHANNEL, LocalStack
from bot.moderation.alerts import render
from bot.moderation.history.render import HISTORY_ACTION
from tests.moderation.alerting import (
    CALL,
    button,
    cards,
    click,
    elements,
    item_event,
    only_card,
    post,
    replies,
    rule_triggered,
    signed,
    submitted,
    text_of,
    warning,
)

# -- 1. receiving -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (warning(), ["`sara`", "warned by Stream's call moderation", "Please keep your video"]),
        (
            {**warning(), "type": "call.moderation_blur", "message": None},
            ["`sara`", "video blurred"],
        ),
        (
            rule_triggered(),
            ["Nudity on camera (violation 2)", "nudity", "severity high", "mute_video"],
        ),
        (item_event(texts=["you are all idiots"]), ["flagged for review", "you are all idiots"]),
        (
            item_event(entity_type="stream:user", entity_id="sara", item_id="rq-u1"),
            ["`sara`", "flagged for review", "caption rule"],
        ),
        (
            {
                "type": "call.ended",
                "created_at": "2026-12-02T09:00:00Z",
                "call_cid": CALL,
                "call": {"cid": CALL, "id": "call-123", "type": "default"},
                "reason": "PolicyViolationModeration",
            },
            ["call ended by Stream for a policy violation", f"`{CALL}`"],
        ),
    ],
    ids=["warning", "blur", "rule", "call-item", "user-item", "policy-end"],
)
async def test_each_moderation_event_becomes_a_card(
    stack: LocalStack, payload: dict[str, object], expected: list[str]
) -> None:
    assert await post(stack, payload) == 200
    card = only_card(stack)
    shown = text_of(card)
    for words in expected:
        assert words in shown, shown
    item = payload.get("review_queue_item")
    if not (isinstance(item, dict) and item["entity_type"] == "stream:user"):  # a user has no call
        assert f"`{CALL}`" in shown
        assert card.metadata is not None and card.metadata["event_payload"]["call_cid"] == CALL
    ids = {e["action_id"] for e in elements(card)}
    assert render.REVIEW_ACTION in ids


async def test_a_call_that_ended_for_another_reason_is_no_alert(stack: LocalStack) -> None:
    ended = {
        "type": "call.ended",
        "created_at": "2026-12-02T09:00:00Z",
        "call_cid": CALL,
        "call": {"cid": CALL},
    }
    assert await post(stack, ended) == 200
    assert cards(stack) == []


async def test_the_moderation_webhook_path_checks_signatures_dedupes_and_limits_size(
    stack: LocalStack,
) -> None:
    path = "/stream/moderation-webhook"
    body, headers = signed(stack, warning())
    forged = {**headers, "X-Signature": "0" * 64}
    assert await post(stack, warning(), path=path, headers=forged, body=body) == 401
    assert cards(stack) == []
    assert await post(stack, warning(), path=path, webhook_id="same") == 200
    assert await post(stack, warning(), path=path, webhook_id="same") == 200  # Stream's retry
    assert "hits" not in text_of(only_card(stack))  # counted once
    huge = {**warning(), "message": "x" * (2 << 20)}
    assert await post(stack, huge, path=path) == 413
    gzipped = gzip.compress(json.dumps(warning("john")).encode())
    _, plain = signed(stack, warning("john"))
    zipped_headers = {**plain, "Content-Encoding": "gzip"}
    assert await post(stack, {}, path=path, headers=zipped_headers, body=gzipped) == 200
    assert len(cards(stack)) == 2


# -- 2. the card --------------------------------------------------------------------------------


async def test_the_card_counts_earlier_cases_and_alerts(stack: LocalStack) -> None:
    await stack.slash("/kick sara call-123 shouting")
    await post(stack, warning())
    shown = text_of(only_card(stack))
    assert "1 earlier case (1 kick)" in shown
    assert "1st alert about `sara`" in shown
    await click(stack, only_card(stack), render.REVIEW_ACTION, MODERATOR)
    await post(stack, warning())  # the first alert is decided: a new card
    assert "2nd alert about `sara`" in text_of(cards(stack)[-1])


async def test_the_card_has_every_button(stack: LocalStack) -> None:
    stack.emulator.moderation.rule("sara", CALL, ("nudity",))
    await stack.idle()
    card = only_card(stack)
    labels = [e.get("text", {}).get("text") for e in elements(card) if e["type"] == "button"]
    assert labels == ["Kick", "Ban…", "Mark reviewed", "End call", "History", "Roster"]
    mute = button(card, render.MUTE_ACTION)
    assert [o["text"]["text"] for o in mute["options"]] == [
        "Mute audio", "Mute video", "Stop screen share", "Mute everything"
    ]
    assert button(card, HISTORY_ACTION)["value"] == "sara"
    assert button(card, "callmod_run:roster")["value"] == f"roster {CALL}"
    assert button(card, render.BAN_ACTION)["value"] == "sara"


async def test_kick_is_sent_to_stream_recorded_and_shown_on_the_card(stack: LocalStack) -> None:
    item = stack.emulator.moderation.rule("sara", CALL, ("nudity",))
    await stack.idle()
    result = await click(stack, only_card(stack), render.KICK_ACTION, MODERATOR)
    assert any("was kicked" in text for text in replies(stack, result))
    card = only_card(stack)
    assert "Actioned by <@U0MODER01> — Case #1" in text_of(card)
    assert elements(card) == []  # the buttons are gone
    assert [(b["action_type"], b["item_id"]) for b in submitted(stack)] == [("kick_user", item.id)]
    assert stack.emulator.moderation.items[item.id].reviewed
    assert "sara" not in stack.emulator.state.calls[CALL].participants
    assert any("kick `sara`" in m.text for m in stack.slack.messages_in(LOG_CHANNEL))


async def test_two_moderators_clicking_at_once_make_one_decision(stack: LocalStack) -> None:
    stack.emulator.moderation.rule("sara", CALL, ("nudity",))
    await stack.idle()
    card = only_card(stack)
    first, second = await asyncio.gather(
        click(stack, card, render.KICK_ACTION, MODERATOR),
        click(stack, card, render.KICK_ACTION, ADMIN),
    )
    texts = replies(stack, first) + replies(stack, second)
    assert sum("was kicked" in t for t in texts) == 1, texts
    assert sum(("handling this alert" in t or "already handled" in t) for t in texts) == 1, texts
    assert len(submitted(stack)) == 1
    kicks = [r for r in stack.emulator.requests if r.path.endswith("/kick")]
    assert len(kicks) == 1
    late = await click(stack, _first(stack), render.REVIEW_ACTION, ADMIN)  # a stale copy
    assert any("already handled by <@" in t for t in replies(stack, late))


async def test_mark_reviewed_takes_no_action(stack: LocalStack) -> None:
    item = stack.emulator.moderation.rule("sara", CALL, ("nudity",))
    await stack.idle()
    await click(stack, only_card(stack), render.REVIEW_ACTION, MODERATOR)
    assert "Reviewed by <@U0MODER01>, no action" in text_of(only_card(stack))
    [sent] = submitted(stack)
    assert (sent["action_type"], sent["item_id"], sent["user_id"]) == (
        "mark_reviewed", item.id, "callmod-bot"
    )
    assert sent["mark_reviewed"]["decision_reason"].startswith("reviewed by tom in Slack")
    assert "sara" in stack.emulator.state.calls[CALL].participants
    assert stack.emulator.moderation.items[item.id].reviewed


def _first(stack: LocalStack) -> PostedMessage:
    """The card as first posted, with its buttons (a moderator's stale copy)."""
    card = only_card(stack)
    first = card.history[0]
    return PostedMessage(card.channel, card.ts, first["text"], first["blocks"])


async def test_mute_menu_mutes_through_mute(stack: LocalStack) -> None:
    stack.emulator.moderation.rule("sara", CALL, ("nudity",))
    await stack.idle()
    await click(stack, only_card(stack), render.MUTE_ACTION, MODERATOR, option="Mute video")
    shown = text_of(only_card(stack))
    assert "Actioned by <@U0MODER01> — Case #1 · muted video" in shown
    muted = [r.body for r in stack.emulator.requests if r.path.endswith("/mute_users")]
    assert muted and muted[0]["user_ids"] == ["sara"] and muted[0]["video"] is True
    assert submitted(stack)[0]["action_type"] == "mark_reviewed"


async def test_end_call_needs_an_admin_and_a_confirmation(stack: LocalStack) -> None:
    item = stack.emulator.moderation.rule("sara", CALL, ("nudity",))
    await stack.idle()
    denied = await click(stack, only_card(stack), render.END_ACTION, MODERATOR)
    assert any("admin" in t for t in replies(stack, denied))
    asked = await click(stack, only_card(stack), render.END_ACTION, ADMIN)
    question = stack.slack.responses_for(asked.response_key)[-1]
    assert "Really end" in question.text
    assert stack.emulator.state.calls[CALL].ended_at is None
    assert stack.driver is not None
    confirm = next(
        e for b in question.blocks if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == render.END_CONFIRM_ACTION
    )
    await stack.driver.click(  # a click in the private answer: a response_url of its own
        action_id=render.END_CONFIRM_ACTION, value=confirm["value"], user_id=ADMIN.user_id,
        user_name=ADMIN.user_name, response_key=stack.slack.new_response_key(),
    )
    await stack.idle()
    assert stack.emulator.state.calls[CALL].ended_at is not None
    assert "Actioned by <@U0ADMIN01> — Case #1 · call ended" in text_of(only_card(stack))
    assert (submitted(stack)[0]["action_type"], submitted(stack)[0]["item_id"]) == (
        "end_call", item.id
    )


async def test_a_ban_made_from_the_form_decides_the_users_alerts(stack: LocalStack) -> None:
    stack.emulator.moderation.rule("sara", CALL, ("nudity",))
    await stack.idle()
    opened = await click(stack, only_card(stack), render.BAN_ACTION, MODERATOR)
    assert opened.status == 200
    assert stack.slack.calls_to("views.open"), "Ban… opens the ban form"
    await stack.slash("/ban sara 2h nudity on camera", MODERATOR, trigger=False)  # what it runs
    shown = text_of(only_card(stack))
    assert "Actioned by <@U0MODER01> — Case #1 · ban `sara` for 2h" in shown
    assert submitted(stack)[0]["action_type"] == "mark_reviewed"
    assert elements(only_card(stack)) == []


async def test_an_item_decided_in_streams_dashboard_updates_the_card(stack: LocalStack) -> None:
    await post(stack, item_event())
    decided = item_event(
        "review_queue_item.updated",
        status="reviewed",
        reviewed_by="dash-mod",
        reviewed_at="2026-12-02T09:05:00Z",
        latest_moderator_action="mark_reviewed",
    )
    await post(stack, decided)
    shown = text_of(only_card(stack))
    assert "Decided in Stream's dashboard by `dash-mod` (mark_reviewed)" in shown
    assert elements(only_card(stack)) == []
    late = await click(stack, _first(stack), render.KICK_ACTION, MODERATOR)
    assert any("decided in Stream's dashboard" in t for t in replies(stack, late))
    assert submitted(stack) == []


async def test_a_refused_submit_action_keeps_the_buttons_and_says_why(stack: LocalStack) -> None:
    item = stack.emulator.moderation.rule("sara", CALL, ("nudity",))
    await stack.idle()
    stack.emulator.moderation.delete_item(item.id)  # gone from Stream's queue
    result = await click(stack, only_card(stack), render.KICK_ACTION, MODERATOR)
    said = " ".join(replies(stack, result))
    assert "Stream refused `kick_user`" in said and "rq-1 does not exist" in said
    card = only_card(stack)
    assert "Stream refused `kick_user`" in text_of(card)
    assert "buttons are still there" in text_of(card)
    assert button(card, render.KICK_ACTION)
    assert "sara" in stack.emulator.state.calls[CALL].participants  # nothing else was done
    assert not [r for r in stack.emulator.requests if r.path.endswith("/kick")]


async def test_clicks_need_the_moderator_role(stack: LocalStack) -> None:
    await post(stack, warning())
    result = await click(stack, only_card(stack), render.KICK_ACTION, OUTSIDER)
    assert any("You need the *moderator* role" in t for t in replies(stack, result))
    assert button(only_card(stack), render.KICK_ACTION)


# -- 6. bad input -------------------------------------------------------------------------------


async def test_unknown_entity_types_are_acknowledged_and_ignored(stack: LocalStack) -> None:
    message_item = item_event(entity_type="stream:chat:v1:message", entity_id="m1")
    assert await post(stack, message_item) == 200
    rule = rule_triggered(entity_type="stream:feeds:v2:activity")
    assert await post(stack, rule) == 200
    assert cards(stack) == []
    assert stack.callmod is not None and stack.callmod.alerts.stats.ignored == 2


@pytest.mark.parametrize(
    "payload",
    [
        {k: v for k, v in warning().items() if k != "user_id"},
        {**warning(), "call_cid": "no-colon"},
        {k: v for k, v in rule_triggered().items() if k != "rule"},
        {"type": "review_queue_item.new", "created_at": "2026-12-02T09:00:00Z", "custom": {}},
        {**item_event(), "review_queue_item": {"id": "rq-1"}},
    ],
    ids=["no-user", "bad-cid", "no-rule", "no-item", "item-without-entity"],
)
async def test_missing_fields_are_refused_with_400(
    stack: LocalStack, payload: dict[str, object]
) -> None:
    assert await post(stack, payload) == 400
    assert cards(stack) == []


async def test_huge_texts_are_cut_and_escaped(stack: LocalStack) -> None:
    evil = "<!channel> *pwned* <https://evil.example|click> " + "y" * 50_000
    await post(stack, item_event(texts=[evil, "a\nb\n\n<@U0ADMIN01>"]))
    card = only_card(stack)
    shown = text_of(card)
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert "<https://evil" not in shown
    assert "&lt;@U0ADMIN01&gt;" in shown
    assert "y" * 400 not in shown
    assert all(len(b["text"]["text"]) <= 3000 for b in card.blocks if b["type"] == "section")


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://frames.stream-io-cdn.com/k/1.jpg", True),
        ({"url": "https://us-east.stream-io-cdn.com/k/2.jpg"}, True),
        ("http://frames.stream-io-cdn.com/k/1.jpg", False),
        ("https://evil.example/k.jpg", False),
        ("https://getstream.io@evil.example/k.jpg", False),
        ("https://203.0.113.9/k.jpg", False),
        ("https://frames.stream-io-cdn.com:8443/k.jpg", False),
        ("javascript:alert(1)", False),
        ("https://frames.stream-io-cdn.com/a|b>c", False),
    ],
)
async def test_frame_links_only_to_https_stream_hosts(
    stack: LocalStack, url: object, linked: bool
) -> None:
    await post(stack, item_event(images=[url]))
    shown = text_of(only_card(stack))
    if linked:
        target = url["url"] if isinstance(url, dict) else url
        assert f"<{target}|Frame 1>" in shown
    else:
        assert "Frame 1: _a link to an unexpected place, not linked_" in shown
        assert "<http" not in shown and "evil" not in shown


async def test_alerts_go_to_mod_alerts_channel_when_set(clock: object) -> None:
    from bot.util.clock import ManualClock

    assert isinstance(clock, ManualClock)
    local = LocalStack(clock=clock, mod_alerts_channel="#mod-log")  # a name, resolved at start
    await local.start()
    try:
        await post(local, warning())
        alerts = [m for m in local.slack.messages_in(LOG_CHANNEL) if "Stream alert" in m.text]
        assert len(alerts) == 1
        requests = local.slack.messages_in(REQUESTS_CHANNEL)
        assert not [m for m in requests if "Stream alert" in m.text]
    finally:
        await local.stop()
