"""A call as the emulator keeps it: its settings, and the people connected to it.

A participant is one connection (a device): one user may be connected twice. A call's first join
starts a call session (with its own id); the session ends when the last participant leaves or
the call is ended, and the next join starts a new one. Every session keeps who was in it, when,
and what they published, for the call-stats endpoint.

`Call.participants` is the set of user ids connected now, as a live view: `in`, iteration and
`len` read the connections; `add` connects a user with no tracks and `discard` disconnects all
of a user's devices, without the checks `EmulatorState.join` makes (a test setting the scene).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, MutableSet
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.local.emulator.errors import Invalid
from bot.util.clock import Clock, SystemClock

_S = TypeVar("_S")

TRACKS: tuple[str, ...] = ("audio", "video", "screenshare", "screenshare_audio")
# The permission a participant needs to publish each track.
TRACK_PERMISSION: Mapping[str, str] = {
    "audio": "send-audio",
    "video": "send-video",
    "screenshare": "screenshare",
    "screenshare_audio": "screenshare",
}


@dataclass
class ScreensharingSettings:
    enabled: bool = True
    access_request_enabled: bool = False


@dataclass
class Kick:
    user_id: str
    kicked_by: str | None
    at: float
    blocked: bool


@dataclass
class Participant:
    """One connection to a call session."""

    user_id: str
    user_session_id: str
    role: str
    joined_at: float
    tracks: set[str] = field(default_factory=set)
    left_at: float | None = None

    @property
    def live(self) -> bool:
        return self.left_at is None


@dataclass
class CallSession:
    id: str
    started_at: float
    ended_at: float | None = None
    # Everyone who connected during the session, in order, live or gone.
    participants: list[Participant] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.ended_at is None

    def connected(self) -> list[Participant]:
        return [p for p in self.participants if p.live]

    def find(self, user_session_id: str) -> Participant | None:
        return next((p for p in self.participants if p.user_session_id == user_session_id), None)


@dataclass
class CallEvent:
    """A custom event sent to the call (`POST …/event`)."""

    user_id: str
    custom: dict[str, Any]
    created_at: float


@dataclass
class Call:
    type: str
    id: str
    members: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)
    permissions: dict[str, set[str]] = field(default_factory=dict)
    muted: dict[str, set[str]] = field(default_factory=dict)
    screensharing: ScreensharingSettings = field(default_factory=ScreensharingSettings)
    kicked: list[Kick] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    created_by: str | None = None
    ended_at: float | None = None
    sessions: list[CallSession] = field(default_factory=list)
    events: list[CallEvent] = field(default_factory=list)
    clock: Clock = field(default_factory=SystemClock, repr=False, compare=False)

    @property
    def cid(self) -> str:
        return f"{self.type}:{self.id}"

    @property
    def participants(self) -> ParticipantIds:
        return ParticipantIds(self)

    @property
    def session(self) -> CallSession | None:
        """The latest session, live or ended; None before anyone ever joined."""
        return self.sessions[-1] if self.sessions else None

    @property
    def live_session(self) -> CallSession | None:
        session = self.session
        return session if session is not None and session.live else None

    @property
    def current_session_id(self) -> str:
        session = self.session
        return session.id if session is not None else ""

    @property
    def ongoing(self) -> bool:
        return self.ended_at is None and bool(self.connected())

    def find_session(self, session_id: str) -> CallSession | None:
        return next((s for s in self.sessions if s.id == session_id), None)

    def connected(self, user_id: str | None = None) -> list[Participant]:
        """The live connections, oldest first (of one user, when given)."""
        session = self.live_session
        if session is None:
            return []
        return [p for p in session.connected() if user_id is None or p.user_id == user_id]

    def connect(self, user_id: str, tracks: Iterable[str] = (), role: str = "user") -> Participant:
        """A new connection, starting a session when none is live. No rule is checked here."""
        now = self.clock.time()
        session = self.live_session
        if session is None:
            session = CallSession(id=str(uuid.uuid4()), started_at=now)
            self.sessions.append(session)
        participant = Participant(
            user_id=user_id,
            user_session_id=str(uuid.uuid4()),
            role=role,
            joined_at=now,
            tracks=set(tracks),
        )
        session.participants.append(participant)
        self.updated_at = now
        return participant

    def disconnect(self, user_id: str, user_session_id: str | None = None) -> list[Participant]:
        """Close the user's connections (or one of them); the session ends with the last."""
        gone = [
            p
            for p in self.connected(user_id)
            if user_session_id is None or p.user_session_id == user_session_id
        ]
        now = self.clock.time()
        for participant in gone:
            participant.left_at = now
        session = self.live_session
        if gone and session is not None and not session.connected():
            session.ended_at = now
        if gone:
            self.updated_at = now
        return gone

    def end(self) -> list[Participant]:
        """Mark the call ended for everyone: all leave and the session ends."""
        now = self.clock.time()
        gone = self.connected()
        for participant in gone:
            participant.left_at = now
        session = self.live_session
        if session is not None:
            session.ended_at = now
        self.ended_at = self.updated_at = now
        return gone


class ParticipantIds(MutableSet[str]):
    """The ids of the users connected to a call now (see the module docstring)."""

    def __init__(self, call: Call) -> None:
        self._call = call

    def __contains__(self, user_id: object) -> bool:
        return any(p.user_id == user_id for p in self._call.connected())

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(p.user_id for p in self._call.connected()))

    def __len__(self) -> int:
        return len({p.user_id for p in self._call.connected()})

    def add(self, user_id: str) -> None:
        if user_id not in self:
            self._call.connect(user_id)

    def discard(self, user_id: str) -> None:
        self._call.disconnect(user_id)

    @classmethod
    def _from_iterable(cls, ids: Iterable[_S]) -> AbstractSet[_S]:
        # `view - {...}` and the other set operators answer a plain set, not another view.
        return set(ids)

    def __repr__(self) -> str:
        return f"ParticipantIds({sorted(self)!r})"


def check_tracks(tracks: Iterable[str]) -> set[str]:
    wanted = set(tracks)
    unknown = sorted(wanted - set(TRACKS))
    if unknown:
        raise Invalid.field(
            "tracks", f"{unknown[0]!r} is not a track (use {', '.join(TRACKS)})"
        )
    return wanted


def check_may_publish(cid: str, user_id: str, tracks: set[str], held: set[str]) -> None:
    for track in sorted(tracks):
        if TRACK_PERMISSION[track] not in held:
            raise Invalid.field(
                "tracks",
                f'user "{user_id}" may not publish {track} in call {cid} '
                f"(no {TRACK_PERMISSION[track]} permission)",
            )
