"""One alert: what Stream found about a user in a call, every hit counted, and its decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from bot.moderation.alerts.findings import Decided, Finding, FindingKind

KEEP_TEXTS = 3  # the newest matched texts and frames a card shows
KEEP_IMAGES = 3


class Status(Enum):
    OPEN = "open"
    CLAIMED = "claimed"  # a moderator's decision is on its way to Stream
    ACTIONED = "actioned"  # a moderator acted (kick, mute, ban, end call): a case
    REVIEWED = "reviewed"  # a moderator looked and did nothing
    DECIDED_IN_STREAM = "decided_in_stream"  # someone decided it in Stream's dashboard

    @property
    def undecided(self) -> bool:
        return self in (Status.OPEN, Status.CLAIMED)


@dataclass(eq=False)
class Alert:
    id: str
    key: tuple[str, str]
    user_id: str | None
    call_cid: str | None
    opened_at: float  # our clock
    stream_at: float  # Stream's created_at of the first hit
    user_name: str | None = None
    last_at: float = 0.0
    hits: int = 0
    kinds: dict[FindingKind, int] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    severity: str | None = None
    texts: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    stream_actions: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    reporters: list[str] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)
    entity_types: dict[str, str] = field(default_factory=dict)  # item id -> entity type
    earlier: str | None = None  # "2 earlier cases (1 kick, 1 mute) · 3rd alert"
    status: Status = Status.OPEN
    handled_by: str | None = None
    decision: str | None = None  # the line that replaces the buttons (mrkdwn)
    decided_at: float | None = None
    problem: str | None = None  # why the last decision did not go through (mrkdwn)
    escalated: bool = False
    decision_detail: Decided | None = None  # a decision made in Stream's dashboard
    _item_kinds: dict[str, dict[FindingKind, int]] = field(default_factory=dict)

    def add(self, finding: Finding, now: float) -> None:
        """Count one more hit. A finding that only records a decision is not one; a rule's
        trigger and the review item event it causes are one hit together: per item, a finding
        counts when its kind has now been seen more often than any other kind."""
        hit = finding.new_flag
        if finding.item_id:
            if finding.item_id not in self.item_ids:
                self.item_ids.append(finding.item_id)
                if finding.entity_type:
                    self.entity_types[finding.item_id] = finding.entity_type
            seen = self._item_kinds.setdefault(finding.item_id, {})
            if finding.new_flag:
                seen[finding.kind] = seen.get(finding.kind, 0) + 1
                others = max((n for k, n in seen.items() if k is not finding.kind), default=0)
                hit = seen[finding.kind] > others
        if not finding.new_flag:
            return
        self.last_at = now
        if hit:
            self.hits += 1
            self.kinds[finding.kind] = self.kinds.get(finding.kind, 0) + 1
        self.user_name = self.user_name or finding.user_name
        _merge(self.rules, (finding.rule,) if finding.rule else ())
        _merge(self.labels, finding.labels)
        _merge(self.stream_actions, finding.stream_actions)
        _merge(self.messages, (finding.message,) if finding.message else ())
        _merge(self.reporters, (finding.reporter,) if finding.reporter else ())
        self.severity = finding.severity or self.severity
        self.texts = [*self.texts, *finding.texts][-KEEP_TEXTS:]
        self.images = [*self.images, *finding.images][-KEEP_IMAGES:]

    def decided_in_stream(self, decided: Decided, now: float) -> None:
        self.status = Status.DECIDED_IN_STREAM
        self.decided_at = now
        self.handled_by = None
        self.problem = None
        self.decision_detail = decided


def _merge(into: list[str], values: tuple[str, ...] | list[str]) -> None:
    for value in values:
        if value not in into:
            into.append(value)
    del into[:-20]  # a flood of distinct labels keeps the newest 20
