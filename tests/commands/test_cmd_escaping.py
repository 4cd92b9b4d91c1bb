"""Slack sends `&`, `<` and `>` in slash-command text as `&amp;`, `&lt;` and `&gt;` (the driver
sends them exactly so); callmod decodes them once, at the edge, before parsing, so Stream stores
what the moderator typed and limits count the characters the moderator typed."""

from __future__ import annotations

import pytest

from bot.core.presets import REASON_LIMIT
from bot.local.stack import LocalStack

from .cmdtest import ban_notifications, blocks_text, slash

BY_MARIA = "(by @maria via Slack)"


@pytest.mark.parametrize("line", ["/ban bob 2h rock & roll <3", "/mod ban bob 2h rock & roll <3"])
async def test_reason_is_stored_as_typed_and_shown_escaped_once(
    stack: LocalStack, line: str
) -> None:
    out = await slash(stack, line)

    assert stack.emulator.state.bans["bob"].reason == f"rock & roll <3 {BY_MARIA}"
    [notification] = ban_notifications(stack, "bob")
    shown = blocks_text(notification.blocks)
    assert "Reason: rock &amp; roll &lt;3" in shown
    assert "&amp;amp;" not in shown and "&amp;lt;" not in shown
    assert out.reply.startswith(":hammer: `bob` is banned for 2h")


async def test_entities_the_moderator_typed_are_kept_literally(stack: LocalStack) -> None:
    # Typed `&lt;` arrives as `&amp;lt;`: decoded once it is `&lt;` again, not `<`.
    await slash(stack, "/ban bob 2h see &lt;here&gt; & there")

    assert stack.emulator.state.bans["bob"].reason == f"see &lt;here&gt; & there {BY_MARIA}"


async def test_a_reason_of_exactly_the_limit_counts_decoded_characters(stack: LocalStack) -> None:
    reason = ("a&b<c>" * REASON_LIMIT)[:REASON_LIMIT]
    assert len(reason.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")) > 1000

    out = await slash(stack, f"/ban bob 2h {reason}")

    assert out.reply.startswith(":hammer: `bob` is banned"), out.reply
    assert stack.emulator.state.bans["bob"].reason == f"{reason} {BY_MARIA}"


async def test_one_character_over_the_limit_is_refused(stack: LocalStack) -> None:
    reason = "&" * (REASON_LIMIT + 1)

    out = await slash(stack, f"/ban bob 2h {reason}")

    assert out.reply.startswith(f":warning: the reason is longer than {REASON_LIMIT} characters")
    assert out.writes == []


async def test_a_mention_typed_as_text_is_never_a_ping(stack: LocalStack) -> None:
    out = await slash(stack, "/ban bob 2h <!channel> & <@U0ADMIN01>")

    assert stack.emulator.state.bans["bob"].reason == f"<!channel> & <@U0ADMIN01> {BY_MARIA}"
    [notification] = ban_notifications(stack, "bob")
    shown = blocks_text(notification.blocks)
    assert "Reason: &lt;!channel&gt; &amp; &lt;@U0ADMIN01&gt;" in shown
    assert "<!channel>" not in shown and "<!channel>" not in out.reply
