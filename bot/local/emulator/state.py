"""The emulator's world: users, calls, bans and user blocks, and the rules that change them.

Plain dataclasses, readable and writable from tests. Mutations check what Stream checks and raise
`NotFound` / `Invalid`; nothing here knows about HTTP or webhooks (the server and
`StreamEmulator` send those). Time comes from the injected clock, so a ban expires when the test
moves the clock, not when the wall clock does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.local.emulator.calls import (
    TRACK_PERMISSION,
    TRACKS,
    Call,
    CallEvent,
    CallSession,
    Kick,
    Participant,
    ScreensharingSettings,
    check_may_publish,
    check_tracks,
)
from bot.local.emulator.errors import Invalid, NotFound
from bot.local.emulator.ids import check_user_id, split_cid
from bot.local.emulator.users import ROLE, PartialUpdate, User, apply_partial, check_partial
from bot.util.clock import Clock, SystemClock

__all__ = [
    "CALL_PERMISSIONS",
    "TRACKS",
    "Ban",
    "Call",
    "CallEvent",
    "CallSession",
    "EmulatorState",
    "Kick",
    "Participant",
    "PlantedBan",
    "ScreensharingSettings",
    "User",
]


CALL_PERMISSIONS: frozenset[str] = frozenset({"send-audio", "send-video", "screenshare"})
DEFAULT_MEMBER_PERMISSIONS: frozenset[str] = CALL_PERMISSIONS
# "the total payload for these events is limited to 5KB" (Stream's custom events guide)
MAX_CUSTOM_EVENT_BYTES = 5 * 1024
MAX_PARTIAL_UPDATES = 100

DEMO_USERS: tuple[tuple[str, str], ...] = (
    ("sara", "Sara"),
    ("john", "John"),
    ("alice", "Alice"),
    ("bob", "Bob"),
)
DEMO_CALL = "default:call-123"
# Who publishes what in the demo call, so that a roster shows something (alice and bob listen).
DEMO_TRACKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sara", ("audio", "video")),
    ("john", ("audio",)),
)


@dataclass
class Ban:
    target: str
    banned_by: str
    reason: str | None
    created_at: float
    expires_at: float | None = None
    ip_ban: bool = False

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass
class PlantedBan:
    """A `query_banned_users` entry answered exactly as planted, for tests of what a client does
    with entries it cannot read (the ban of a hard-deleted user comes back with `"user": null`).

    It is listed, filtered and paged among the real bans by these fields; nothing else (banning,
    unbanning, webhooks) sees it.
    """

    entry: dict[str, Any]
    created_at: float
    target: str | None = None
    banned_by: str | None = None
    reason: str | None = None
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass
class EmulatorState:
    clock: Clock = field(default_factory=SystemClock)
    users: dict[str, User] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    bans: dict[str, Ban] = field(default_factory=dict)
    planted_bans: list[PlantedBan] = field(default_factory=list)
    user_blocks: dict[str, dict[str, float]] = field(default_factory=dict)
    ban_counts: dict[str, int] = field(default_factory=dict)

    def now(self) -> float:
        return self.clock.time()

    # --- set-up helpers --------------------------------------------------------------------

    def add_user(self, id: str, name: str | None = None, role: str = "user") -> User:
        check_user_id(id, "id")
        now = self.now()
        user = User(id=id, name=name, role=role, created_at=now, updated_at=now)
        self.users[id] = user
        return user

    def add_call(
        self,
        cid: str,
        members: Iterable[str] = (),
        participants: Iterable[str] | None = None,
        *,
        created_by: str | None = None,
    ) -> Call:
        """Create a call; members (and participants, default: the members, connected now with
        no tracks) are created as users when missing, and get the default permissions. The
        creator defaults to the first member."""
        call_type, call_id = split_cid(cid)
        member_ids = list(dict.fromkeys(members))
        participant_ids = list(dict.fromkeys(member_ids if participants is None else participants))
        creator = created_by if created_by is not None else next(iter(member_ids), None)
        everyone = dict.fromkeys([*member_ids, *participant_ids, *([creator] if creator else [])])
        for user_id in everyone:
            if user_id not in self.users:
                self.add_user(user_id, name=user_id.capitalize())
        now = self.now()
        call = Call(
            type=call_type,
            id=call_id,
            members=set(member_ids),
            permissions={
                u: set(DEFAULT_MEMBER_PERMISSIONS) for u in [*member_ids, *participant_ids]
            },
            created_at=now,
            updated_at=now,
            created_by=creator,
            clock=self.clock,
        )
        for user_id in participant_ids:
            call.connect(user_id)
        self.calls[cid] = call
        return call

    def load_demo_data(self) -> None:
        for user_id, name in DEMO_USERS:
            self.add_user(user_id, name)
        self.add_call(DEMO_CALL, members=[user_id for user_id, _ in DEMO_USERS])
        for user_id, tracks in DEMO_TRACKS:
            self.publish(DEMO_CALL, user_id, tracks)

    def plant_ban_entry(
        self,
        entry: Mapping[str, Any],
        *,
        created_at: float | None = None,
        expires_at: float | None = None,
    ) -> PlantedBan:
        """Hold a raw `query_banned_users` entry (see `PlantedBan`). Its place among the bans is
        `created_at` (default: now); filters read the ids and reason the entry has, if any."""
        raw = dict(entry)
        planted = PlantedBan(
            entry=raw,
            created_at=self.now() if created_at is None else created_at,
            target=_nested_id(raw, "user"),
            banned_by=_nested_id(raw, "banned_by"),
            reason=raw.get("reason") if isinstance(raw.get("reason"), str) else None,
            expires_at=expires_at,
        )
        self.planted_bans.append(planted)
        return planted

    # --- reads -----------------------------------------------------------------------------

    def user(self, user_id: str) -> User:
        found = self.users.get(user_id)
        if found is None:
            raise NotFound(f'user "{user_id}" does not exist')
        return found

    def call(self, cid: str) -> Call:
        found = self.calls.get(cid)
        if found is None:
            raise NotFound(f"call {cid} does not exist")
        return found

    def active_ban(self, user_id: str) -> Ban | None:
        """The user's ban unless it has run out on this state's clock."""
        ban = self.bans.get(user_id)
        if ban is None or ban.expired(self.now()):
            return None
        return ban

    def blocked_by(self, user_id: str) -> dict[str, float]:
        return self.user_blocks.get(user_id, {})

    # --- people in calls -------------------------------------------------------------------

    def join(
        self, cid: str, user_id: str, tracks: Iterable[str] = (), role: str = "user"
    ) -> Participant:
        """A user connects (one more device when already in), publishing `tracks`; refused
        when the call has ended or the user may not be in it."""
        call = self.call(cid)
        user = self.user(user_id)
        wanted = check_tracks(tracks)
        if not ROLE.fullmatch(role):
            raise Invalid.field("role", f"call role {role!r} is not valid")
        if call.ended_at is not None:
            raise Invalid.field("call", f"call {cid} has ended")
        if user_id in call.blocked:
            raise Invalid.field("user_id", f'user "{user_id}" is blocked from call {cid}')
        if self.active_ban(user_id) is not None:
            raise Invalid.field("user_id", f'user "{user_id}" is banned')
        if user.deactivated:
            raise Invalid.field("user_id", f'user "{user_id}" is deactivated')
        # ⚠ Anyone may join a default-type call with its default grants; a revoke sticks.
        held = call.permissions.get(user_id, set(DEFAULT_MEMBER_PERMISSIONS))
        check_may_publish(cid, user_id, wanted, held)
        call.permissions[user_id] = held
        return call.connect(user_id, wanted, role)

    def leave(
        self, cid: str, user_id: str, user_session_id: str | None = None
    ) -> list[Participant]:
        """The user hangs up on every device (or on one); the session ends with the last."""
        call = self.call(cid)
        self.user(user_id)
        gone = call.disconnect(user_id, user_session_id)
        if not gone:
            device = "" if user_session_id is None else f" with session {user_session_id}"
            raise Invalid.field(
                "user_id", f'user "{user_id}" is not connected to call {cid}{device}'
            )
        return gone

    def publish(
        self,
        cid: str,
        user_id: str,
        tracks: Iterable[str],
        user_session_id: str | None = None,
    ) -> Participant:
        """Start publishing on the user's newest connection (or the one named). Publishing a
        muted track is the user unmuting themselves; a revoked permission stops it."""
        call = self.call(cid)
        wanted = check_tracks(tracks)
        connections = [
            p
            for p in call.connected(user_id)
            if user_session_id is None or p.user_session_id == user_session_id
        ]
        if not connections:
            raise Invalid.field("user_id", f'user "{user_id}" is not connected to call {cid}')
        check_may_publish(cid, user_id, wanted, call.permissions.get(user_id, set()))
        participant = connections[-1]
        participant.tracks.update(wanted)
        if user_id in call.muted:
            call.muted[user_id].difference_update(wanted)
        return participant

    def unpublish(self, cid: str, user_id: str, tracks: Iterable[str]) -> list[Participant]:
        """Stop publishing the tracks on every connection of the user."""
        call = self.call(cid)
        stopped = check_tracks(tracks)
        connections = call.connected(user_id)
        for participant in connections:
            participant.tracks.difference_update(stopped)
        return connections

    def end_call(self, cid: str) -> Call:
        """End the call for everyone (again: nothing changes)."""
        call = self.call(cid)
        if call.ended_at is None:
            call.end()
        return call

    def send_event(self, cid: str, user_id: str, custom: Mapping[str, Any]) -> CallEvent:
        call = self.call(cid)
        self.user(user_id)
        size = len(json.dumps(custom, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_CUSTOM_EVENT_BYTES:
            raise Invalid.field(
                "custom",
                f"custom event payload is {size} bytes; the limit is 5KB "
                f"({MAX_CUSTOM_EVENT_BYTES} bytes)",
            )
        event = CallEvent(user_id=user_id, custom=dict(custom), created_at=self.now())
        call.events.append(event)
        return event

    # --- moderating calls ------------------------------------------------------------------

    def block_on_call(self, cid: str, user_id: str) -> Call:
        call = self.call(cid)
        self.user(user_id)
        call.blocked.add(user_id)
        call.disconnect(user_id)
        call.updated_at = self.now()
        return call

    def unblock_on_call(self, cid: str, user_id: str) -> Call:
        call = self.call(cid)
        self.user(user_id)
        call.blocked.discard(user_id)
        call.updated_at = self.now()
        return call

    def kick(self, cid: str, user_id: str, *, kicked_by: str | None, block: bool) -> Kick:
        call = self.call(cid)
        self.user(user_id)
        if kicked_by is not None:
            self.user(kicked_by)
        # Someone kicked before may be kicked again: retrying a kick must not fail.
        known = (
            user_id in call.participants
            or user_id in call.members
            or any(k.user_id == user_id for k in call.kicked)
        )
        if not known:
            raise Invalid.field(
                "user_id", f'user "{user_id}" is not a participant or member of call {cid}'
            )
        call.disconnect(user_id)
        if block:
            call.blocked.add(user_id)
        kick = Kick(user_id=user_id, kicked_by=kicked_by, at=self.now(), blocked=block)
        call.kicked.append(kick)
        call.updated_at = kick.at
        return kick

    def update_screensharing(
        self, cid: str, *, enabled: bool | None, access_request_enabled: bool | None
    ) -> Call:
        call = self.call(cid)
        if enabled is not None:
            call.screensharing.enabled = enabled
        if access_request_enabled is not None:
            call.screensharing.access_request_enabled = access_request_enabled
        call.updated_at = self.now()
        return call

    def mute(
        self,
        cid: str,
        *,
        user_ids: Sequence[str] | None,
        mute_all: bool,
        tracks: Sequence[str],
        muted_by: str | None,
    ) -> list[str]:
        """Mute tracks (they stop being published); returns who was muted, sorted."""
        call = self.call(cid)
        if muted_by is not None:
            self.user(muted_by)
        if not tracks:
            raise Invalid.field(
                "audio",
                "at least one of audio, video, screenshare, screenshare_audio must be true",
            )
        if mute_all:
            targets = sorted(set(call.participants) - {muted_by} if muted_by else call.participants)
        else:
            if not user_ids:
                raise Invalid.field(
                    "user_ids", "user_ids must not be empty unless mute_all_users is true"
                )
            for user_id in user_ids:
                self.user(user_id)
                if user_id not in call.participants:
                    raise Invalid.field(
                        "user_ids", f'user "{user_id}" is not a participant of call {cid}'
                    )
            targets = sorted(set(user_ids))
        for user_id in targets:
            call.muted.setdefault(user_id, set()).update(tracks)
            self.unpublish(cid, user_id, tracks)
        return targets

    def unmute(self, cid: str, user_id: str, tracks: Iterable[str] = TRACKS) -> None:
        """What a participant does on their own device; there is no API for it."""
        muted = self.call(cid).muted.get(user_id)
        if muted is not None:
            muted.difference_update(tracks)

    def update_permissions(
        self, cid: str, user_id: str, *, grant: Sequence[str], revoke: Sequence[str]
    ) -> set[str]:
        """Grant and revoke; a participant stops publishing what they may no longer send."""
        call = self.call(cid)
        self.user(user_id)
        if not grant and not revoke:
            raise Invalid.field(
                "grant_permissions",
                "at least one of grant_permissions or revoke_permissions must be non-empty",
            )
        for name, values in (("grant_permissions", grant), ("revoke_permissions", revoke)):
            for value in values:
                if value not in CALL_PERMISSIONS:
                    raise Invalid.field(
                        name,
                        f'"{value}" is not a valid permission '
                        f"(allowed: {', '.join(sorted(CALL_PERMISSIONS))})",
                    )
        both = sorted(set(grant) & set(revoke))
        if both:
            raise Invalid.field(
                "revoke_permissions", f'"{both[0]}" is both granted and revoked'
            )
        held = call.permissions.setdefault(user_id, set())
        held.update(grant)
        held.difference_update(revoke)
        lost = [track for track, needed in TRACK_PERMISSION.items() if needed in revoke]
        if lost:
            self.unpublish(cid, user_id, lost)
        call.updated_at = self.now()
        return held

    # --- bans ------------------------------------------------------------------------------

    def ban(
        self,
        target: str,
        *,
        banned_by: str,
        reason: str | None,
        timeout_minutes: int | None,
        ip_ban: bool,
    ) -> Ban:
        self.user(target)
        self.user(banned_by)
        if timeout_minutes is not None and timeout_minutes < 1:
            raise Invalid.field("timeout", "timeout must be at least 1 minute")
        now = self.now()
        ban = Ban(
            target=target,
            banned_by=banned_by,
            reason=reason,
            created_at=now,
            expires_at=None if timeout_minutes is None else now + timeout_minutes * 60,
            ip_ban=ip_ban,
        )
        self.bans[target] = ban
        self.ban_counts[target] = self.ban_counts.get(target, 0) + 1
        return ban

    def unban(self, target: str, *, unbanned_by: str | None) -> Ban | None:
        """Remove the user's ban record; returns the ban if it was still in force."""
        self.user(target)
        if unbanned_by is not None:
            self.user(unbanned_by)
        active = self.active_ban(target)
        self.bans.pop(target, None)
        return active

    # --- users -----------------------------------------------------------------------------

    def deactivate(self, user_id: str, *, created_by: str | None) -> User:
        user = self.user(user_id)
        if created_by is not None:
            self.user(created_by)
        if user.deactivated:
            raise Invalid.field("user_id", f'user "{user_id}" is already deactivated')
        user.deactivated = True
        user.deactivated_at = user.updated_at = self.now()
        return user

    def reactivate(self, user_id: str, *, created_by: str | None) -> User:
        user = self.user(user_id)
        if created_by is not None:
            self.user(created_by)
        if not user.deactivated:
            raise Invalid.field("user_id", f'user "{user_id}" is not deactivated')
        user.deactivated = False
        user.deactivated_at = None
        user.updated_at = self.now()
        return user

    def upsert_user(self, user_id: str, *, name: str | None, role: str) -> User:
        """Create or replace; keeps what an upsert cannot change (creation, deactivation)."""
        check_user_id(user_id, "id")
        existing = self.users.get(user_id)
        if existing is None:
            return self.add_user(user_id, name, role)
        existing.name = name
        existing.role = role
        existing.updated_at = self.now()
        return existing

    def update_users_partial(self, updates: Sequence[PartialUpdate]) -> list[User]:
        """Apply `{id, set, unset}` items, all or none: every user must exist first."""
        if not updates:
            raise Invalid.field("users", "users must not be empty")
        if len(updates) > MAX_PARTIAL_UPDATES:
            raise Invalid.field(
                "users", f"at most {MAX_PARTIAL_UPDATES} users can be updated at once"
            )
        users = [self.user(update.user_id) for update in updates]
        now = self.now()
        return [
            apply_partial(user, update, now)
            for user, update in zip(users, updates, strict=True)
        ]

    def update_user_partial(
        self, user_id: str, set: Mapping[str, Any] | None = None, unset: Sequence[str] = ()
    ) -> User:
        """One user's partial update: `set` fields (name, image, role, …), `unset` others."""
        (user,) = self.update_users_partial([check_partial(0, user_id, set or {}, unset)])
        return user

    def block_user(self, user_id: str, blocked_user_id: str) -> float:
        self.user(user_id)
        self.user(blocked_user_id)
        if user_id == blocked_user_id:
            raise Invalid.field("blocked_user_id", "a user cannot block themselves")
        blocks = self.user_blocks.setdefault(user_id, {})
        return blocks.setdefault(blocked_user_id, self.now())

    def unblock_user(self, user_id: str, blocked_user_id: str) -> None:
        self.user(user_id)
        self.user(blocked_user_id)
        self.user_blocks.get(user_id, {}).pop(blocked_user_id, None)


def _nested_id(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    found = value.get("id") if isinstance(value, Mapping) else None
    return found if isinstance(found, str) else None
