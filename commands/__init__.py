"""Slash-command families; each module declares its commands in the registry."""
