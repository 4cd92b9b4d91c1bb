"""Stream Video moderation API: the client, its values and its one error type."""

from bot.stream.client import StreamClient
from bot.stream.errors import StreamAPIError
from bot.stream.models import Ban, BanPage, CallRef, Permission, StreamUser, Track, UserBlock

__all__ = [
    "Ban",
    "BanPage",
    "CallRef",
    "Permission",
    "StreamAPIError",
    "StreamClient",
    "StreamUser",
    "Track",
    "UserBlock",
]
