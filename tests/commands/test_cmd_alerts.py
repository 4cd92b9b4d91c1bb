"""`/queue` and `/report` end to end (issue 15, point 4): the queue lists open alerts oldest first,
paged, with the card's buttons, for moderators; a report from anyone goes to Stream's `flag` API
and comes back as a review item card; reports are rate-limited per reporter."""

from __future__ import annotations

from bot.local.stack import ADMIN, MODERATOR, OUTSIDER, LocalStack
from bot.moderation.alerts import render
from bot.util.clock import ManualClock
from tests.commands.cmdtest import assert_clean, requests_to
from tests.moderation.alerting import cards, post, text_of, warning


def queue_blocks(stack: LocalStack, result_key: str) -> list[dict[str, object]]:
    [answer] = [r for r in stack.slack.responses_for(result_key) if r.status == 200]
    return answer.blocks


async def test_queue_lists_open_alerts_oldest_first_with_their_buttons(
    stack: LocalStack, clock: ManualClock
) -> None:
    for user in ("sara", "john", "alice"):
        await post(stack, warning(user))
        await clock.advance(1)
    result = await stack.slash("/queue", MODERATOR)
    [answer] = stack.replies(result)
    assert answer == "3 open Stream alerts"
    blocks = queue_blocks(stack, result.response_key)
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]  # type: ignore[index]
    assert texts[0].startswith("*Open Stream alerts* · 3 · oldest first")
    assert [t.split(" in ")[0] for t in texts[1:]] == ["`sara`", "`john`", "`alice`"]
    actions = [b for b in queue_blocks(stack, result.response_key) if b["type"] == "actions"]
    assert len(actions) == 3
    ids = {e["action_id"] for e in actions[0]["elements"]}  # type: ignore[index]
    assert {render.KICK_ACTION, render.REVIEW_ACTION, render.MUTE_ACTION} <= ids


async def test_queue_is_paged(stack: LocalStack) -> None:
    for n in range(23):
        await post(stack, warning(f"user{n}"))
    result = await stack.slash("/queue", MODERATOR)
    blocks = queue_blocks(stack, result.response_key)
    assert "page 1 of 3" in blocks[0]["text"]["text"]  # type: ignore[index]
    nav = blocks[-1]
    assert [e["text"]["text"] for e in nav["elements"]] == ["Next"]  # type: ignore[index]
    assert stack.driver is not None
    clicked = await stack.driver.click(
        action_id=render.QUEUE_PAGE_ACTION, value="2", user_id=MODERATOR.user_id,
        user_name=MODERATOR.user_name, response_key=result.response_key,
    )
    await stack.idle()
    last = stack.slack.responses_for(clicked.response_key)[-1]
    assert "page 3 of 3" in last.text or "page 3 of 3" in str(last.blocks)
    result = await stack.slash("/queue 2", MODERATOR)
    assert "page 2 of 3" in str(queue_blocks(stack, result.response_key))


async def test_queue_needs_the_moderator_role_and_says_when_empty(stack: LocalStack) -> None:
    denied = await stack.slash("/queue", OUTSIDER)
    assert "You need the *moderator* role to use `/queue`" in stack.replies(denied)[0]
    empty = await stack.slash("/queue", MODERATOR)
    assert stack.replies(empty) == [":white_check_mark: No open Stream alerts."]
    bad = await stack.slash("/queue next", MODERATOR)
    [said] = stack.replies(bad)
    assert "the only argument is a page number" in said and "Usage: `/queue [page]`" in said


async def test_anyone_can_report_and_it_arrives_as_a_review_item(stack: LocalStack) -> None:
    result = await stack.slash("/report bob call-123 kept shouting slurs <!channel>", OUTSIDER)
    [said] = stack.replies(result)
    assert_clean(said)
    assert "Your report of `bob` in `default:call-123` went to the moderators" in said
    [flag] = requests_to(stack, "/moderation/flag")
    assert flag.body["entity_type"] == "stream:user"
    assert flag.body["entity_id"] == "bob"
    assert flag.body["reason"] == "kept shouting slurs <!channel>"
    assert flag.body["custom"]["slack_reporter"] == OUTSIDER.user_id
    [card] = cards(stack)
    shown = text_of(card)
    assert "Bob (`bob`) in `default:call-123`: flagged for review" in shown
    assert f"*Reported in Slack by* <@{OUTSIDER.user_id}>" in shown
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown
    queued = stack.emulator.moderation.items
    assert [i.entity_id for i in queued.values()] == ["bob"]


