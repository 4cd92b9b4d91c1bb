"""Ban expiries on the shared schedule, when several replicas run (issue 16).

Every timed ban a replica installs is also put on the shared schedule (`EXPIRY_QUEUE`, keyed by
the banned user) with what another replica needs to announce it: who, why, until when, the case
and the notification. Whichever replica's timer (or sweep) reaches it first takes it with a
lease (`MOD_LEASE_SECONDS`) and keeps renewing that lease while it works; the others leave it
alone. An owner that dies stops renewing, so once the lease runs out the next sweep of another
replica takes it over. What the dead owner already did is read back from the case store (the
`ban_expired` case and the message that announced it) so the takeover does not repeat it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from bot.cases import Case, CaseStore, Kind, MessagePurpose
from bot.core.model import Actor, Role
from bot.moderation.bans.record import BanRecord, StreamActor
from bot.shared import Due, SharedState, SharedStateError
from bot.util.clock import Clock

log = logging.getLogger("callmod.bans.shared")

EXPIRY_QUEUE = "ban-expiries"
SWEEP_LIMIT = 100
SAME_BAN_TOLERANCE = 60.0


def to_payload(record: BanRecord) -> str:
    by = record.banned_by
    who: dict[str, Any] = (
        {"slack": by.user_id, "name": by.user_name}
        if isinstance(by, Actor)
        else {"stream": by.stream_user_id, "callmod": by.is_callmod}
    )
    return json.dumps(
        {
            "by": who,
            "reason": record.reason,
            "ip": record.ip_ban,
            "created_at": record.created_at,
            "expires_at": record.expires_at,
            "source": record.source,
            "channel": record.channel,
            "ts": record.message_ts,
            "case": record.case_number,
            "history": record.history,
        }
    )


def from_payload(user_id: str, payload: str) -> BanRecord:
    data = json.loads(payload)
    who = data["by"]
    banned_by: Actor | StreamActor = (
        Actor(str(who["slack"]), str(who.get("name") or ""), Role.NONE)
        if "slack" in who
        else StreamActor(who.get("stream"), bool(who.get("callmod")))
    )
    return BanRecord(
        user_id=user_id,
        banned_by=banned_by,
        reason=data.get("reason"),
        ip_ban=bool(data.get("ip")),
        created_at=float(data["created_at"]),
        expires_at=data.get("expires_at"),
        source=data.get("source") or "stream",
        channel=data.get("channel"),
        message_ts=data.get("ts"),
        case_number=data.get("case"),
        history=data.get("history"),
    )


async def ending(store: CaseStore, record: BanRecord) -> Case | None:
    """The case that ended this ban, as a replica recorded it (with its messages): the user's
    newest case, when it is a `ban_expired` or `unban` newer than the ban; None while the ban
    is still open in the case store."""
    page = await store.history_for_user(record.user_id, limit=5)
    for case in page.cases:
        if case.voided is not None:
            continue
        if case.kind not in (Kind.BAN_EXPIRED, Kind.UNBAN):
            return None  # the ban itself, or a newer one, is the newest case
        after_ban = (
            case.number > record.case_number
            if record.case_number is not None
            else case.created_at.timestamp() >= record.created_at - SAME_BAN_TOLERANCE
        )
        return await store.get(case.number) if after_ban else None
    return None


def announced(case: Case) -> bool:
    """Whether the expiry line of this `ban_expired` case was posted (and recorded)."""
    return any(message.purpose is MessagePurpose.AUDIT for message in case.messages)


class SharedExpiries:
    """One replica's side of the shared expiry schedule."""

    def __init__(self, shared: SharedState, *, replica: str, lease: float, clock: Clock) -> None:
        self.shared = shared
        self.replica = replica
        self.lease = lease
        self._clock = clock
        self._sweeper: asyncio.Task[None] | None = None
        self._round: asyncio.Task[None] | None = None
        self._work: set[asyncio.Task[None]] = set()

    async def put(self, record: BanRecord, *, replace: bool = True) -> None:
        """Share the ban's expiry; `replace=False` (a rebuild at start-up) leaves one already
        shared, and its owner, alone."""
        if record.expires_at is None:
            await self.remove(record.user_id)
            return
        try:
            await self.shared.schedule(
                EXPIRY_QUEUE,
                record.user_id,
                record.expires_at,
                to_payload(record),
                replace=replace,
            )
        except SharedStateError as error:  # the local timer still fires; its take decides
            log.warning("could not share the expiry of %s's ban: %s", record.user_id, error)

    async def remove(self, user_id: str) -> None:
        try:
            await self.shared.unschedule(EXPIRY_QUEUE, user_id)
        except SharedStateError as error:
            log.warning("could not drop the shared expiry of %s's ban: %s", user_id, error)

    async def take(self, user_id: str) -> Due | float | None:
        """Take the user's expiry for this replica. Returns it when taken; a time to look again
        when another replica holds a live lease on it (or it is not due yet); None when it is
        no longer scheduled (announced by another replica, or lifted). Raises SharedStateError
        (the timer retries)."""
        taken = await self.shared.take(EXPIRY_QUEUE, user_id, self.replica, self.lease)
        if taken is not None:
            return taken
        entry = await self.shared.lookup(EXPIRY_QUEUE, user_id)
        if entry is None:
            return None
        return max(entry.due, entry.lease_until if entry.owner else entry.due)

    async def take_again(self, record: BanRecord) -> Due | float | None:
        """`take` for an expiry no longer (or never) on the schedule that the case store says
        nobody ended: shared now (unless another replica shares it meanwhile) and taken."""
        await self.shared.schedule(
            EXPIRY_QUEUE, record.user_id, record.expires_at or 0.0, to_payload(record),
            replace=False,
        )
        return await self.take(record.user_id)

    async def claim_round(self, job: str, every: float) -> bool:
        """Whether this replica runs this round of a periodic `job` (one replica per round of
        `every` seconds, by a claim leased for the round); True when the shared state cannot
        say, as before replicas (the job must bear being run twice)."""
        number = math.floor(self._clock.time() / every)
        try:
            held = await self.shared.claim(f"round:{job}:{number}", self.replica, every)
        except SharedStateError as error:
            log.warning("could not claim the %s round; running it here: %s", job, error)
            return True
        if held is not None:
            log.debug("%s round %d runs on %s", job, number, held)
        return held is None

    async def scheduled(self, user_id: str) -> bool:
        """Whether the user's expiry is still on the schedule (not yet announced by anyone);
        True when the schedule cannot be read, so that nothing is announced twice."""
        try:
            return await self.shared.lookup(EXPIRY_QUEUE, user_id) is not None
        except SharedStateError:
            return True

    async def finish(self, user_id: str) -> None:
        try:
            await self.shared.finish(EXPIRY_QUEUE, user_id, self.replica)
        except SharedStateError as error:  # its lease runs out; the taker finds it recorded
            log.warning("could not mark the expiry of %s's ban done: %s", user_id, error)

    @contextlib.asynccontextmanager
    async def holding(self, user_id: str) -> AsyncIterator[None]:
        """Keep renewing this replica's lease on the expiry while the body runs."""

        async def renew() -> None:
            while True:
                await self._clock.sleep(self.lease / 3)
                with contextlib.suppress(SharedStateError):
                    await self.shared.take(EXPIRY_QUEUE, user_id, self.replica, self.lease)

        renewer = asyncio.create_task(renew(), name=f"callmod-lease:{user_id}")
        try:
            yield
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    def start(self, on_due: Callable[[Due], Coroutine[Any, Any, None]]) -> None:
        """Sweep the schedule every third of a lease: due expiries nobody holds (their owner
        died, or no replica's timer knows them) are taken and handed to `on_due`."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(on_due), name="callmod-expiry-sweep")

    async def stop(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
        await self.idle()

    def halt(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        for task in [*([sweeper] if sweeper is not None else []), *self._work]:
            task.cancel()

    async def idle(self) -> None:
        """Wait until the sweep round under way, and the expiries it took, are done."""
        while True:
            busy = [t for t in (self._round, *self._work) if t is not None and not t.done()]
            if not busy:
                return
            await asyncio.wait(busy)

    async def _sweep(self, on_due: Callable[[Due], Coroutine[Any, Any, None]]) -> None:
        while True:
            await self._clock.sleep(self.lease / 3)
            self._round = asyncio.create_task(self._sweep_once(on_due))
            await asyncio.wait({self._round})

    async def _sweep_once(self, on_due: Callable[[Due], Coroutine[Any, Any, None]]) -> None:
        try:
            due = await self.shared.take_due(EXPIRY_QUEUE, self.replica, self.lease, SWEEP_LIMIT)
        except SharedStateError as error:
            log.warning("could not sweep the shared ban expiries: %s", error)
            return
        for item in due:
            if item.taken_over_from is not None:
                log.info(
                    "taking over the expiry of %s's ban from %s (its lease ran out)",
                    item.item,
                    item.taken_over_from,
                )
            work = asyncio.create_task(on_due(item), name=f"callmod-expiry:{item.item}")
            self._work.add(work)
            work.add_done_callback(self._work_done)

    def _work_done(self, task: asyncio.Task[None]) -> None:
        self._work.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # Left taken: its lease runs out and a sweep (this one or another) retries it.
            log.warning("a shared ban expiry failed; retried after the lease: %s", error)
