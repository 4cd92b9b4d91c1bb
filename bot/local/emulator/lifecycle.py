"""The session webhooks a change to a call implies, found by comparing the call before and after.

Whatever moved people (a join, a leave, a kick, a block, ending the call), the same comparison
says who left, whether the session ended, whether a new one started and who joined:
`call.session_participant_left`, `call.session_ended`, `call.session_started`,
`call.session_participant_joined`, in that order. State methods send nothing; the server and
`StreamEmulator` call `mark` before a change and `session_events` after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.local.emulator import events
from bot.local.emulator.calls import Call
from bot.local.emulator.state import EmulatorState


@dataclass(frozen=True)
class Mark:
    session_count: int
    live_session_id: str | None
    connected: frozenset[str]  # user_session_ids
    seen: frozenset[str]


def mark(call: Call) -> Mark:
    live = call.live_session
    return Mark(
        session_count=len(call.sessions),
        live_session_id=live.id if live is not None else None,
        connected=frozenset(p.user_session_id for p in call.connected()),
        seen=frozenset(p.user_session_id for s in call.sessions for p in s.participants),
    )


def session_events(state: EmulatorState, call: Call, before: Mark) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    was_live = call.find_session(before.live_session_id) if before.live_session_id else None
    if was_live is not None:
        for participant in was_live.participants:
            if participant.user_session_id in before.connected and not participant.live:
                found.append(events.participant_left(state, call, was_live, participant))
        if not was_live.live:
            found.append(events.session_ended(state, call, was_live))
    for index, session in enumerate(call.sessions):
        if index >= before.session_count:
            found.append(events.session_started(state, call, session))
        for participant in session.participants:
            if participant.user_session_id not in before.seen:
                found.append(events.participant_joined(state, call, session, participant))
    return found
