"""What a replica shares of a timed ban is enough for another to announce its expiry."""

from __future__ import annotations

import pytest

from bot.core.model import Actor, Role
from bot.moderation.bans.record import BanRecord, StreamActor
from bot.moderation.bans.shared_expiry import from_payload, to_payload


@pytest.mark.parametrize(
    "by",
    [Actor("U0MODER01", "tom", Role.MODERATOR), StreamActor("dashboard-admin"), StreamActor(None)],
)
def test_a_shared_ban_reads_back_as_announced(by: Actor | StreamActor) -> None:
    record = BanRecord(
        user_id="sara",
        banned_by=by,
        reason="spam <!channel>",
        ip_ban=True,
        created_at=1_800_000_000.5,
        expires_at=1_800_003_600.5,
        source="webhook",
        channel="C0MODLOG",
        message_ts="1800000000.000100",
        case_number=41,
        history="2nd ban",
    )
    back = from_payload("sara", to_payload(record))
    assert (back.user_id, back.reason, back.ip_ban, back.source) == (
        "sara", "spam <!channel>", True, "webhook"
    )
    assert (back.created_at, back.expires_at) == (record.created_at, record.expires_at)
    assert (back.channel, back.message_ts, back.case_number, back.history) == (
        "C0MODLOG", "1800000000.000100", 41, "2nd ban"
    )
    if isinstance(by, Actor):
        assert isinstance(back.banned_by, Actor)
        assert (back.banned_by.user_id, back.banned_by.user_name) == (by.user_id, by.user_name)
    else:
        assert back.banned_by == by
    # Expiry progress is not shared: the case store says what was done.
    assert (back.lifted, back.message_closed, back.line_posted, back.expiry_case) == (
        False, False, False, None
    )
