"""The values that cross the case store's boundary check themselves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.cases import Actor, Kind, NewCase, Outcome, Source


@pytest.mark.parametrize(
    ("source", "moderator"),
    [(Source.SLACK, None), (Source.STREAM, Actor("U1", "m")), (Source.CALLMOD, Actor("U1", "m"))],
)
def test_a_moderator_exactly_when_the_source_is_slack(
    source: Source, moderator: Actor | None
) -> None:
    with pytest.raises(ValueError, match="moderator"):
        NewCase(kind=Kind.KICK, source=source, outcome=Outcome.DONE, request_id="r",
                moderator=moderator)  # fmt: skip


def test_naive_expiry_and_negative_durations_are_refused() -> None:
    base = {"kind": Kind.BAN, "source": Source.STREAM, "outcome": Outcome.DONE, "request_id": "r"}
    with pytest.raises(ValueError, match="timezone"):
        NewCase(**base, expires_at=datetime(2027, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        NewCase(**base, duration_seconds=-1)  # type: ignore[arg-type]
    NewCase(**base, duration_seconds=0, expires_at=datetime(2027, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]


def test_kinds_are_stable_strings() -> None:
    assert {kind.value for kind in Kind} >= {
        "kick", "block", "unblock", "mute", "mute_all", "screenshare", "grant", "revoke", "ban",
        "unban", "deactivate", "reactivate", "user_block", "user_unblock", "request_approved",
        "request_denied", "ban_expired",
    }  # fmt: skip
    assert Kind("mute_all") is Kind.MUTE_ALL and f"{Kind.BAN}" == "ban"
