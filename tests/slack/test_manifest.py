from pathlib import Path

import pytest
import yaml

from bot.__main__ import main
from bot.slack.manifest import manifest_yaml
from commands import build_registry

ROOT = Path(__file__).resolve().parents[2]


def test_committed_manifest_matches_the_registry() -> None:
    committed = (ROOT / "manifest.yml").read_text()
    assert committed == manifest_yaml(build_registry()), (
        "manifest.yml is out of date: run `make manifest`"
    )


def test_manifest_lists_every_command_within_slack_limits() -> None:
    registry = build_registry()
    data = yaml.safe_load(manifest_yaml(registry))
    commands = {c["command"]: c for c in data["features"]["slash_commands"]}
    assert set(commands) == {c.slash for c in registry} | {"/mod"}
    assert len(commands) <= 50
    for name, entry in commands.items():
        assert len(name) <= 32
        assert entry["description"] and entry["usage_hint"] is not None
        assert entry["url"].endswith("/slack/events")
    assert data["settings"]["interactivity"]["is_enabled"] is True
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "usergroups:read"} <= scopes


def test_socket_mode_manifest_has_no_request_urls() -> None:
    data = yaml.safe_load(manifest_yaml(build_registry(), socket_mode=True))
    assert data["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in data["settings"]["interactivity"]
    assert all("url" not in c for c in data["features"]["slash_commands"])


def test_prefixed_manifest_renames_every_command_but_mod() -> None:
    registry = build_registry()
    data = yaml.safe_load(manifest_yaml(registry, prefix="cm-"))

    commands = [c["command"] for c in data["features"]["slash_commands"]]
    assert commands == [f"/cm-{c.name}" for c in registry] + ["/mod"]
    assert "/cm-kick" in commands and "/cm-mute" in commands
    assert "/kick" not in commands and "/mute" not in commands


def test_the_longest_allowed_prefix_keeps_every_name_within_32_characters() -> None:
    # MOD_COMMAND_PREFIX takes at most 20 characters; every command name must still fit.
    registry = build_registry()
    data = yaml.safe_load(manifest_yaml(registry, prefix="p" * 20))

    assert all(len(c["command"]) <= 32 for c in data["features"]["slash_commands"])


def test_a_prefix_that_makes_a_name_too_long_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than Slack's 32 characters"):
        manifest_yaml(build_registry(), prefix="p" * 30)


def test_manifest_cli_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--prefix", "cm-"]) == 0
    assert "command: /cm-kick" in capsys.readouterr().out

    assert main(["manifest", "--prefix", "p" * 30]) == 2
    err = capsys.readouterr().err
    assert err.startswith("callmod: --prefix: ") and err.count("\n") == 1


def test_manifest_declares_the_shortcuts_home_tab_and_its_event() -> None:
    data = yaml.safe_load(manifest_yaml(build_registry()))

    shortcuts = {s["callback_id"]: s for s in data["features"]["shortcuts"]}
    assert shortcuts["callmod_moderate_call"]["type"] == "global"
    assert shortcuts["callmod_moderate_message"]["type"] == "message"
    for shortcut in shortcuts.values():
        assert len(shortcut["name"]) <= 24 and len(shortcut["description"]) <= 80
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    events = data["settings"]["event_subscriptions"]
    assert events["bot_events"] == ["app_home_opened"]
    assert events["request_url"].endswith("/slack/events")
    assert "commands" in data["oauth_config"]["scopes"]["bot"]  # what shortcuts need

    socket = yaml.safe_load(manifest_yaml(build_registry(), socket_mode=True))
    assert "request_url" not in socket["settings"]["event_subscriptions"]
