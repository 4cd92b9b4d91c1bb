"""Slack rendering (`bot.slack.blocks`): mrkdwn escaping, code spans, date tokens, limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.slack.blocks import (
    BUTTON_TEXT_LIMIT,
    BUTTON_VALUE_LIMIT,
    MAX_ACTIONS,
    MAX_BLOCKS,
    SECTION_TEXT_LIMIT,
    Button,
    actions,
    code,
    context,
    date_token,
    decode_value,
    encode_value,
    escape,
    mention,
    section,
    to_dicts,
    truncate,
)
from bot.slack.blocks import unescape as slack_unescape

ENTITY = re.compile(r"&(amp|lt|gt);")
# Text a user could type, rich in the characters that matter to mrkdwn.
SLACKISH = st.lists(
    st.sampled_from([*"<>&!@#|`*_~ \n\"'abc;é\u0000", "&amp;", "&lt;", "<!channel>", "<@U1|x>"]),
    max_size=60,
).map("".join) | st.text(max_size=200)


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# --- escape -------------------------------------------------------------------------------


def test_escape_examples() -> None:
    assert escape("<!channel> & <http://x|y>") == "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
    assert escape("&amp;") == "&amp;amp;"  # user text is never trusted to be escaped already
    assert escape('it\'s "fine" *bold* _it_ `c`') == 'it\'s "fine" *bold* _it_ `c`'


@given(SLACKISH)
@example("<!channel>")
@example("&lt;")
def test_escape_leaves_no_control_characters(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    # every & starts one of the three entities
    assert "&" not in ENTITY.sub("", escaped)
    assert unescape(escaped) == text


@given(SLACKISH)
def test_escape_touches_only_the_three_characters(text: str) -> None:
    escaped = escape(text)
    assert ENTITY.sub("", escaped) == "".join(c for c in text if c not in "&<>")
    assert len(escaped) == len(text) + 4 * text.count("&") + 3 * (text.count("<") + text.count(">"))


# --- unescape (what Slack sends us) ---------------------------------------------------------


def test_unescape_decodes_the_three_entities_once() -> None:
    assert slack_unescape("rock &amp; roll &lt;3 &gt;") == "rock & roll <3 >"
    assert slack_unescape("&amp;lt;") == "&lt;"  # the user typed `&lt;`
    assert slack_unescape("&quot; &#39; &nbsp; &AMP; &amp") == "&quot; &#39; &nbsp; &AMP; &amp"


@given(SLACKISH)
@example("&lt;")
@example("&amp;amp;")
def test_unescape_inverts_slacks_escaping(text: str) -> None:
    assert slack_unescape(escape(text)) == text


# --- code ---------------------------------------------------------------------------------


@given(SLACKISH, st.integers(min_value=2, max_value=120))
@example("```", 80)
@example("a`b", 80)
def test_code_span_never_contains_a_backtick(text: str, limit: int) -> None:
    span = code(text, limit=limit)
    assert span.startswith("`") and span.endswith("`")
    inner = span[1:-1]
    assert "`" not in inner
    assert "<" not in inner and ">" not in inner and "&" not in ENTITY.sub("", inner)
    assert "\n" not in inner and all(c.isprintable() for c in inner)
    assert len(unescape(inner)) <= limit


def test_code_examples() -> None:
    assert code("sara") == "`sara`"
    assert code("a`b<c>") == "`ab&lt;c&gt;`"
    assert code("x" * 100, limit=10) == "`" + "x" * 9 + "…`"
    assert code("line\nbreak") == "`linebreak`"


# --- dates, mentions, truncation ----------------------------------------------------------


def test_date_token_from_float_and_datetime() -> None:
    moment = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)
    token = date_token(moment)
    assert token == "<!date^1800007200^{date_short_pretty} {time}|2027-01-15 10:00 UTC>"
    assert date_token(moment.timestamp()) == token
    assert date_token(1800007200.9, "{date_short}") == (
        "<!date^1800007200^{date_short}|2027-01-15 10:00 UTC>"
    )


def test_mention() -> None:
    assert mention("U0ADMIN01") == "<@U0ADMIN01>"


@given(st.text(max_size=50), st.integers(min_value=1, max_value=60))
def test_truncate(text: str, limit: int) -> None:
    cut = truncate(text, limit)
    assert len(cut) <= limit
    assert cut == text if len(text) <= limit else cut == text[: limit - 1] + "…"


# --- Block Kit shapes and limits ----------------------------------------------------------


def test_section_and_context_are_cut_to_the_section_limit() -> None:
    long = "x" * (SECTION_TEXT_LIMIT + 10)
    assert len(section(long).to_dict()["text"]["text"]) == SECTION_TEXT_LIMIT
    assert section("*hi*").to_dict() == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*hi*"},
    }
    assert context("c").to_dict()["elements"] == [{"type": "mrkdwn", "text": "c"}]


def test_actions_keeps_at_most_25_buttons_with_short_text() -> None:
    buttons = [Button("b" * 100, f"act_{i}", str(i)) for i in range(MAX_ACTIONS + 5)]
    block = actions(buttons, block_id="ban:sara").to_dict()
    assert block["block_id"] == "ban:sara"
    assert len(block["elements"]) == MAX_ACTIONS
    first = block["elements"][0]
    assert len(first["text"]["text"]) <= BUTTON_TEXT_LIMIT
    assert (first["action_id"], first["value"]) == ("act_0", "0")


def test_button_style() -> None:
    [element] = actions([Button("Unban", "callmod_unban", "sara", "danger")]).to_dict()["elements"]
    assert element["style"] == "danger"


def test_to_dicts_keeps_at_most_50_blocks() -> None:
    assert len(to_dicts([section(str(i)) for i in range(MAX_BLOCKS + 3)])) == MAX_BLOCKS


@given(
    st.dictionaries(
        st.text(max_size=10),
        st.none() | st.booleans() | st.integers() | st.text(max_size=50),
        max_size=5,
    )
)
def test_button_values_round_trip(data: dict[str, object]) -> None:
    value = encode_value(data)
    assert len(value) <= BUTTON_VALUE_LIMIT
    assert decode_value(value) == data


def test_button_value_limits_and_shape() -> None:
    with pytest.raises(ValueError, match="too long"):
        encode_value({"text": "x" * BUTTON_VALUE_LIMIT})
    with pytest.raises(ValueError):
        decode_value("[1, 2]")
    with pytest.raises(ValueError):
        decode_value("not json")
