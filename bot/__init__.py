"""callmod: Slack moderation for Stream Video calls."""

__version__ = "0.1.0"
