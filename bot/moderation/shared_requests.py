"""Permission requests across replicas (issue 16): what another replica needs to decide a
request it did not receive, and the claim that makes two clicks on two replicas decide once.

The replica that posts a request keeps its details in the shared state, and which requests each
batch message lists; a click on another replica reads them back, claims the request for the
clicking moderator (only the claim's winner calls Stream), records the decision and re-renders
the whole message from the shared details and decisions. The posting replica applies decisions
made elsewhere whenever it shows the message again, so it never shows one undone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.shared import SharedState
from bot.stream import CallRef

# A decision is remembered well past the request's age limit, for "already approved by" answers.
DECISION_MEMORY = 7 * 86_400.0


@dataclass(frozen=True)
class SharedRequest:
    """A request's details as the posting replica shared them."""

    id: str
    call: CallRef
    user_id: str
    user_name: str | None
    permissions: tuple[str, ...]
    asked_at: float
    received_at: float


@dataclass(frozen=True)
class Decision:
    status: str  # "approved" or "denied"
    by: str  # Slack user id
    at: float
    granted: tuple[str, ...]


class RequestShare:
    """`claim_lease`: how long a moderator's claim on a request holds without a decision. A
    replica that dies between claiming and deciding leaves the claim behind; after the lease
    another click may decide (granting again is harmless: Stream grants what is granted)."""

    def __init__(self, shared: SharedState, *, keep_for: float, claim_lease: float) -> None:
        self.shared = shared
        self._keep_for = keep_for
        self._claim_lease = claim_lease

    async def publish(self, request: SharedRequest) -> None:
        value = json.dumps(
            {
                "type": request.call.type,
                "call": request.call.id,
                "user": request.user_id,
                "name": request.user_name,
                "permissions": list(request.permissions),
                "asked_at": request.asked_at,
                "received_at": request.received_at,
            }
        )
        await self.shared.put(f"request:{request.id}", value, self._keep_for)

    async def load(self, request_id: str) -> SharedRequest | None:
        value = await self.shared.get(f"request:{request_id}")
        if value is None:
            return None
        data = json.loads(value)
        return SharedRequest(
            id=request_id,
            call=CallRef(str(data["type"]), str(data["call"])),
            user_id=str(data["user"]),
            user_name=data.get("name"),
            permissions=tuple(str(p) for p in data["permissions"]),
            asked_at=float(data["asked_at"]),
            received_at=float(data["received_at"]),
        )

    async def publish_batch(self, channel: str, ts: str, request_ids: list[str]) -> None:
        """Which requests the message `channel`/`ts` lists, for a replica re-rendering it."""
        value = json.dumps({"ids": request_ids})
        await self.shared.put(f"batch:{channel}:{ts}", value, self._keep_for)

    async def batch(self, channel: str, ts: str) -> list[str] | None:
        value = await self.shared.get(f"batch:{channel}:{ts}")
        return None if value is None else [str(i) for i in json.loads(value)["ids"]]

    async def claim(self, request_id: str, user_id: str) -> str | None:
        """None when the request is this moderator's to decide; who has it otherwise."""
        return await self.shared.claim(f"request:{request_id}", user_id, self._claim_lease)

    async def release(self, request_id: str, user_id: str) -> None:
        await self.shared.release(f"request:{request_id}", user_id)

    async def decide(self, request_id: str, decision: Decision) -> None:
        value = json.dumps(
            {
                "status": decision.status,
                "by": decision.by,
                "at": decision.at,
                "granted": list(decision.granted),
            }
        )
        await self.shared.put(f"decision:{request_id}", value, DECISION_MEMORY)

    async def decision(self, request_id: str) -> Decision | None:
        value = await self.shared.get(f"decision:{request_id}")
        if value is None:
            return None
        data = json.loads(value)
        return Decision(
            str(data["status"]),
            str(data["by"]),
            float(data["at"]),
            tuple(str(p) for p in data["granted"]),
        )
