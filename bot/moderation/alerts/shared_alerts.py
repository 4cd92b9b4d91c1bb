"""Alert cards shared by replicas (issue 16): which card or digest a hit joins, the channel's
card budget, the claim on a click and the one escalation ping, whichever replica each webhook or
click reaches.

Each alert is a record in the shared state (`alert:<id>`, the whole alert as JSON, with a version
bumped on every change, where it is shown and which replica opened it), found by its review
items and by its user and call (`alert-item:…`, `alert-key:…`). A hit is merged under a short
lock on its user and call (a claim, waited for a few milliseconds at most), so two replicas never
open two cards for one user and call nor lose a hit. The replica that opened a card or digest
posts it and shares its ts (`alert-ts:…`), holding `alert-post:…` with a lease from opening until
then; every replica that changes it afterwards edits it from the shared record and looks again
until what it showed is the newest version, so concurrent edits end on the newest state. When the
opener died first (its claim ran out, no ts), the next replica to change the card takes the
claim, looks for the message by its metadata (the opener may have posted it) and posts it only
when Slack has none. A digest keeps a slim copy of each alert it lists. An index of the
undecided alerts (`alert-open`, kept by `save`) lets `/queue`, the Home tab and a ban see every
replica's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from bot.moderation.alerts.findings import Decided, FindingKind
from bot.moderation.alerts.record import Alert, Status
from bot.shared import SharedState, SharedStateError

KEEP_FOR = 86_400.0  # an alert's shared record outlives any window or click on it
LOCK_LEASE = 10.0  # a merge holds its lock this long at most (a dead holder's lock expires)
LOCK_PAUSE = 0.002  # real seconds between tries while another replica merges
LOCK_TRIES = 1_500  # ~3 s, then this attempt fails and callmod retries the delivery
CLICK_LEASE = 600.0  # a decision's claim, until it is decided (or given back)
OPEN_INDEX = "alert-open"  # the undecided alerts of every replica, for /queue, Home and bans
OPEN_INDEX_LIMIT = 1_000
_SLIM = ("rules", "labels", "texts", "images", "stream_actions", "messages", "reporters")


def alert_to_dict(alert: Alert, *, slim: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": alert.id,
        "key": list(alert.key),
        "user_id": alert.user_id,
        "call_cid": alert.call_cid,
        "opened_at": alert.opened_at,
        "stream_at": alert.stream_at,
        "user_name": alert.user_name,
        "last_at": alert.last_at,
        "hits": alert.hits,
        "kinds": {kind.value: n for kind, n in alert.kinds.items()},
        "status": alert.status.value,
        "handled_by": alert.handled_by,
        "escalated": alert.escalated,
    }
    if slim:
        return data
    data.update({name: list(getattr(alert, name)) for name in _SLIM})
    detail = alert.decision_detail
    data.update(
        severity=alert.severity,
        item_ids=list(alert.item_ids),
        entity_types=dict(alert.entity_types),
        earlier=alert.earlier,
        decision=alert.decision,
        decided_at=alert.decided_at,
        problem=alert.problem,
        decision_detail=(
            None if detail is None else [detail.by, detail.action, detail.status]
        ),
        item_kinds={
            item: {kind.value: n for kind, n in kinds.items()}
            for item, kinds in alert._item_kinds.items()
        },
    )
    return data


def alert_from_dict(data: dict[str, Any]) -> Alert:
    key = data["key"]
    alert = Alert(
        id=data["id"],
        key=(str(key[0]), str(key[1])),
        user_id=data["user_id"],
        call_cid=data["call_cid"],
        opened_at=float(data["opened_at"]),
        stream_at=float(data["stream_at"]),
        user_name=data.get("user_name"),
        last_at=float(data.get("last_at", 0.0)),
        hits=int(data.get("hits", 0)),
        kinds={FindingKind(k): int(n) for k, n in data.get("kinds", {}).items()},
        status=Status(data.get("status", Status.OPEN.value)),
        handled_by=data.get("handled_by"),
        escalated=bool(data.get("escalated", False)),
    )
    for name in _SLIM:
        setattr(alert, name, list(data.get(name, [])))
    detail = data.get("decision_detail")
    alert.severity = data.get("severity")
    alert.item_ids = list(data.get("item_ids", []))
    alert.entity_types = dict(data.get("entity_types", {}))
    alert.earlier = data.get("earlier")
    alert.decision = data.get("decision")
    alert.decided_at = data.get("decided_at")
    alert.problem = data.get("problem")
    alert.decision_detail = None if detail is None else Decided(*detail)
    alert._item_kinds = {
        item: {FindingKind(k): int(n) for k, n in kinds.items()}
        for item, kinds in data.get("item_kinds", {}).items()
    }
    return alert


@dataclass
class SharedAlert:
    alert: Alert
    version: int = 0
    place: str = ""  # "card", or "digest:<id>"
    opener: str = ""  # the replica that posts its message


@dataclass
class SharedDigest:
    id: str
    opened_at: float
    opener: str
    version: int = 0
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> slim alert


class AlertShare:
    def __init__(self, shared: SharedState, *, replica: str) -> None:
        self.shared = shared
        self.replica = replica
        self._tokens = itertools.count(1)

    @contextlib.asynccontextmanager
    async def locked(self, name: str) -> AsyncIterator[None]:
        """Hold `alert-lock:<name>` while the body merges; raises SharedStateError when another
        holder keeps it for longer than ~3 s (the caller fails and is retried)."""
        key = f"alert-lock:{name}"
        owner = f"{self.replica}#{next(self._tokens)}"
        for _ in range(LOCK_TRIES):
            if await self.shared.claim(key, owner, LOCK_LEASE) is None:
                break
            await asyncio.sleep(LOCK_PAUSE)
        else:
            raise SharedStateError(f"{key} stayed held")
        try:
            yield
        finally:
            with contextlib.suppress(SharedStateError):  # its lease runs out
                await self.shared.release(key, owner)

    async def find(self, index: str, value: str) -> str | None:
        return await self.shared.get(f"alert-{index}:{value}")

    async def point(self, index: str, value: str, alert_id: str) -> None:
        await self.shared.put(f"alert-{index}:{value}", alert_id, KEEP_FOR)

    async def load(self, alert_id: str) -> SharedAlert | None:
        raw = await self.shared.get(f"alert:{alert_id}")
        if raw is None:
            return None
        data = json.loads(raw)
        return SharedAlert(
            alert_from_dict(data["alert"]), int(data["version"]), data["place"], data["opener"]
        )

    async def save(self, record: SharedAlert) -> None:
        """Write the record, and keep the index of undecided alerts (`open_index`) in step."""
        record.version += 1
        data = {
            "alert": alert_to_dict(record.alert),
            "version": record.version,
            "place": record.place,
            "opener": record.opener,
        }
        await self.shared.put(f"alert:{record.alert.id}", json.dumps(data), KEEP_FOR)
        alert = record.alert
        listed = any(entry[0] == alert.id for entry in await self.open_index())
        if listed != alert.status.undecided:
            async with self.locked("open-index"):
                entries = [e for e in await self.open_index() if e[0] != alert.id]
                if alert.status.undecided:
                    entries.append((alert.id, alert.opened_at, alert.user_id or ""))
                    entries = sorted(entries, key=lambda e: e[1])[-OPEN_INDEX_LIMIT:]
                await self.shared.put(OPEN_INDEX, json.dumps(entries), KEEP_FOR)

    async def open_index(self) -> list[tuple[str, float, str]]:
        """(alert id, opened at, user id) of every undecided alert, whichever replica has it,
        oldest first (the newest `OPEN_INDEX_LIMIT`)."""
        raw = await self.shared.get(OPEN_INDEX)
        if raw is None:
            return []
        return [(str(i), float(at), str(user)) for i, at, user in json.loads(raw)]

    async def load_digest(self, digest_id: str) -> SharedDigest | None:
        raw = await self.shared.get(f"alert-digest:{digest_id}")
        if raw is None:
            return None
        data = json.loads(raw)
        return SharedDigest(
            digest_id, float(data["opened_at"]), data["opener"], int(data["version"]),
            dict(data["alerts"]),
        )

    async def save_digest(self, digest: SharedDigest) -> None:
        digest.version += 1
        data = {
            "opened_at": digest.opened_at,
            "opener": digest.opener,
            "version": digest.version,
            "alerts": digest.alerts,
        }
        await self.shared.put(f"alert-digest:{digest.id}", json.dumps(data), KEEP_FOR)

    async def ts(self, name: str) -> str | None:
        return await self.shared.get(f"alert-ts:{name}")

    async def keep_ts(self, name: str, ts: str, owner: str) -> None:
        """Share the message's ts, then give back the posting claim `owner` held for it."""
        await self.shared.put(f"alert-ts:{name}", ts, KEEP_FOR)
        await self.shared.release(f"alert-post:{name}", owner)

    async def claim_post(self, name: str, owner: str, lease: float) -> str | None:
        """Who posts card or digest `name`: its opener from opening until its ts is shared; a
        claim that ran out without a ts means the opener died, and another replica takes it."""
        return await self.shared.claim(f"alert-post:{name}", owner, lease)

    async def claim_click(self, alert_id: str, user_id: str) -> str | None:
        return await self.shared.claim(f"alert-click:{alert_id}", user_id, CLICK_LEASE)

    async def click_held(self, alert_id: str) -> bool:
        return await self.shared.holder(f"alert-click:{alert_id}") is not None

    async def release_click(self, alert_id: str) -> None:
        key = f"alert-click:{alert_id}"
        holder = await self.shared.holder(key)
        if holder is not None:
            await self.shared.release(key, holder)
