"""Overflow menus, plain-text names and the Block Kit JSON written directly (`bot.slack.blocks`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.blocks import (
    OPTION_TEXT_LIMIT,
    Button,
    Choice,
    Confirm,
    Menu,
    actions,
    button_row,
    element,
    fields_section,
    plain,
    section,
    to_dicts,
)


def menu(n: int, value: str = "v") -> Menu:
    return Menu("callmod_run", tuple(Choice(f"option {i}", value) for i in range(n)))


@pytest.mark.parametrize("n", [2, 5])
def test_a_menu_of_2_to_5_options(n: int) -> None:
    shaped = element(menu(n))
    assert shaped["type"] == "overflow" and len(shaped["options"]) == n


@pytest.mark.parametrize("n", [0, 1, 6])
def test_a_menu_outside_2_to_5_options_is_a_bug(n: int) -> None:
    with pytest.raises(ValueError, match="2 to 5"):
        element(menu(n))


def test_option_text_is_cut_and_a_long_value_is_a_bug() -> None:
    long_text = Menu("m", (Choice("x" * 100, "v"), Choice("y", "v")))
    assert len(element(long_text)["options"][0]["text"]["text"]) == OPTION_TEXT_LIMIT
    with pytest.raises(ValueError, match="too long"):
        element(menu(2, "v" * 2001))


def test_the_json_buttons_match_slack_sdks() -> None:
    button = Button(
        "Ban", "callmod_run:b1", "ban sara 1w", "danger", Confirm("Sure?", "Ban?", "Ban")
    )
    assert button_row([button]) == to_dicts([actions([button])])[0]
    refresh = Button("Refresh", "callmod_roster_page", "{}")
    assert to_dicts([section("h", refresh)])[0]["accessory"] == element(refresh)


def test_fields_section_puts_the_name_in_plain_text() -> None:
    block = fields_section(plain("*Sara* <!channel>", 60), "`sara`", menu(2))
    assert block["fields"][0] == {
        "type": "plain_text",
        "text": "*Sara* &lt;!channel&gt;",
        "emoji": False,
    }
    assert block["fields"][1] == {"type": "mrkdwn", "text": "`sara`"}
    assert block["accessory"]["type"] == "overflow"
    assert to_dicts([block]) == [block]


@given(st.text(max_size=400), st.integers(min_value=2, max_value=80))
def test_plain_is_one_line_escaped_and_cut(text: str, limit: int) -> None:
    shown = plain(text, limit)
    assert "<" not in shown and ">" not in shown
    assert "\n" not in shown and "\t" not in shown
    unescaped = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert len(unescaped) <= limit
