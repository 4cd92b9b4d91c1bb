from pathlib import Path

import yaml

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
