"""MOD_REASON_PRESETS (issue 14, point 2): the preset file's loader and the typed `#key` reason,
without a server. End-to-end use is in tests/commands/test_cmd_presets.py."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.model import Role
from bot.core.parsing import UsageError
from bot.core.presets import PresetBook, ReasonPreset, load_presets, presets_help, reason_from
from bot.settings import ConfigError, Settings

PRESETS = [
    {"key": "spam", "label": "Spam", "reason": "Spamming the call", "duration": "2h"},
    {"key": "slur", "label": "Hate speech", "reason": "Slurs", "min_role": "admin"},
    {"key": "noise", "label": "Noise", "reason": "Loud background noise"},
]
YAML = """\
presets:
  - key: spam
    label: Spam
    reason: Spamming the call
    duration: 2h
  - key: "#slur"
    label: Hate speech
    reason: Slurs
    min_role: Admin
"""


def settings(path: Path | None = None, *, require: bool = False) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        mod_reason_presets=str(path) if path else None,
        mod_require_reason=require,
    )


def write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_a_json_list_of_presets_loads(tmp_path: Path) -> None:
    book = load_presets(str(write(tmp_path, "presets.json", PRESETS)))

    assert [p.key for p in book.presets] == ["spam", "slur", "noise"]
    spam = book.get("spam")
    assert spam == ReasonPreset(
        key="spam", label="Spam", reason="Spamming the call", duration=timedelta(hours=2)
    )
    assert spam is not None and spam.min_role is Role.MODERATOR
    slur, noise = book.get("slur"), book.get("noise")
    assert slur is not None and slur.min_role is Role.ADMIN
    assert noise is not None and noise.duration is None
    assert [p.key for p in book.usable_by(Role.MODERATOR)] == ["spam", "noise"]


def test_yaml_with_a_presets_key_loads(tmp_path: Path) -> None:
    book = load_presets(str(write(tmp_path, "presets.yaml", YAML)))

    assert [(p.key, p.min_role) for p in book.presets] == [
        ("spam", Role.MODERATOR),
        ("slur", Role.ADMIN),
    ]
    wrapped = load_presets(str(write(tmp_path, "wrapped.json", {"presets": PRESETS})))
    assert len(wrapped.presets) == 3


def test_no_file_means_no_presets() -> None:
    assert load_presets(None) == PresetBook()
    assert load_presets("") == PresetBook()


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("p.json", "[{", "p.json is not valid JSON"),
        ("p.yaml", "- key: [", "p.yaml is not valid YAML"),
        ("p.json", "[]", "must hold a non-empty list of presets"),
        ("p.json", {"spam": "x"}, "must hold a non-empty list of presets"),
        ("p.json", [{"key": "spam", "label": "Spam"}], "preset 1 in"),
        ("p.json", [{**PRESETS[0], "key": "Bad Key"}], "must be lower-case letters"),
        ("p.json", [{**PRESETS[0], "duration": "2 hours"}], "is not a duration"),
        ("p.json", [{**PRESETS[0], "duration": "0m"}], "(duration)"),
        ("p.json", [{**PRESETS[0], "min_role": "owner"}], "must be moderator or admin"),
        ("p.json", [{**PRESETS[0], "colour": "red"}], "(colour)"),
        ("p.json", [{**PRESETS[0], "reason": "x" * 501}], "(reason)"),
        ("p.json", [PRESETS[0], PRESETS[0]], "preset key #spam is used twice"),
    ],
)
def test_a_bad_file_is_one_config_error_line_naming_the_variable(
    tmp_path: Path, name: str, content: object, says: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(ConfigError) as caught:
        load_presets(str(path))
    message = str(caught.value)
    assert message.startswith("MOD_REASON_PRESETS: ")
    assert says in message
    assert "\n" not in message


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^MOD_REASON_PRESETS: cannot read .*missing\.json"):
        load_presets(str(tmp_path / "missing.json"))


def test_typed_reasons_and_presets(tmp_path: Path) -> None:
    configured = settings(write(tmp_path, "presets.json", PRESETS))

    assert reason_from([], configured, "/ban sara 2h spamming").text is None
    assert reason_from(["rude", "again"], configured, "").text == "rude again"
    chosen = reason_from(["#spam"], configured, "")
    assert (chosen.text, chosen.role) == ("Spamming the call", Role.MODERATOR)
    assert chosen.preset is not None and chosen.preset.key == "spam"
    # Words after the preset are appended; the key is matched in any case.
    assert reason_from(["#SPAM", "in", "chat"], configured, "").text == (
        "Spamming the call — in chat"
    )
    assert reason_from(["#slur"], configured, "").role is Role.ADMIN
    # Only the first word names a preset; a `#` later is text.
    assert reason_from(["spam", "#noise"], configured, "").text == "spam #noise"
    with pytest.raises(UsageError, match=r"`#nope` is not a reason preset \(known: `#spam`, "):
        reason_from(["#nope"], configured, "")


def test_a_required_reason_is_refused_with_the_example(tmp_path: Path) -> None:
    configured = settings(write(tmp_path, "presets.json", PRESETS), require=True)
    with pytest.raises(UsageError) as caught:
        reason_from([], configured, "/ban sara 2h spamming")
    assert str(caught.value) == (
        "A reason is required (MOD_REQUIRE_REASON); add one after the user, e.g. "
        "`/ban sara 2h spamming` or `#spam`"
    )
    assert reason_from(["#noise"], configured, "").text == "Loud background noise"
    with pytest.raises(UsageError, match=r"e\.g\. `/kick x y z`$"):
        reason_from([], settings(require=True), "/kick x y z")


def test_help_lists_the_presets_a_role_may_use(tmp_path: Path) -> None:
    configured = settings(write(tmp_path, "presets.json", PRESETS))
    line = presets_help(configured, Role.MODERATOR)
    assert line is not None
    assert "`#spam` Spam" in line and "`#noise` Noise" in line and "#slur" not in line
    assert "`#slur` Hate speech" in (presets_help(configured, Role.ADMIN) or "")
    assert presets_help(settings(), Role.ADMIN) is None
