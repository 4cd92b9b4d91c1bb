"""MOD_ALERTS_CHANNEL and MOD_ALERT_ESCALATE_AFTER: defaults, and a bad value stops start-up with
one line naming the variable (issue 15, points 2 and 3)."""

from __future__ import annotations

import pytest

from bot.settings import load_settings
from tests.test_settings import problem, slack_mode


def test_alerts_go_to_the_requests_channel_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    slack_mode(monkeypatch)
    assert load_settings().alerts_channel == "C0MODLOG"
    monkeypatch.setenv("MOD_REQUESTS_CHANNEL", "C0MODREQ")
    assert load_settings().alerts_channel == "C0MODREQ"
    monkeypatch.setenv("MOD_ALERTS_CHANNEL", "#mod-alerts")
    settings = load_settings()
    assert settings.alerts_channel == "#mod-alerts"
    assert settings.mod_alert_escalate_after == 600.0


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MOD_ALERTS_CHANNEL", "#Mod Alerts", "is not a channel id or name"),
        ("MOD_ALERT_ESCALATE_AFTER", "0", "a number of seconds greater than 0"),
        ("MOD_ALERT_ESCALATE_AFTER", "soon", "a number of seconds greater than 0"),
    ],
)
def test_bad_alert_settings_are_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    slack_mode(monkeypatch)
    monkeypatch.setenv(variable, value)
    message = problem()
    assert message.startswith(f"{variable}: "), message
    assert says in message
