"""An embedded Stream Video server (DESIGN.md §3) for the console demo and the tests."""

from bot.local.emulator.emulator import StreamEmulator
from bot.local.emulator.errors import Invalid, NotFound, StreamApiError
from bot.local.emulator.faults import Fault, FaultInjector
from bot.local.emulator.server import RecordedRequest
from bot.local.emulator.state import (
    Ban,
    Call,
    CallEvent,
    CallSession,
    EmulatorState,
    Kick,
    Participant,
    PlantedBan,
    ScreensharingSettings,
    User,
)
from bot.local.emulator.webhooks import WebhookDelivery, sign_webhook

__all__ = [
    "Ban",
    "Call",
    "CallEvent",
    "CallSession",
    "EmulatorState",
    "Fault",
    "FaultInjector",
    "Invalid",
    "Kick",
    "NotFound",
    "Participant",
    "PlantedBan",
    "RecordedRequest",
    "ScreensharingSettings",
    "StreamApiError",
    "StreamEmulator",
    "User",
    "WebhookDelivery",
    "sign_webhook",
]
