"""Stream Video moderation API: the client, its values and its one error type."""

from bot.stream.client import StreamClient
from bot.stream.errors import StreamAPIError
from bot.stream.live import CallPage, LiveCall, Participant, Roster
from bot.stream.models import Ban, BanPage, CallRef, Permission, StreamUser, Track, UserBlock

__all__ = [
    "Ban",
    "BanPage",
    "CallPage",
    "CallRef",
    "LiveCall",
    "Participant",
    "Permission",
    "Roster",
    "StreamAPIError",
    "StreamClient",
    "StreamUser",
    "Track",
    "UserBlock",
]
