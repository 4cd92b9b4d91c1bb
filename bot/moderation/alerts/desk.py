"""The alert desk: Stream's moderation findings become cards in MOD_ALERTS_CHANNEL.

Hits on the same user in the same call within `window` update one card with a counter; hits on
a review item already shown update its card. Each channel gets at most `cards_per_minute` new
cards a minute: beyond that, alerts are listed in one digest message per minute (counts and the
newest ten) and every one of them stays open in `/queue` with its buttons, so a flood posts a
handful of messages and loses nothing. Cards are posted and edited through `CoalescedMessage`,
so a burst of changes costs one Slack call in flight per message, the latest state winning.

An undecided message gets one threaded ping to the moderators after `escalate_after`. Decisions
(the buttons, see `decisions.py`) replace the buttons with who decided and the case.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cachetools import FIFOCache
from slack_sdk.errors import SlackApiError

from bot.cases.models import Kind
from bot.core.model import Actor, Plan, Reply
from bot.moderation.alerts import render
from bot.moderation.alerts.findings import Finding, finding_of, item_finding
from bot.moderation.alerts.record import Alert, Status
from bot.moderation.alerts.shared_alerts import (
    AlertShare,
    SharedAlert,
    SharedDigest,
    alert_from_dict,
    alert_to_dict,
)
from bot.moderation.coalesced import CoalescedMessage
from bot.moderation.history.book import CaseBook, Ticket
from bot.moderation.history.render import counts_line
from bot.shared import SharedState, SharedStateError
from bot.slack.blocks import code, escape
from bot.slack.poster import SlackPoster, SlackPostError, case_metadata
from bot.stream import StreamAPIError, StreamClient
from bot.stream.events import CallEnded, ModerationEvent
from bot.util.clock import Clock
from bot.util.timers import TimerRegistry

log = logging.getLogger("callmod.alerts")

DEFAULT_WINDOW = 600.0  # hits on one user and call this close share a card
DEFAULT_CARDS_PER_MINUTE = 5
DIGEST_WINDOW = 60.0
DEFAULT_MAX_ALERTS = 20_000
REPORTS_PER_WINDOW = 5  # /report: each reporter may send this many …
REPORT_WINDOW = 600.0  # … in this many seconds
KEEP_ALERT_COUNTS = 30 * 86_400.0  # with replicas: the "3rd alert" count's window
_DECIDED = ("status", "handled_by", "decided_at", "problem", "decision")
MAX_ITEMS_TOLD = 10  # review items a decision is sent to Stream for

# Runs a command line as a moderator with its role rules, case and audit; `before` runs after the
# checks and before the command (a Reply it returns stops it). Bound to the dispatcher at wiring.
LineRunner = Callable[
    [str, Actor, Callable[[], Awaitable[Reply | None]] | None],
    Awaitable[tuple[Reply, Ticket | None]],
]


@dataclass
class AlertStats:
    findings: int = 0
    ignored: int = 0  # events about nothing callmod moderates (unknown entity types…)
    alerts: int = 0
    cards: int = 0
    digested: int = 0
    escalations: int = 0
    takeovers: int = 0  # cards or digests posted or found for an opener that died first
    shown_after: deque[float] = field(default_factory=lambda: deque(maxlen=20_000))


@dataclass(eq=False)
class Digest:
    id: str
    opened_at: float
    alerts: list[Alert] = field(default_factory=list)
    message: CoalescedMessage | None = None


class AlertDesk:
    def __init__(
        self,
        *,
        poster: SlackPoster,
        channel: str | None,
        clock: Clock,
        cases: CaseBook,
        stream: StreamClient,
        bot_user_id: str,
        moderators: Sequence[str] = (),
        escalate_after: float = 600.0,
        default_call_type: str = "default",
        slash_queue: str = "/queue",
        window: float = DEFAULT_WINDOW,
        cards_per_minute: int = DEFAULT_CARDS_PER_MINUTE,
        max_alerts: int = DEFAULT_MAX_ALERTS,
        shared: SharedState | None = None,
        replica: str = "",
        lease: float = 30.0,
    ) -> None:
        """`shared`: the state replicas share, when several run (claims on clicks, which card a
        hit joins, the card budget, escalations, the /report limit); None keeps it all here."""
        self._poster = poster
        self._shared = shared
        self.replica = replica
        self.share = AlertShare(shared, replica=replica) if shared is not None else None
        self._lease = lease  # MOD_LEASE_SECONDS: an opener's hold on posting its card
        self._digest_views: dict[str, tuple[float, list[Alert]]] = {}  # shared digests shown
        self.channel = channel
        self._clock = clock
        self._cases = cases
        self.stream = stream
        self.bot_user_id = bot_user_id
        self._moderators = tuple(moderators)
        self._escalate_after = escalate_after
        self._default_call_type = default_call_type
        self.slash_queue = slash_queue
        self._window = window
        self._cards_per_minute = cards_per_minute
        self.alerts: FIFOCache[str, Alert] = FIFOCache(max_alerts)
        self._by_key: dict[tuple[str, str], Alert] = {}
        self._by_item: FIFOCache[str, Alert] = FIFOCache(max_alerts)
        self._by_delivery: FIFOCache[str, Alert] = FIFOCache(max_alerts)
        self._cards: dict[str, CoalescedMessage] = {}  # alert id -> its own card
        self._digests: dict[str, Digest] = {}  # alert id -> the digest listing it
        self._digest: Digest | None = None  # the digest new overflow joins
        self._recent_cards: deque[float] = deque()
        self._per_user: dict[str, int] = {}  # alerts seen per user (for "3rd alert")
        self._reports: dict[str, deque[float]] = {}
        self._group_ids: dict[str, str] | None = None
        self._timers: TimerRegistry[str] = TimerRegistry(clock, self._escalate)
        self._tasks: set[asyncio.Task[None]] = set()
        self.run_line: LineRunner | None = None
        # Awaited before each event's work: lets Slack requests waiting for their ack go first.
        self.before_work: Callable[[], Awaitable[None]] | None = None
        self.stats = AlertStats()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._timers.start()

    async def stop(self) -> None:
        await self._timers.stop()
        await self.idle()

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._timers.wait_idle()

    def message_counts(self) -> tuple[int, int]:
        """Slack messages posted and edits made for alerts so far (cards and digests)."""
        messages = [*self._cards.values()]
        messages += {id(d): d.message for d in self._digests.values() if d.message}.values()
        return sum(m.posts for m in messages), sum(m.edits for m in messages)

    def open_alerts(self) -> list[Alert]:
        """Undecided alerts, oldest first (for `/queue` and App Home)."""
        return sorted(
            (alert for alert in self.alerts.values() if alert.status.undecided),
            key=lambda alert: alert.opened_at,
        )

    async def all_open_alerts(self) -> list[Alert]:
        """`open_alerts`, and with several replicas every replica's (from the shared index;
        this replica's own when the shared state does not answer)."""
        if self.share is None:
            return self.open_alerts()
        try:
            listed = {alert_id for alert_id, _, _ in await self.share.open_index()}
            # Every listed alert, and this replica's undecided ones no longer listed (decided
            # on another replica since), as the shared records have them now.
            mine = {a.id for a in self.alerts.values() if a.status.undecided}
            for alert_id in listed | mine:
                record = await self.share.load(alert_id)
                if record is not None:
                    self._keep_local(record.alert)
        except SharedStateError as error:
            log.warning("could not read the shared open alerts: %s", error)
        return self.open_alerts()

    # -- intake ------------------------------------------------------------------------------

    async def on_event(
        self, event: ModerationEvent | CallEnded, delivery_id: str, received_at: float
    ) -> None:
        """Show what the event says; returns once Slack shows it and raises SlackPostError
        otherwise (the caller retries with the same delivery id, which finds the same alert)."""
        if self.before_work is not None:
            await self.before_work()
        if self.share is not None:
            await self._on_event_shared(event, delivery_id, received_at)
            return
        alert = self._by_delivery.get(delivery_id)
        if alert is None:
            finding = self._admit(event)
            if finding is None:
                return
            taken = await self._take(finding)
            if taken is None:
                return
            alert = taken
            self._by_delivery[delivery_id] = alert
        elif alert.id not in self.alerts:
            return  # a retry about an alert long forgotten
        message = self.message_of(alert)
        if message is not None:
            await message.show()
        self.stats.shown_after.append(self._clock.time() - received_at)

    def _admit(self, event: ModerationEvent | CallEnded) -> Finding | None:
        """The finding `event` carries, counted; None (logged) when callmod shows nothing for
        it or has no alerts channel."""
        finding = finding_of(event, self._default_call_type)
        if finding is None:
            self.stats.ignored += 1
            log.info("moderation event %s about nothing callmod shows; ignored", event.type)
            return None
        if self.channel is None:
            log.warning("moderation alert dropped: no alerts channel is configured")
            return None
        self.stats.findings += 1
        return finding

    async def _take(self, finding: Finding) -> Alert | None:
        now = self._clock.time()
        alert = self._by_item.get(finding.item_id) if finding.item_id else None
        if alert is None or alert.id not in self.alerts:
            alert = self._by_key.get(finding.key)
            if (
                alert is None
                or alert.id not in self.alerts  # forgotten (the oldest of very many)
                or not alert.status.undecided
                or now - alert.last_at > self._window
            ):
                if finding.decided is not None:
                    return None  # a decision on an item callmod never showed
                return await self._open(finding, now)
        alert.add(finding, now)
        self._index(alert)
        if finding.decided is not None and alert.status is Status.OPEN:
            alert.decided_in_stream(finding.decided, now)
            alert.decision = render.stream_decision_line(alert)
        if self.message_of(alert) is None and finding.new_flag and self.channel is not None:
            self._place(alert, now)  # adopted by /queue, now flagged again: a card of its own
        self._changed(alert)
        return alert

    async def _open(self, finding: Finding, now: float) -> Alert:
        assert self.channel is not None
        alert = Alert(
            id=self._new_id(),
            key=finding.key,
            user_id=finding.user_id,
            call_cid=finding.call_cid,
            opened_at=now,
            stream_at=finding.at,
        )
        alert.add(finding, now)
        self._prune()
        self.alerts[alert.id] = alert
        self._by_key[finding.key] = alert
        self._index(alert)
        self.stats.alerts += 1
        nth = 0
        if alert.user_id is not None:
            nth = self._per_user[alert.user_id] = self._per_user.get(alert.user_id, 0) + 1
        message = self._place(alert, now)
        if alert.id not in self._cards:
            message.changed()  # a digest line shows no history: no case-store read in a flood
            return alert
        with message.preparing():
            alert.earlier = await self._earlier(alert, nth)
            message.changed()
        return alert

    def _prune(self) -> None:
        """Forget what belongs to alerts the bounded `alerts` cache has let go of."""
        limit = self.alerts.maxsize
        if len(self._by_key) > limit:
            self._by_key = {
                k: a for k, a in self._by_key.items() if a.id in self.alerts and a.status.undecided
            }
        if len(self._cards) + len(self._digests) > limit:
            self._cards = {i: m for i, m in self._cards.items() if i in self.alerts}
            self._digests = {i: d for i, d in self._digests.items() if i in self.alerts}
        if len(self._per_user) > limit:
            self._per_user.clear()

    def _index(self, alert: Alert) -> None:
        for item_id in alert.item_ids:
            self._by_item[item_id] = alert

    def _place(self, alert: Alert, now: float) -> CoalescedMessage:
        """A card of its own, or a line in this minute's digest when the channel had enough."""
        assert self.channel is not None
        while self._recent_cards and now - self._recent_cards[0] >= DIGEST_WINDOW:
            self._recent_cards.popleft()
        if len(self._recent_cards) < self._cards_per_minute:
            self._recent_cards.append(now)
            card = CoalescedMessage(
                self._poster,
                self.channel,
                lambda: render.card(alert),
                lambda: case_metadata(user_id=alert.user_id, call_cid=alert.call_cid),
            )
            self._cards[alert.id] = card
            self.stats.cards += 1
            self._timers.schedule(f"card:{alert.id}", now + self._escalate_after, alert.id)
            return card
        digest = self._digest
        if digest is None or now - digest.opened_at >= DIGEST_WINDOW:
            digest = self._digest = Digest(self._new_id(), now)
            shown = digest
            digest.message = CoalescedMessage(
                self._poster,
                self.channel,
                lambda: render.digest(shown.alerts, shown.opened_at, self.slash_queue),
            )
            self._timers.schedule(f"digest:{digest.id}", now + self._escalate_after, digest.id)
        digest.alerts.append(alert)
        self._digests[alert.id] = digest
        self.stats.digested += 1
        assert digest.message is not None
        return digest.message

    def message_of(self, alert: Alert) -> CoalescedMessage | None:
        """The message showing the alert; None for one adopted from Stream's queue by `/queue`
        that no webhook has brought in since (it has no message of its own)."""
        card = self._cards.get(alert.id)
        if card is not None:
            return card
        digest = self._digests.get(alert.id)
        return digest.message if digest is not None else None

    def _changed(self, alert: Alert) -> None:
        message = self.message_of(alert)
        if message is not None:
            message.changed()

    async def _earlier(self, alert: Alert, nth: int) -> str | None:
        if alert.user_id is None:
            return None
        counts = await self._cases.counts(alert.user_id)
        if counts is None:
            cases = "earlier cases unknown (the case store did not answer)"
        elif not counts:
            cases = "no earlier cases"
        else:
            total = sum(counts.values())
            cases = f"{total} earlier case{'s' if total != 1 else ''} ({counts_line(counts)})"
        return f"*History:* {cases} · {_ordinal(nth)} alert about {code(alert.user_id)}"

    def _new_id(self) -> str:
        while True:
            alert_id = secrets.token_hex(5)
            if alert_id not in self.alerts:
                return alert_id

    # -- Stream's queue ------------------------------------------------------------------------

    async def adopt_open_items(self) -> int:
        """Ask Stream's review queue for its open items (one page, the newest 100) and take in
        those callmod does not know — flagged while callmod was down or before a restart — as
        alerts without a message of their own (`/queue` lists them with their buttons).
        Returns how many were taken in; raises StreamAPIError when Stream does not answer."""
        page = await self.stream.query_review_queue(filter={"reviewed": False}, limit=100)
        adopted = 0
        for item in reversed(page.items):  # oldest first, so /queue keeps Stream's order
            if item.id in self._by_item and self._by_item[item.id].id in self.alerts:
                continue
            finding = item_finding(item, self._default_call_type)
            if finding is None or finding.decided is not None:
                continue
            now = self._clock.time()
            alert = Alert(
                id=self._new_id(),
                key=finding.key,
                user_id=finding.user_id,
                call_cid=finding.call_cid,
                opened_at=finding.at or now,
                stream_at=finding.at,
            )
            alert.add(finding, now)
            self._prune()
            self.alerts[alert.id] = alert
            self._by_key.setdefault(finding.key, alert)
            self._index(alert)
            adopted += 1
        return adopted

    # -- decisions made elsewhere ------------------------------------------------------------

    def after_action(self, actor: Actor, plan: Plan, ticket: Ticket) -> None:
        """A command finished (any front-end): a ban decides the user's open alerts (with
        several replicas, every replica's: `_ban_decides_shared`)."""
        if plan.kind is not Kind.BAN or not plan.target:
            return
        if self.share is not None:
            self._later(self._ban_decides_shared(actor, plan, ticket))
            return
        opened = [
            alert
            for alert in self.alerts.values()
            if alert.user_id == plan.target and alert.status is Status.OPEN
        ]
        for alert in opened:
            alert.status = Status.CLAIMED
            alert.handled_by = actor.user_id
            self._later(self._banned(alert, actor, plan, ticket))

    async def _ban_decides_shared(self, actor: Actor, plan: Plan, ticket: Ticket) -> None:
        """The banned user's open alerts on every replica, each claimed as a click would be (a
        moderator deciding it elsewhere at the same moment wins or loses cleanly)."""
        assert self.share is not None
        try:
            ids = [i for i, _, user in await self.share.open_index() if user == plan.target]
            for alert_id in ids:
                record = await self.share.load(alert_id)
                if record is None or record.alert.status is not Status.OPEN:
                    continue
                alert = self._keep_local(record.alert)
                if await self.claim_shared(alert, actor) is None:
                    await self._banned(alert, actor, plan, ticket)
        except SharedStateError as error:
            log.warning("a ban could not decide the user's alerts on other replicas: %s", error)

    async def _banned(self, alert: Alert, actor: Actor, plan: Plan, ticket: Ticket) -> None:
        decision = f"{plan.summary} (through callmod)"
        problem = await self.tell_stream(alert, "ban", actor, decision)
        self.decide(alert, Status.ACTIONED, actor, ticket.label, plan.summary)
        if problem is not None:
            alert.decision = f"{alert.decision}\n_(Stream's review queue was not told: {problem})_"
        await self.show_quietly(alert)

    def _later(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("alert follow-up failed: %s", error)

    # -- shared by the decision buttons --------------------------------------------------------

    async def tell_stream(
        self, alert: Alert, decision: str, actor: Actor, reason: str
    ) -> str | None:
        """Send the decision to Stream's review queue for the alert's items; None when Stream
        took it (or there is no item), else why not, as a sentence (mrkdwn)."""
        for item_id in alert.item_ids[-MAX_ITEMS_TOLD:]:
            action_type, payload = _action_for(decision, alert.entity_types.get(item_id), reason)
            try:
                await self.stream.submit_action(
                    item_id, action_type, user_id=self.bot_user_id, payload=payload
                )
            except StreamAPIError as error:
                log.info("submit_action %s on %s refused: %s", action_type, item_id, error)
                return (
                    f"Stream refused `{action_type}` on review item {code(item_id, 40)}: "
                    f"{escape(error.sentence)}"
                )
        return None

    def decide(
        self, alert: Alert, status: Status, actor: Actor, case_label: str, verb: str
    ) -> None:
        alert.status = status
        alert.handled_by = actor.user_id
        alert.decided_at = self._clock.time()
        alert.problem = None
        alert.decision = render.decision_line(alert, verb, case_label)
        self._changed(alert)

    def release(self, alert: Alert, problem: str | None) -> None:
        """A decision that did not go through: the buttons stay, with why."""
        alert.status = Status.OPEN
        alert.handled_by = None
        if problem is not None:
            sentence = problem.rstrip(". ")
            mark = "" if sentence.startswith(":") else ":x: "
            alert.problem = f"{mark}{sentence}. The buttons are still there."
        self._changed(alert)

    async def show_quietly(self, alert: Alert) -> str:
        """Bring the alert's message up to date; a failure becomes a note for the clicker."""
        if self.share is not None:
            try:
                await self._push_decision(alert)
                await self._show_shared(alert.id)
            except SlackPostError as error:
                return f"\n_(The alert message could not be updated: {escape(str(error))}.)_"
            except SharedStateError as error:
                return f"\n_(The alert message could not be updated: {escape(str(error))}.)_"
            return ""
        message = self.message_of(alert)
        if message is None:
            return ""
        try:
            await message.show()
        except SlackPostError as error:
            return f"\n_(The alert message could not be updated: {escape(str(error))}.)_"
        return ""

    # -- several replicas (issue 16): the same, on the shared state ----------------------------

    async def _on_event_shared(
        self, event: ModerationEvent | CallEnded, delivery_id: str, received_at: float
    ) -> None:
        """`on_event` when replicas share the alerts: the hit is merged into the shared record
        under its user and call's lock, then shown from it (see `shared_alerts`). A shared
        state that does not answer fails this attempt; callmod retries the delivery (Stream has its
        200 already), and a retry finds the record its first attempt saved by the delivery id."""
        assert self.share is not None
        finding = self._admit(event)
        if finding is None:
            return
        share = self.share
        try:
            async with share.locked(f"key:{finding.key[0]}|{finding.key[1]}"):
                merged = await share.find("delivery", delivery_id)  # this delivery, retried
                record = await share.load(merged) if merged else None
                if record is None:
                    record = await self._merge_shared(finding)
                    if record is None:
                        return
                    await share.save(record)
                    await share.point("delivery", delivery_id, record.alert.id)
                alert = record.alert
                for item_id in alert.item_ids:
                    await share.point("item", item_id, alert.id)
                await share.point("key", f"{alert.key[0]}|{alert.key[1]}", alert.id)
                if record.place.startswith("digest:"):
                    await self._list_in_digest(record.place.partition(":")[2], alert)
        except SharedStateError as error:
            raise SlackPostError(f"the shared alert state did not answer: {error}") from error
        self._keep_local(alert)
        await self._show_shared(alert.id)
        self.stats.shown_after.append(self._clock.time() - received_at)

    async def _merge_shared(self, finding: Finding) -> SharedAlert | None:
        """The alert record the finding joins (changed), or a new one; None for a decision on an
        item callmod never showed. Runs under the finding's lock."""
        assert self.share is not None and self.channel is not None
        now = self._clock.time()
        record = None
        if finding.item_id:
            found = await self.share.find("item", finding.item_id)
            record = await self.share.load(found) if found else None
        if record is None:
            found = await self.share.find("key", f"{finding.key[0]}|{finding.key[1]}")
            record = await self.share.load(found) if found else None
            if record is not None and (
                not record.alert.status.undecided or now - record.alert.last_at > self._window
            ):
                record = None
        if record is None:
            if finding.decided is not None:
                return None
            return await self._open_shared(finding, now)
        alert = record.alert
        alert.add(finding, now)
        if finding.decided is not None and alert.status is Status.OPEN:
            alert.decided_in_stream(finding.decided, now)
            alert.decision = render.stream_decision_line(alert)
        return record

    async def _open_shared(self, finding: Finding, now: float) -> SharedAlert:
        assert self.share is not None and self._shared is not None and self.channel is not None
        alert = Alert(
            id=self._new_id(),
            key=finding.key,
            user_id=finding.user_id,
            call_cid=finding.call_cid,
            opened_at=now,
            stream_at=finding.at,
        )
        alert.add(finding, now)
        self.stats.alerts += 1
        record = SharedAlert(alert, opener=self.replica)
        cards = await self._shared.hit(f"alert-cards:{self.channel}", DIGEST_WINDOW)
        if cards <= self._cards_per_minute:
            record.place = "card"
            # Held from before the record is saved until the card's ts is shared.
            await self.share.claim_post(f"card:{alert.id}", self.replica, self._lease)
            self.stats.cards += 1
            self._timers.schedule(f"card:{alert.id}", now + self._escalate_after, alert.id)
            nth = 0
            if alert.user_id is not None:
                nth = await self._shared.hit(f"alert-user:{alert.user_id}", KEEP_ALERT_COUNTS)
            alert.earlier = await self._earlier(alert, nth)
            return record
        async with self.share.locked(f"digest:{self.channel}"):
            current = await self._shared.get(f"alert-digest-now:{self.channel}")
            digest = await self.share.load_digest(current) if current else None
            if digest is None or now - digest.opened_at >= DIGEST_WINDOW:
                digest = SharedDigest(self._new_id(), now, self.replica)
                await self.share.claim_post(f"digest:{digest.id}", self.replica, self._lease)
                await self.share.save_digest(digest)
                await self._shared.put(f"alert-digest-now:{self.channel}", digest.id, DIGEST_WINDOW)
                self._timers.schedule(f"digest:{digest.id}", now + self._escalate_after, digest.id)
        record.place = f"digest:{digest.id}"
        self.stats.digested += 1
        return record

    async def _list_in_digest(self, digest_id: str, alert: Alert) -> None:
        """Put the alert's slim copy into the digest it is listed in (under the digest's lock)."""
        assert self.share is not None
        async with self.share.locked(f"digest-id:{digest_id}"):
            digest = await self.share.load_digest(digest_id)
            if digest is None:
                return
            digest.alerts[alert.id] = alert_to_dict(alert, slim=True)
            await self.share.save_digest(digest)

    def _keep_local(self, alert: Alert) -> Alert:
        """This replica's copy of a shared alert (for /queue, App Home and its card's render),
        brought up to date in place."""
        mine = self.alerts.get(alert.id)
        if mine is None:
            self._prune()
            if len(self._digest_views) > self.alerts.maxsize:
                self._digest_views.clear()
            self.alerts[alert.id] = alert
            return alert
        vars(mine).update(vars(alert))
        return mine

    async def load_shared(self, alert_id: str) -> Alert | None:
        """The alert as the shared state has it (decisions on another replica included)."""
        assert self.share is not None
        record = await self.share.load(alert_id)
        if record is None:
            return None
        alert = record.alert
        if alert.status is Status.CLAIMED and not await self.share.click_held(alert_id):
            # Its decider died mid-way (the claim ran out): the buttons work again.
            alert.status, alert.handled_by = Status.OPEN, None
        return self._keep_local(alert)

    async def claim_shared(self, alert: Alert, actor: Actor) -> str | None:
        """Take the alert's decision for `actor`, on every replica: None when taken (it shows as
        being handled), else who holds it. Raises SharedStateError."""
        assert self.share is not None
        held = await self.share.claim_click(alert.id, actor.user_id)
        if held is not None:
            return held
        alert.status = Status.CLAIMED
        alert.handled_by = actor.user_id
        try:
            await self._push_decision(alert)
        except SharedStateError:
            alert.status, alert.handled_by = Status.OPEN, None
            with contextlib.suppress(SharedStateError):  # else its lease runs out
                await self.share.release_click(alert.id)
            raise
        return None

    async def _push_decision(self, alert: Alert, fields: tuple[str, ...] = _DECIDED) -> None:
        """Write this replica's decision fields of the alert into its shared record; a released
        alert (its decision did not go through) gives its click claim back."""
        assert self.share is not None
        async with self.share.locked(f"key:{alert.key[0]}|{alert.key[1]}"):
            record = await self.share.load(alert.id)
            if record is None:
                return
            for name in fields:
                setattr(record.alert, name, getattr(alert, name))
            await self.share.save(record)
            if record.place.startswith("digest:"):
                await self._list_in_digest(record.place.partition(":")[2], record.alert)
        if "status" in fields and alert.status is Status.OPEN:
            await self.share.release_click(alert.id)

    async def _show_shared(self, alert_id: str) -> None:
        """Show the alert's card (or its digest) as the shared record has it: posted by the
        replica that opened it, edited by any, until what was shown is the newest version."""
        assert self.share is not None
        record = await self.share.load(alert_id)
        if record is None:
            return
        if record.place.startswith("digest:"):
            await self._show_digest(record.place.partition(":")[2])
            return
        if record.place != "card" or self.channel is None:
            return  # adopted by /queue: no message
        alert = self._keep_local(record.alert)
        message = self._cards.get(alert_id)
        if message is None:
            message = self._cards[alert_id] = CoalescedMessage(
                self._poster,
                self.channel,
                lambda: render.card(alert),
                lambda: case_metadata(
                    user_id=alert.user_id, call_cid=alert.call_cid, alert_id=alert.id
                ),
            )

        async def newest() -> int | None:
            found = await self.share.load(alert_id) if self.share else None
            if found is None:
                return None
            self._keep_local(found.alert)
            return found.version

        await self._catch_up(f"card:{alert_id}", message, record.opener, newest)

    async def _show_digest(self, digest_id: str) -> None:
        assert self.share is not None and self.channel is not None
        digest = await self.share.load_digest(digest_id)
        if digest is None:
            return
        view = self._digest_views.setdefault(digest_id, (digest.opened_at, []))
        message = self._cards.get(f"digest:{digest_id}")
        if message is None:
            message = self._cards[f"digest:{digest_id}"] = CoalescedMessage(
                self._poster,
                self.channel,
                lambda: render.digest(view[1], view[0], self.slash_queue),
                lambda: case_metadata(alert_id=f"digest:{digest_id}"),
            )

        async def newest() -> int | None:
            found = await self.share.load_digest(digest_id) if self.share else None
            if found is None:
                return None
            view[1][:] = [alert_from_dict(data) for data in found.alerts.values()]
            return found.version

        await self._catch_up(f"digest:{digest_id}", message, digest.opener, newest)

    async def _catch_up(
        self,
        name: str,
        message: CoalescedMessage,
        opener: str,
        newest: Callable[[], Awaitable[int | None]],
    ) -> None:
        assert self.share is not None
        if message.ts is None:
            message.ts = await self.share.ts(name)
        while True:
            version = await newest()
            if version is None:
                return
            mine = message.ts is not None or opener == self.replica
            if not mine and not await self._take_over(name, message):
                return  # its opener posts it, then catches up with this change
            posting = message.ts is None
            message.changed()
            await message.show()
            if posting and message.ts is not None:
                await self.share.keep_ts(name, message.ts, self.replica)
            if await newest() == version:
                return

    async def _take_over(self, name: str, message: CoalescedMessage) -> bool:
        """A card or digest with no shared ts, opened by another replica: False while its opener
        holds the posting; otherwise this replica takes it (the opener died before sharing the
        ts), with the ts of the message the opener may have posted (found by its metadata)."""
        assert self.share is not None and self.channel is not None
        if await self.share.claim_post(name, self.replica, self._lease) is not None:
            return False
        self.stats.takeovers += 1
        message.ts = await self.share.ts(name)  # shared just before the claim was given back
        if message.ts is None:
            kind, _, target = name.partition(":")
            alert_id = target if kind == "card" else name
            message.ts = await self._poster.find_message(self.channel, "alert_id", alert_id)
        if message.ts is not None:
            await self.share.keep_ts(name, message.ts, self.replica)
        return True

    async def _escalate_shared(self, key: str, target: str) -> None:
        """The opener's escalation timer: one ping, unless the alert (or every alert of the
        digest) was decided meanwhile on whichever replica."""
        assert self.share is not None and self._shared is not None and self.channel is not None
        kind = key.partition(":")[0]
        if kind == "card":
            record = await self.share.load(target)
            if record is None or not record.alert.status.undecided or record.alert.escalated:
                return
            waiting = [self._keep_local(record.alert)]
            await self._show_shared(target)
            message = self._cards.get(target)
        else:
            digest = await self.share.load_digest(target)
            if digest is None:
                return
            waiting = [
                alert
                for alert in map(alert_from_dict, digest.alerts.values())
                if alert.status.undecided and not alert.escalated
            ]
            if not waiting:
                return
            await self._show_digest(target)
            message = self._cards.get(f"digest:{target}")
        if message is None or message.ts is None:
            return
        if not await self._shared.remember_once(f"alert-escalated:{key}", KEEP_ALERT_COUNTS):
            return
        await self._ping(message, waiting)
        if kind == "card":
            await self._push_decision(waiting[0], ("escalated",))

    # -- reports ------------------------------------------------------------------------------

    async def report_wait(self, reporter: str) -> float | None:
        """None when `reporter` may report now (and counts it), else seconds to wait. With
        replicas the count is shared (a fixed window, `SharedState.hit`), so the limit holds
        whichever replica each report reaches; a shared state that does not answer lets the
        report through (a report needs no Redis, and the limit only guards against floods)."""
        if self._shared is not None:
            try:
                hits = await self._shared.hit(f"report:{reporter}", REPORT_WINDOW)
            except SharedStateError as error:
                log.warning("could not count a /report against the limit: %s", error)
                return None
            if hits > REPORTS_PER_WINDOW:
                return REPORT_WINDOW - self._clock.time() % REPORT_WINDOW
            return None
        now = self._clock.time()
        times = self._reports.setdefault(reporter, deque())
        while times and now - times[0] >= REPORT_WINDOW:
            times.popleft()
        if len(times) >= REPORTS_PER_WINDOW:
            return REPORT_WINDOW - (now - times[0])
        times.append(now)
        return None

    # -- escalation ---------------------------------------------------------------------------

    async def _escalate(self, key: str, target: str) -> None:
        if self.share is not None:
            await self._escalate_shared(key, target)
            return
        kind = key.partition(":")[0]
        if kind == "card":
            alert = self.alerts.get(target)
            if alert is None or not alert.status.undecided or alert.escalated:
                return
            waiting = [alert]
            message = self._cards[alert.id]
        else:
            digest = next((d for d in self._digests.values() if d.id == target), None)
            if digest is None or digest.message is None:
                return
            waiting = [a for a in digest.alerts if a.status.undecided and not a.escalated]
            if not waiting:
                return
            message = digest.message
        if message.ts is None:
            await message.show()
        await self._ping(message, waiting)

    async def _ping(self, message: CoalescedMessage, waiting: list[Alert]) -> None:
        minutes = round(self._escalate_after / 60)
        about = (
            f"this alert about {render.who(waiting[0])}"
            if len(waiting) == 1
            else f"{len(waiting)} alerts listed here"
        )
        text = (
            f"{await self._moderators_mention()} :bell: Nobody has decided {about} for "
            f"{minutes} minute{'s' if minutes != 1 else ''}."
        )
        try:
            await self._poster.client.chat_postMessage(
                channel=message.channel,
                thread_ts=message.ts,
                text=text,
                unfurl_links=False,
                unfurl_media=False,
                metadata=case_metadata(),
            )
        except SlackApiError as error:
            code_ = str(error.response.get("error"))
            raise SlackPostError(f"chat.postMessage failed: {code_}", code_) from error
        for alert in waiting:
            alert.escalated = True
        self.stats.escalations += 1

    async def _moderators_mention(self) -> str:
        """The moderators' user groups (`<!subteam^ID>`), else the moderators named one by one."""
        handles = [m[1:] for m in self._moderators if m.startswith("@")]
        if handles:
            if self._group_ids is None:
                try:
                    listing = await self._poster.client.usergroups_list()
                    groups: list[dict[str, Any]] = list(listing.get("usergroups") or [])
                    self._group_ids = {str(g.get("handle")): str(g.get("id")) for g in groups}
                except SlackApiError as error:
                    log.warning("usergroups.list failed: %s", error.response.get("error"))
                    self._group_ids = {}
            found = [f"<!subteam^{self._group_ids[h]}>" for h in handles if h in self._group_ids]
            if found:
                return " ".join(found)
        people = [f"<@{m}>" for m in self._moderators if not m.startswith("@")][:10]
        return " ".join(people) or "Moderators:"


def _action_for(
    decision: str, entity_type: str | None, reason: str
) -> tuple[str, dict[str, Any] | None]:
    """The `submit_action` a decision is for an item. ⚠ `kick_user` and `end_call` have no
    payload and presumably act on a call item; on a user item they become `mark_reviewed`, as
    does a ban already made through callmod's /ban (sending `ban` would ban a second time)."""
    if decision in ("kick_user", "end_call") and entity_type in (None, "stream:v1:call"):
        return decision, None
    return "mark_reviewed", {"decision_reason": reason[:500]}


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
