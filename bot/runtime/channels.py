"""MOD_LOG_CHANNEL and MOD_REQUESTS_CHANNEL turned into channel ids before callmod is built.

Slack's `chat.update` takes only an id, so a name (`#mod-log`) would let every edit of a
notification fail. `resolve_channels` asks Slack once, at start-up, and returns settings holding
ids; a channel that cannot be found, is archived, or that the bot is not in is refused with one
`ConfigError` line naming the variable (`python -m bot serve` exits 2).
"""

from __future__ import annotations

import logging

from bot.settings import ConfigError, Settings
from bot.slack.channels import ChannelUnusable, SlackTokenRefused, usable_channel
from bot.slack.poster import slack_client

log = logging.getLogger("callmod")


async def resolve_channels(settings: Settings) -> Settings:
    """Settings whose channel variables hold channel ids (unchanged when already resolved)."""
    token = settings.slack_bot_token
    if token is None or settings.mod_log_channel is None:
        return settings
    client = slack_client(token.get_secret_value(), settings.slack_api_url)
    resolved: dict[str, str] = {}
    changes: dict[str, object] = {}
    for variable, value in (
        ("MOD_LOG_CHANNEL", settings.mod_log_channel),
        ("MOD_REQUESTS_CHANNEL", settings.mod_requests_channel),
        ("MOD_ALERTS_CHANNEL", settings.mod_alerts_channel),
    ):
        if value is None:
            continue
        if value not in resolved:
            try:
                channel = await usable_channel(client, value)
            except SlackTokenRefused as refused:
                raise ConfigError(f"SLACK_BOT_TOKEN: {refused}") from None
            except ChannelUnusable as unusable:
                raise ConfigError(f"{variable}={value}: {unusable}") from None
            resolved[value] = channel.id
            if channel.id != value:
                log.info("%s %s is channel %s", variable, value, channel.id)
        changes[variable.lower()] = resolved[value]
    return settings.with_values(**changes)