async def test_reports_are_rate_limited_per_reporter(stack: LocalStack, clock: ManualClock) -> None:
    for n in range(5):
        await stack.slash(f"/report bob call-123 report number {n}", OUTSIDER)
    refused = await stack.slash("/report bob call-123 one more", OUTSIDER)
    assert "try again in" in stack.replies(refused)[0]
    assert len(requests_to(stack, "/moderation/flag")) == 5
    other = await stack.slash("/report bob call-123 from someone else", ADMIN)
    assert "went to the moderators" in stack.replies(other)[0]
    await clock.advance(601)
    again = await stack.slash("/report bob call-123 later", OUTSIDER)
    assert "went to the moderators" in stack.replies(again)[0]


async def test_report_bad_input(stack: LocalStack) -> None:
    missing = await stack.slash("/report bob call-123", OUTSIDER)
    [said] = stack.replies(missing)
    assert "name the user, the call and what happened" in said
    assert "Usage: `/report &lt;user&gt; &lt;call&gt; &lt;reason…&gt;`" in said
    long = await stack.slash("/report bob call-123 " + "x" * 300, OUTSIDER)
    assert "Stream takes at most 255" in stack.replies(long)[0]
    unknown = await stack.slash("/report nobody-here call-123 rude", OUTSIDER)
    [said] = stack.replies(unknown)
    assert_clean(said)
    assert 'user "nobody-here" was not found' in said
    assert requests_to(stack, "/moderation/flag")[-1].body["entity_id"] == "nobody-here"


async def test_queue_takes_in_streams_open_items_that_never_arrived(stack: LocalStack) -> None:
    assert stack.callmod is not None
    url = stack.emulator.webhook_url
    stack.emulator.webhook_url = None  # callmod was down when Stream flagged sara
    item = stack.emulator.moderation.rule("sara", "default:call-123", ("nudity",))
    stack.emulator.webhook_url = url
    result = await stack.slash("/queue", MODERATOR)
    blocks = queue_blocks(stack, result.response_key)
    shown = str(blocks)
    assert "Sara (`sara`) in `default:call-123`: flagged for review" in shown
    assert cards(stack) == []  # taken in quietly: no card is posted for it
    kick = next(
        e for b in blocks if b["type"] == "actions" for e in b["elements"]  # type: ignore[attr-defined]
        if e["action_id"] == render.KICK_ACTION
    )
    assert stack.driver is not None
    clicked = await stack.driver.click(
        action_id=render.KICK_ACTION, value=kick["value"], user_id=MODERATOR.user_id,
        user_name=MODERATOR.user_name, response_key=stack.slack.new_response_key(),
    )
    await stack.idle()
    assert any("was kicked" in r.text for r in stack.slack.responses_for(clicked.response_key))
    [sent] = [r.body for r in requests_to(stack, "/moderation/submit_action")]
    assert (sent["action_type"], sent["item_id"]) == ("kick_user", item.id)
    again = await stack.slash("/queue", MODERATOR)
    assert stack.replies(again) == [":white_check_mark: No open Stream alerts."]


async def test_queue_says_when_streams_queue_cannot_be_read(stack: LocalStack) -> None:
    await post(stack, warning())
    stack.emulator.faults.server_error(503, times=None, path="/api/v2/moderation/review_queue")
    result = await stack.slash("/queue", MODERATOR)
    shown = str(queue_blocks(stack, result.response_key))
    assert "`sara` in `default:call-123`" in shown
    assert "review queue could not be read" in shown and "these are the alerts" in shown
