"""Stream's moderation event payloads: both shapes of every field the reference marks uncertain
(stream-next-features.md §5–§6) are read the same way (issue 15, points 1 and 6)."""

from __future__ import annotations

import pytest

from bot.moderation.alerts.findings import FindingKind, finding_of
from bot.stream.events import (
    CallModerationEvent,
    EventError,
    ModerationRuleTriggered,
    ReviewItemEvent,
    parse_event,
)

AT = "2026-12-02T09:00:00Z"


def item_event(**item: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "rq1", "entity_type": "stream:v1:call", "entity_id": "call-123", "status": "pending"
    }
    return {"type": "review_queue_item.new", "created_at": AT, "custom": {},
            "review_queue_item": {**base, **item}}


@pytest.mark.parametrize(
    "labels", [["nudity", "violence"], {"nudity": 0.9, "violence": 0.2},
               [{"label": "nudity"}, {"name": "violence"}]]
)
def test_labels_in_any_shape(labels: object) -> None:
    event = parse_event(item_event(flags=[{"type": "flag", "labels": labels, "result": []}]))
    assert isinstance(event, ReviewItemEvent)
    found = finding_of(event)
    assert found is not None and found.labels == ("nudity", "violence")


@pytest.mark.parametrize(
    ("severity", "shown"), [(3, "3"), ("high", "high"), (2.0, "2"), (None, None)]
)
def test_severity_as_number_or_word(severity: object, shown: str | None) -> None:
    event = parse_event(item_event(severity=severity))
    assert isinstance(event, ReviewItemEvent)
    assert event.review_queue_item.severity == shown


@pytest.mark.parametrize(
    ("entity_id", "call", "cid"),
    [("call-123", None, "default:call-123"), ("livestream:c9", None, "livestream:c9"),
     ("whatever", {"cid": "default:call-7"}, "default:call-7")],
)
def test_call_items_name_their_call_by_id_cid_or_call(
    entity_id: str, call: object, cid: str
) -> None:
    event = parse_event(item_event(entity_id=entity_id, call=call, entity_creator_id="sara"))
    assert isinstance(event, ReviewItemEvent)
    found = finding_of(event)
    assert found is not None and found.call_cid == cid and found.user_id == "sara"


def test_reviewed_by_as_id_or_user_and_texts_as_strings_or_objects() -> None:
    event = parse_event(
        {**item_event(
            reviewed_by={"id": "dash-mod", "name": "Dana"},
            moderation_payload={"texts": ["a", {"text": "b"}], "images": [{"url": "https://x"}]},
            status="reviewed",
        ), "type": "review_queue_item.updated"}
    )
    assert isinstance(event, ReviewItemEvent)
    found = finding_of(event)
    assert found is not None and found.decided is not None and found.decided.by == "dash-mod"
    assert found.texts == ("a", "b") and found.images == ("https://x",)


def test_dates_as_rfc3339_or_nanoseconds() -> None:
    rfc = parse_event({"type": "call.moderation_blur", "created_at": AT, "call_cid": "default:c",
                       "user_id": "sara", "custom": {}})
    nanos = parse_event({"type": "call.moderation_blur", "created_at": 1_796_202_000_000_000_000,
                         "call_cid": "default:c", "user_id": "sara", "custom": {}})
    assert isinstance(rfc, CallModerationEvent) and isinstance(nanos, CallModerationEvent)
    assert finding_of(rfc) is not None and finding_of(nanos) is not None
    assert finding_of(nanos).kind is FindingKind.BLUR  # type: ignore[union-attr]


def test_a_rule_without_an_item_or_contents_is_still_read() -> None:
    event = parse_event({"type": "moderation_rule.triggered", "created_at": AT, "custom": {},
                         "rule": {"name": "Hate"}, "entity_id": "sara",
                         "entity_type": "stream:user", "user_id": "sara",
                         "triggered_actions": []})
    assert isinstance(event, ModerationRuleTriggered)
    found = finding_of(event)
    assert found is not None and found.call_cid is None and found.item_id is None


def test_a_missing_field_is_named() -> None:
    with pytest.raises(EventError) as bad:
        parse_event({"type": "moderation_rule.triggered", "created_at": AT, "rule": {},
                     "entity_id": "x", "entity_type": "stream:user"})
    assert bad.value.field == "user_id"
